// ControlServer and ControlClient: the firewall's control socket, a Unix
// stream socket (unix(7): AF_UNIX, SOCK_STREAM; socket(2), bind(2), listen(2),
// accept4(2), connect(2); SO_RCVTIMEO/SO_SNDTIMEO of socket(7); MSG_NOSIGNAL).
//
// Protocol: the client connects, sends one request line (UTF-8, '\n'-ended,
// at most 4096 bytes with the newline), the server writes the whole response
// text and closes; the client reads to EOF. Example: `tunwall list ruleset
// --socket /run/tunwall/tunwall.sock` sends "list ruleset\n" and prints what
// comes back.
//
// The server runs on the firewall's one thread, so each connection is served
// with blocking reads and writes bounded by 2 s timeouts: a client that says
// nothing, or never reads, costs the packet path at most a few seconds.
// Every send uses MSG_NOSIGNAL: a client that hangs up early must not raise
// SIGPIPE, whose default action would end the firewall.
import Conntrack
import Engine
import CTunwall
import Glibc
import SystemIO

/// Largest request line, newline included.
let controlRequestLimit = 4096

/// What a request gets: a text and the connection closed, or a text and the
/// connection kept open for everything `broadcast` sends later (a stream
/// such as `conntrack -E`; `events` chooses the conntrack events it gets,
/// as `conntrack -E -p tcp -e NEW` does; nil: all of them).
public enum ControlReply: Sendable {
    case text(String)
    case subscribe(String, events: ConntrackQuery? = nil)
    /// `monitor trace`: the traces of packets a rule marked (`meta nftrace
    /// set 1`), or with `all`, of every packet (tracing everything while
    /// such a client is connected).
    case subscribeTraces(String, all: Bool)
}

/// What a stream client follows.
enum StreamSubscription {
    /// conntrack events (nil: all of them).
    case events(ConntrackQuery?)
    /// trace records: marked ones, or all.
    case traces(all: Bool)
}

/// The listening side of the control socket. Not Sendable: the event loop's
/// thread owns it.
public final class ControlServer {
    /// The socket's path; `close()` unlinks it.
    public let path: String
    /// The listening fd (non-blocking, for the EventLoop); -1 after `close()`.
    public private(set) var fileDescriptor: Int32
    /// Device and inode of the socket file we bound, so `close()` unlinks only
    /// our own file, not one a later server put in its place.
    private let boundFile: (device: UInt64, inode: UInt64)
    /// Connections kept open for `broadcast` (stream requests), with the
    /// events each asked for.
    private var subscribers: [(fd: Int32, follows: StreamSubscription)] = []

    /// How many clients listen to `broadcast`.
    public var subscriberCount: Int { subscribers.count }

    /// How many follow conntrack events, and traces (marked; all).
    public private(set) var eventSubscriberCount = 0
    public private(set) var traceSubscriberCount = 0
    public private(set) var allTraceSubscriberCount = 0

    /// Binds a Unix stream socket at `path` with mode 0600 and listens.
    /// A socket file nobody listens on (a crashed run's) is unlinked first;
    /// a path where a server answers is refused with EADDRINUSE, and a path
    /// that is not a socket (a regular file, say) with EEXIST: never delete
    /// what is not ours. Put the socket in a directory only root can enter
    /// (/run/tunwall, mode 0700) for defence in depth.
    public init(path: String) throws(SystemError) {
        self.path = path
        var address = try unixAddress(path, call: "bind")
        try Self.removeStaleSocket(path, address: address)

        let fd = Int32(try Syscall.require("socket(AF_UNIX)") {
            Int(socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0))
        })
        do {
            // On Linux the socket file takes the socket inode's mode at bind
            // (masked by umask), so fchmod first leaves no moment in which
            // others may connect; chmod after bind then makes it exactly 0600.
            _ = fchmod(fd, 0o600)
            _ = try Syscall.require("bind(\(path))") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Int(bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)))
                    }
                }
            }
            _ = try Syscall.require("chmod(\(path))") { Int(chmod(path, 0o600)) }
            var status = stat()
            _ = try Syscall.require("stat(\(path))") { Int(lstat(path, &status)) }
            boundFile = (UInt64(status.st_dev), UInt64(status.st_ino))
            _ = try Syscall.require("listen(\(path))") { Int(listen(fd, 16)) }
        } catch {
            Syscall.close(fd)
            throw error
        }
        fileDescriptor = fd
    }

    deinit { close() }

    /// Accepts every pending connection; for each, reads the request line
    /// (blocking reads with a 2 s SO_RCVTIMEO, and 2 s SO_SNDTIMEO for the
    /// reply), calls `handler(request)` (without the newline, and without a
    /// '\r' before it), writes the response fully and closes. A request over
    /// 4096 bytes or not UTF-8 gets an "error: ..." line instead; a client that
    /// stays silent or hangs up gets nothing. Never throws: one bad client must
    /// not stop the firewall.
    public func acceptPending(_ handler: (String) -> String) {
        acceptPending { (request: String) -> ControlReply in .text(handler(request)) }
    }

    /// The same, for handlers that may answer with a stream.
    public func acceptPending(_ handler: (String) -> ControlReply) {
        while fileDescriptor >= 0 {
            let listener = fileDescriptor
            let accepted: Int?
            do throws(SystemError) {
                accepted = try Syscall.call("accept4(\(path))") { Int(ctw_accept_cloexec(listener)) }
            } catch {
                // ECONNABORTED and the like concern that one client: go on.
                // EMFILE/ENFILE would repeat at once: leave it to the next wakeup.
                if error.errno == ECONNABORTED || error.errno == EPROTO || error.errno == EPERM { continue }
                return
            }
            guard let client = accepted.map({ Int32($0) }) else { return }  // EAGAIN: none left
            if let follows = serve(client, handler) {
                subscribers.append((client, follows))
                recount()
            } else {
                Syscall.close(client)
            }
        }
    }

    /// Sends `text` to every stream client without ever waiting: a client
    /// that has gone, or cannot keep up (its socket buffer full), is dropped.
    public func broadcast(_ text: String) {
        broadcast { _ in text }
    }

    /// Sends each stream client the conntrack events it asked for, one
    /// `conntrack -E` line each.
    public func broadcast(events: [ConntrackEvent]) {
        broadcast { follows in
            guard case .events(let query) = follows else { return "" }
            return events.filter { query?.shows($0) ?? true }.map { $0.line + "\n" }.joined()
        }
    }

    /// Sends each `monitor trace` client its records, narrated
    /// (TraceRecord.monitorLines): the marked ones, or all of them.
    public func broadcast(traces: [TraceRecord]) {
        guard traceSubscriberCount > 0 else { return }
        var marked: String? = nil
        var all: String? = nil
        broadcast { follows in
            guard case .traces(let wantsAll) = follows else { return "" }
            if wantsAll {
                if all == nil { all = traces.map { $0.monitorLines.joined(separator: "\n") + "\n" }.joined() }
                return all ?? ""
            }
            if marked == nil {
                marked = traces.filter { $0.mark != nil }.map { $0.monitorLines.joined(separator: "\n") + "\n" }.joined()
            }
            return marked ?? ""
        }
    }

    /// A client that has hung up, or whose socket buffer is full (it does
    /// not read fast enough), is dropped at once: the firewall never waits
    /// for a stream client (MSG_DONTWAIT), and never gets SIGPIPE from one
    /// (MSG_NOSIGNAL). A client that had part of a piece only is dropped
    /// too, so that no client ever reads half a line as a whole one.
    private func broadcast(_ render: (StreamSubscription) -> String) {
        guard !subscribers.isEmpty else { return }
        let before = subscribers.count
        subscribers.removeAll { subscriber in
            let bytes = Array(render(subscriber.follows).utf8)
            if bytes.isEmpty { return false }
            let sent = bytes.withUnsafeBytes { Glibc.send(subscriber.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if sent == bytes.count { return false }
            Syscall.close(subscriber.fd)
            return true
        }
        if subscribers.count != before { recount() }
    }

    /// Drops stream clients that have hung up without waiting for something
    /// to send them (a zero-byte peek says EOF; poll(2)'s POLLHUP/POLLERR
    /// say a reset): a `monitor trace` client that leaves while no marked
    /// packet comes must stop the tracing it asked for.
    public func dropHungUpSubscribers() {
        guard !subscribers.isEmpty else { return }
        let before = subscribers.count
        subscribers.removeAll { subscriber in
            var probe = pollfd(fd: subscriber.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&probe, 1, 0) > 0 else { return false }
            var byte: UInt8 = 0
            let peeked = recv(subscriber.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            let gone = probe.revents & Int16(POLLHUP | POLLERR) != 0 || peeked == 0
                || (peeked < 0 && Glibc.errno != EAGAIN && Glibc.errno != EINTR)
            if gone { Syscall.close(subscriber.fd) }
            return gone
        }
        if subscribers.count != before { recount() }
    }

    private func recount() {
        eventSubscriberCount = 0
        traceSubscriberCount = 0
        allTraceSubscriberCount = 0
        for subscriber in subscribers {
            switch subscriber.follows {
            case .events: eventSubscriberCount += 1
            case .traces(let all):
                traceSubscriberCount += 1
                if all { allTraceSubscriberCount += 1 }
            }
        }
    }

    /// Closes the listening socket and unlinks `path` (if it is still our file). Idempotent.
    public func close() {
        guard fileDescriptor >= 0 else { return }
        for subscriber in subscribers { Syscall.close(subscriber.fd) }
        subscribers.removeAll()
        recount()
        Syscall.close(fileDescriptor)
        fileDescriptor = -1
        var status = stat()
        if lstat(path, &status) == 0, UInt64(status.st_dev) == boundFile.device, UInt64(status.st_ino) == boundFile.inode {
            unlink(path)
        }
    }

    /// Serves one request; what it follows if the client stays as a stream
    /// subscriber, nil if it goes.
    private func serve(_ client: Int32, _ handler: (String) -> ControlReply) -> StreamSubscription? {
        setTimeouts(client, seconds: 2)
        let reply: ControlReply
        switch readRequestLine(client, limit: controlRequestLimit) {
        case .line(let request): reply = handler(request)
        case .tooLong: reply = .text("error: request longer than \(controlRequestLimit) bytes\n")
        case .notUTF8: reply = .text("error: request is not UTF-8\n")
        case .none: return nil
        }
        switch reply {
        case .text(let response):
            _ = try? writeAll(client, response, call: "send(\(path))")
            return nil
        case .subscribe(let greeting, let events):
            guard (try? writeAll(client, greeting, call: "send(\(path))")) != nil else { return nil }
            return .events(events)
        case .subscribeTraces(let greeting, let all):
            guard (try? writeAll(client, greeting, call: "send(\(path))")) != nil else { return nil }
            return .traces(all: all)
        }
    }

    /// Connect first: if a server answers, the path is taken; if nobody does
    /// (ECONNREFUSED on a socket file) the file is a leftover and goes.
    private static func removeStaleSocket(_ path: String, address: sockaddr_un) throws(SystemError) {
        var status = stat()
        if lstat(path, &status) != 0 { return }  // nothing there (or unreadable: bind will say)
        guard status.st_mode & S_IFMT == S_IFSOCK else { throw SystemError(call: "bind(\(path))", errno: EEXIST) }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        if probe < 0 { throw SystemError(call: "socket(AF_UNIX)", errno: Glibc.errno) }
        defer { Syscall.close(probe) }
        var address = address
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        // Non-blocking connect to a listening Unix socket succeeds at once, or
        // says EAGAIN when its backlog is full: either way someone is there.
        if result == 0 || Glibc.errno == EAGAIN { throw SystemError(call: "bind(\(path))", errno: EADDRINUSE) }
        if Glibc.errno == ECONNREFUSED { unlink(path) }
    }
}

/// The client side: one request, one response (or a stream).
public enum ControlClient {
    /// Sends `request` and hands every chunk that arrives to `output` until
    /// the server closes (a stream such as `conntrack -E` runs until the
    /// firewall stops or the user interrupts).
    public static func stream(_ request: String, to path: String, output: (String) -> Void) throws(SystemError) {
        var address = try unixAddress(path, call: "connect")
        let fd = Int32(try Syscall.require("socket(AF_UNIX)") {
            Int(socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
        })
        defer { Syscall.close(fd) }
        _ = try Syscall.require("connect(\(path))") {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Int(connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)))
                }
            }
        }
        try writeAll(fd, request + "\n", call: "send(\(path))")
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 1)
        defer { chunk.deallocate() }
        while true {
            guard let count = try Syscall.call("recv(\(path))", { recv(fd, chunk.baseAddress, chunk.count, 0) }),
                  count > 0 else { return }
            output(String(decoding: chunk[0..<count], as: UTF8.self))
        }
    }

    /// Connects to `path`, sends `request` + "\n", reads the response to EOF.
    /// Errors name the call and the path, e.g. "connect(/run/tunwall/x.sock):
    /// No such file or directory"; a server silent for `timeoutSeconds` gives
    /// "recv(PATH): Connection timed out" (ETIMEDOUT). A request with a newline
    /// in it or longer than 4095 bytes is refused with EINVAL before connecting.
    public static func send(_ request: String, to path: String, timeoutSeconds: Int = 10) throws(SystemError) -> String {
        if request.utf8.contains(UInt8(ascii: "\n")) || request.utf8.count >= controlRequestLimit {
            throw SystemError(call: "send(\(path))", errno: EINVAL)
        }
        var address = try unixAddress(path, call: "connect")
        let fd = Int32(try Syscall.require("socket(AF_UNIX)") {
            Int(socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
        })
        defer { Syscall.close(fd) }
        setTimeouts(fd, seconds: timeoutSeconds)
        // A Unix connect blocks (up to SO_SNDTIMEO) only while the backlog is full.
        _ = try Syscall.require("connect(\(path))") {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Int(connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)))
                }
            }
        }
        try writeAll(fd, request + "\n", call: "send(\(path))")

        var response: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 1)
        defer { chunk.deallocate() }
        while true {
            let count = try Syscall.call("recv(\(path))") { recv(fd, chunk.baseAddress, chunk.count, 0) }
            guard let count else { throw SystemError(call: "recv(\(path))", errno: ETIMEDOUT) }
            if count == 0 { break }
            response.append(contentsOf: chunk[0..<count])
            // A sane response is kilobytes; refuse to grow without bound.
            if response.count > 64 << 20 { throw SystemError(call: "recv(\(path))", errno: EFBIG) }
        }
        return String(decoding: response, as: UTF8.self)
    }
}

// MARK: - Shared helpers

/// sockaddr_un for `path`; ENAMETOOLONG if it does not fit sun_path (108 bytes
/// with the NUL), EINVAL for an empty path or one with a NUL in it.
private func unixAddress(_ path: String, call: String) throws(SystemError) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    if bytes.isEmpty || bytes.contains(0) { throw SystemError(call: "\(call)(\(path))", errno: EINVAL) }
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    if bytes.count >= capacity { throw SystemError(call: "\(call)(\(path))", errno: ENAMETOOLONG) }
    withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
        sunPath.copyBytes(from: bytes)
    }
    return address
}

/// SO_RCVTIMEO and SO_SNDTIMEO; 0 or less means no timeout.
private func setTimeouts(_ fd: Int32, seconds: Int) {
    var timeout = timeval(tv_sec: max(0, seconds), tv_usec: 0)
    let size = socklen_t(MemoryLayout<timeval>.size)
    _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, size)
    _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, size)
}

/// send(2) until every byte is out; a timeout (EAGAIN under SO_SNDTIMEO) is ETIMEDOUT.
private func writeAll(_ fd: Int32, _ text: String, call: @autoclosure () -> String) throws(SystemError) {
    let bytes = Array(text.utf8)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
    defer { buffer.deallocate() }
    buffer.copyBytes(from: bytes)
    var offset = 0
    while offset < bytes.count {
        let start = offset
        let sent = try Syscall.call(call()) {
            Glibc.send(fd, buffer.baseAddress! + start, bytes.count - start, Int32(MSG_NOSIGNAL))
        }
        guard let sent else { throw SystemError(call: call(), errno: ETIMEDOUT) }
        offset += sent
    }
}

private enum RequestLine {
    case line(String), tooLong, notUTF8
}

/// Reads up to `limit` bytes until a '\n'. nil when the client hung up before
/// a newline, the receive timed out, or the whole exchange took over 4 s
/// (SO_RCVTIMEO bounds each recv, not a client trickling a byte at a time).
private func readRequestLine(_ fd: Int32, limit: Int) -> RequestLine? {
    var bytes = [UInt8](repeating: 0, count: limit)
    var length = 0
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    while length < limit {
        let offset = length
        let received = bytes.withUnsafeMutableBytes { buffer in
            try? Syscall.call("recv") { recv(fd, buffer.baseAddress! + offset, buffer.count - offset, 0) }
        }
        guard let received = received ?? nil, received > 0 else { return nil }
        if let newline = bytes[length..<(length + received)].firstIndex(of: UInt8(ascii: "\n")) {
            var line = bytes[0..<newline]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard let text = String(validating: line, as: UTF8.self) else { return .notUTF8 }
            return .line(text)
        }
        length += received
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        if now.tv_sec - start.tv_sec > 4 { return nil }
    }
    return .tooLong
}

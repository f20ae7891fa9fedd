// FTPSocket: the TCP sockets of the FTP peers, on Glibc directly
// (Foundation's networking is not reliable inside the lab's namespaces).
//
// Every descriptor is non-blocking and every wait is a poll(2) with a
// deadline, so no call waits longer than the timeout its caller gives: a
// firewall that loses a data connection costs seconds, never a hung test.
// Sends use MSG_NOSIGNAL: a peer that hangs up is an error to report, not a
// SIGPIPE (a test runner that calls the peers in process does not ignore it).

#if canImport(Glibc)
import Glibc
#endif
import SystemIO

/// A failed or timed-out socket operation, as one line: "connect to
/// 10.0.1.2:50000: Connection refused", "no data connection within 15 s".
struct FTPIOError: Error, CustomStringConvertible {
    let description: String
    var timedOut = false
    /// A control line longer than FTPLineReader allows.
    var lineTooLong = false

    init(_ description: String, timedOut: Bool = false, lineTooLong: Bool = false) {
        self.description = description
        self.timedOut = timedOut
        self.lineTooLong = lineTooLong
    }

    static func system(_ what: String, _ code: Int32) -> FTPIOError {
        FTPIOError("\(what): \(String(cString: strerror(code)))")
    }
}

/// A point in time on the monotonic clock, for the polls.
struct Deadline {
    let end: Double

    init(after seconds: Double) {
        end = Deadline.now() + max(0, seconds)
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// For poll(2): milliseconds left, rounded up, 0 once passed.
    var milliseconds: Int32 {
        let left = ((end - Deadline.now()) * 1000).rounded(.up)
        return left <= 0 ? 0 : Int32(min(left, Double(Int32.max)))
    }
}

/// "15 s", "0.5 s": a timeout as the messages say it.
func seconds(_ value: Double) -> String {
    value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
}

/// poll(2) on several descriptors until one is ready or the deadline
/// passes: the indices of the ready ones (empty after the deadline). Errors
/// and hang-ups count as ready: the next read or write reports them.
func pollReady(_ descriptors: [(fd: Int32, events: Int16)], until deadline: Deadline) -> [Int] {
    var fds = descriptors.map { pollfd(fd: $0.fd, events: $0.events, revents: 0) }
    while true {
        let result = poll(&fds, nfds_t(fds.count), deadline.milliseconds)
        if result < 0 && errno == EINTR { continue }
        if result <= 0 { return [] }
        return fds.indices.filter { fds[$0].revents != 0 }
    }
}

let readable = Int16(POLLIN)
let writable = Int16(POLLOUT)

final class FTPSocket {
    private(set) var fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        close()
    }

    /// Takes over a descriptor (from accept): made non-blocking and close-on-exec.
    static func adopt(_ fd: Int32) -> FTPSocket {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return FTPSocket(fd: fd)
    }

    func close() {
        Syscall.close(fd)
        fd = -1
    }

    /// Gives the descriptor up: the caller closes it.
    func detach() -> Int32 {
        defer { fd = -1 }
        return fd
    }

    private static func make(_ family: Int32) throws(FTPIOError) -> FTPSocket {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(family, type, 0)
        guard fd >= 0 else { throw FTPIOError.system("socket", errno) }
        return FTPSocket(fd: fd)
    }

    private func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    private func bind(_ endpoint: FTPEndpoint) throws(FTPIOError) {
        let result = endpoint.withSocketAddress { Glibc.bind(fd, $0, $1) }
        guard result == 0 else { throw FTPIOError.system("bind \(endpoint)", errno) }
    }

    /// A listening socket on `endpoint` (port 0: one the kernel picks).
    /// SO_REUSEADDR, so a server started again at once gets its port back
    /// from connections still in TIME_WAIT. On the wildcard `::` it takes
    /// IPv4 too (IPV6_V6ONLY off, whatever the sysctl says).
    static func listen(on endpoint: FTPEndpoint, backlog: Int32 = 16) throws(FTPIOError) -> FTPSocket {
        let socket = try make(endpoint.family)
        socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
        if case .v6(let a) = endpoint.address, a.isUnspecified {
            socket.setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0)
        }
        try socket.bind(endpoint)
        guard Glibc.listen(socket.fd, backlog) == 0 else { throw FTPIOError.system("listen on \(endpoint)", errno) }
        return socket
    }

    /// Connects to `endpoint` within `timeout` seconds, from `source` if given.
    /// `reuseAddress` lets several data connections leave from one port (20)
    /// at once, each to another peer port, as RFC 959's active mode has them:
    /// bind(2) refuses a port in use without it.
    static func connect(to endpoint: FTPEndpoint, from source: FTPEndpoint? = nil, reuseAddress: Bool = false,
                        timeout: Double) throws(FTPIOError) -> FTPSocket {
        let socket = try make(endpoint.family)
        if reuseAddress { socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1) }
        if let source { try socket.bind(source) }
        let result = endpoint.withSocketAddress { Glibc.connect(socket.fd, $0, $1) }
        if result != 0 {
            guard errno == EINPROGRESS || errno == EINTR else { throw FTPIOError.system("connect to \(endpoint)", errno) }
            guard !pollReady([(socket.fd, writable)], until: Deadline(after: timeout)).isEmpty else {
                throw FTPIOError("connect to \(endpoint): no answer within \(seconds(timeout))", timedOut: true)
            }
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(socket.fd, SOL_SOCKET, SO_ERROR, &code, &length)
            guard code == 0 else { throw FTPIOError.system("connect to \(endpoint)", code) }
        }
        return socket
    }

    /// Whether a connection waits to be accepted now.
    var hasPendingConnection: Bool {
        !pollReady([(fd, readable)], until: Deadline(after: 0)).isEmpty
    }

    /// The next connection within `timeout` seconds; `what` names it in the error.
    func accept(timeout: Double, what: String) throws(FTPIOError) -> FTPSocket {
        let deadline = Deadline(after: timeout)
        while true {
            let accepted = Glibc.accept(fd, nil, nil)
            if accepted >= 0 { return FTPSocket.adopt(accepted) }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK:
                guard !pollReady([(fd, readable)], until: deadline).isEmpty else {
                    throw FTPIOError("no \(what) within \(seconds(timeout))", timedOut: true)
                }
            default:
                throw FTPIOError.system("accept", errno)
            }
        }
    }

    /// This end, as getsockname(2) says.
    var localEndpoint: FTPEndpoint? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return result == 0 ? FTPEndpoint(storage) : nil
    }

    /// The other end, as getpeername(2) says.
    var peerEndpoint: FTPEndpoint? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        return result == 0 ? FTPEndpoint(storage) : nil
    }

    /// Sends all of `bytes`, waiting at most `timeout` seconds each time the
    /// peer's window is full.
    func send(_ bytes: UnsafeRawBufferPointer, timeout: Double) throws(FTPIOError) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n > 0 {
                offset += n
                continue
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                guard !pollReady([(fd, writable)], until: Deadline(after: timeout)).isEmpty else {
                    throw FTPIOError("the peer took nothing for \(seconds(timeout))", timedOut: true)
                }
            default:
                throw FTPIOError.system("send", errno)
            }
        }
    }

    func send(_ bytes: some Collection<UInt8>, timeout: Double) throws(FTPIOError) {
        // (withContiguousStorageIfAvailable rethrows untyped errors: carry ours out by hand.)
        var failure: FTPIOError?
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            do throws(FTPIOError) { try send(UnsafeRawBufferPointer(buffer), timeout: timeout) } catch { failure = error }
        }
        if done == nil {
            Array(bytes).withUnsafeBytes { buffer in
                do throws(FTPIOError) { try send(buffer, timeout: timeout) } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }

    /// Up to `buffer.count` bytes, waiting at most `timeout` seconds for the
    /// first; 0 at the end of the stream.
    func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: Double) throws(FTPIOError) -> Int {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n >= 0 { return n }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                guard !pollReady([(fd, readable)], until: Deadline(after: timeout)).isEmpty else {
                    throw FTPIOError("nothing received for \(seconds(timeout))", timedOut: true)
                }
            default:
                throw FTPIOError.system("recv", errno)
            }
        }
    }

    /// Receives into `chunk` (up to its size); the count, 0 at the end of the stream.
    func receive(into chunk: inout [UInt8], timeout: Double) throws(FTPIOError) -> Int {
        var failure: FTPIOError?
        let n = chunk.withUnsafeMutableBytes { buffer in
            do throws(FTPIOError) { return try receive(into: buffer, timeout: timeout) } catch { failure = error; return 0 }
        }
        if let failure { throw failure }
        return n
    }

    /// Our FIN: the peer reads the end of the stream (STOR's end of file).
    func shutdownWrite() {
        _ = shutdown(fd, Int32(SHUT_WR))
    }
}

/// The control connection's lines, CRLF (or a bare LF) removed. Text is read
/// as UTF-8 (RFC 2640); bytes that are not become U+FFFD.
final class FTPLineReader {
    let socket: FTPSocket
    /// A longer line is refused: RFC 959 sets no limit, but nothing legitimate
    /// comes near it, and an endless line must not grow memory without end.
    static let maximumLineLength = 8192
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 4096)

    init(_ socket: FTPSocket) {
        self.socket = socket
    }

    /// Whether a whole line is already buffered (no read needed).
    var hasLine: Bool { buffer.contains(UInt8(ascii: "\n")) }

    /// The next line, nil at the end of the stream; waits at most `timeout`
    /// seconds for each read. An unfinished line at the end is returned whole.
    func readLine(timeout: Double) throws(FTPIOError) -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = buffer[..<newline]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                buffer.removeSubrange(...newline)
                return text
            }
            guard buffer.count <= Self.maximumLineLength else {
                throw FTPIOError("a line longer than \(Self.maximumLineLength) bytes", lineTooLong: true)
            }
            let n = try socket.receive(into: &chunk, timeout: timeout)
            if n == 0 {
                guard !buffer.isEmpty else { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// Sends one line with CRLF.
    func send(_ line: String, timeout: Double) throws(FTPIOError) {
        try socket.send(Array((line + "\r\n").utf8), timeout: timeout)
    }
}

// Tests of ControlServer and ControlClient (unix(7) stream sockets) on paths
// in a fresh temporary directory: round trip, mode 0600, stale and live
// sockets, a path that is not a socket, bad requests, silent clients.
import Foundation
import Glibc
@testable import Conntrack
import Testing
import Wire

@testable import TunIO
import SystemIO

@Suite struct ControlSocketTests {
    @Test func roundTripThroughControlClient() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/ctl.sock"
        let server = try ControlServer(path: path)
        defer { server.close() }
        #expect(server.path == path)

        let reply = onThread { Result { () throws(SystemError) -> String in try ControlClient.send("list ruleset", to: path) } }
        let loop = try EventLoop()
        try loop.add(server.fileDescriptor, token: 0)
        var tokens: [Int] = []
        #expect(try loop.wait(timeoutMilliseconds: 5000) { tokens.append($0) } == 1)
        #expect(tokens == [0])
        var requests: [String] = []
        server.acceptPending { request in
            requests.append(request)
            return "table inet filter {\n}\n"
        }
        #expect(requests == ["list ruleset"])
        #expect(try reply().get() == "table inet filter {\n}\n")
    }

    @Test func socketFileHasMode0600AndCloseUnlinksIt() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/mode.sock"
        let server = try ControlServer(path: path)
        var status = stat()
        #expect(lstat(path, &status) == 0)
        #expect(status.st_mode & S_IFMT == S_IFSOCK)
        #expect(status.st_mode & 0o777 == 0o600)
        server.close()
        server.close()  // idempotent
        #expect(access(path, F_OK) != 0)
    }

    @Test func staleSocketIsReplaced() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/stale.sock"
        // A socket file nobody listens on, as a crashed run leaves behind.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        close(stale)
        #expect(access(path, F_OK) == 0)

        let server = try ControlServer(path: path)
        defer { server.close() }
        let answer = try exchangeOnOneThread(server, request: "ping\n") { "pong \($0)\n" }
        #expect(answer == "pong ping\n")
    }

    @Test func liveSocketIsRefused() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/live.sock"
        let first = try ControlServer(path: path)
        defer { first.close() }
        #expect(throws: SystemError(call: "bind(\(path))", errno: EADDRINUSE)) { try ControlServer(path: path) }
        // The first server still works, its file untouched.
        #expect(try exchangeOnOneThread(first, request: "status\n") { _ in "ok\n" } == "ok\n")
    }

    @Test func pathThatIsNotASocketIsLeftAlone() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/precious.txt"
        try "keep me".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: SystemError(call: "bind(\(path))", errno: EEXIST)) { try ControlServer(path: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
    }

    @Test func clientErrorsNameTheCallAndThePath() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/nobody.sock"
        let error = #expect(throws: SystemError.self) { try ControlClient.send("status", to: path) }
        #expect(error?.description == "connect(\(path)): No such file or directory")

        let long = "/" + String(repeating: "x", count: 200)
        #expect(throws: SystemError(call: "connect(\(long))", errno: ENAMETOOLONG)) { try ControlClient.send("status", to: long) }
        #expect(throws: SystemError(call: "send(\(path))", errno: EINVAL)) { try ControlClient.send("two\nlines", to: path) }
        #expect(throws: SystemError(call: "bind(\(long))", errno: ENAMETOOLONG)) { try ControlServer(path: long) }
    }

    @Test func requestsThatAreTooLongOrNotUTF8GetAnError() throws {
        let directory = try TemporaryDirectory()
        let server = try ControlServer(path: directory.path + "/bad.sock")
        defer { server.close() }
        var called = false
        let tooLong = try exchangeOnOneThread(server, bytes: Array(repeating: UInt8(ascii: "a"), count: 5000)) { _ in called = true; return "" }
        #expect(tooLong == "error: request longer than 4096 bytes\n")
        let notUTF8 = try exchangeOnOneThread(server, bytes: [0xff, 0xfe, 0x0a]) { _ in called = true; return "" }
        #expect(notUTF8 == "error: request is not UTF-8\n")
        #expect(!called)
        // "\r\n" is accepted as a line end.
        #expect(try exchangeOnOneThread(server, request: "status\r\n") { "[\($0)]" } == "[status]")
    }

    @Test func silentClientIsDroppedAfterTheTimeout() throws {
        let directory = try TemporaryDirectory()
        let server = try ControlServer(path: directory.path + "/silent.sock")
        defer { server.close() }
        let client = try connectRaw(server.path)
        defer { close(client) }
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        var called = false
        server.acceptPending { _ in called = true; return "" }
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        #expect(!called)
        let seconds = end.tv_sec - start.tv_sec
        #expect(seconds >= 1 && seconds <= 4)
        // And the next client is served normally.
        #expect(try exchangeOnOneThread(server, request: "status\n") { _ in "ok\n" } == "ok\n")
    }

    @Test func clientThatHangsUpEarlyDoesNotRaiseSIGPIPE() throws {
        let directory = try TemporaryDirectory()
        let server = try ControlServer(path: directory.path + "/hangup.sock")
        defer { server.close() }
        // Whether SIGPIPE was raised must not depend on how the test runner
        // set it up: if SIGPIPE is ignored the kernel discards it unseen. So,
        // for the duration: a handler that does nothing (for any other thread
        // that meets a closed pipe meanwhile, as ignoring would), and SIGPIPE
        // blocked on this thread, where send(2) raises it (signal(7): a
        // thread-directed signal), so that it stays pending and can be seen.
        var quiet = sigaction()
        quiet.__sigaction_handler.sa_handler = { _ in }
        quiet.sa_flags = SA_RESTART
        sigemptyset(&quiet.sa_mask)
        var previous = sigaction()
        #expect(sigaction(SIGPIPE, &quiet, &previous) == 0)
        defer { sigaction(SIGPIPE, &previous, nil) }
        var blockPipe = sigset_t(), originalMask = sigset_t()
        sigemptyset(&blockPipe)
        sigaddset(&blockPipe, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &blockPipe, &originalMask)
        defer {
            // Take a pending SIGPIPE off this thread before unblocking it.
            var none = timespec()
            while sigtimedwait(&blockPipe, nil, &none) == SIGPIPE {}
            pthread_sigmask(SIG_SETMASK, &originalMask, nil)
        }

        let client = try connectRaw(server.path)
        _ = "status\n".withCString { send(client, $0, 7, Int32(MSG_NOSIGNAL)) }
        close(client)
        // A large reply to a vanished client: EPIPE, not SIGPIPE (whose default action would end the firewall).
        var requests: [String] = []
        server.acceptPending { request in
            requests.append(request)
            return String(repeating: "x", count: 1 << 20)
        }
        #expect(requests == ["status"], "the request was read before the reply failed")
        var pending = sigset_t()
        sigpending(&pending)
        #expect(sigismember(&pending, SIGPIPE) == 0, "writing to the vanished client raised SIGPIPE")
        // The server goes on serving.
        #expect(try exchangeOnOneThread(server, request: "status\n") { _ in "ok\n" } == "ok\n")
    }
}

// MARK: - Helpers

/// A directory under /tmp removed with everything in it when the value is released.
final class TemporaryDirectory {
    let path: String
    init() throws {
        var template = Array("/tmp/tunio-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError(call: "mkdtemp", errno: errno) }
        path = String(cString: made)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A blocking client socket connected to `path`.
func connectRaw(_ path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    if result != 0 {
        let code = errno
        close(fd)
        throw SystemError(call: "connect(\(path))", errno: code)
    }
    return fd
}

/// One exchange without a second thread: a Unix connect completes into the
/// backlog and the request fits the socket buffer, so the client can send,
/// the server can serve, and then the client reads the reply to EOF.
func exchangeOnOneThread(_ server: ControlServer, request: String, _ handler: (String) -> String) throws -> String {
    try exchangeOnOneThread(server, bytes: Array(request.utf8), handler)
}

func exchangeOnOneThread(_ server: ControlServer, bytes: [UInt8], _ handler: (String) -> String) throws -> String {
    let client = try connectRaw(server.path)
    defer { close(client) }
    let sent = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    #expect(sent == bytes.count)
    server.acceptPending(handler)
    var reply: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        reply += chunk[0..<count]
    }
    return String(decoding: reply, as: UTF8.self)
}

/// Runs `body` on a new thread now; the returned function waits for its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> () -> T {
    let box = ResultBox<T>()
    let thread = Thread { box.set(body()) }
    thread.start()
    return { box.wait() }
}

/// Hands one value from a thread to its joiner. @unchecked Sendable: the value
/// is written once before the semaphore is signalled and read only after the
/// wait, so the semaphore orders every access.
final class ResultBox<T>: @unchecked Sendable {
    private var value: T?
    private let done = DispatchSemaphore(value: 0)
    func set(_ newValue: T) {
        value = newValue
        done.signal()
    }
    func wait() -> T {
        done.wait()
        return value!
    }
}

@Suite struct ControlStreamTests {
    @Test func subscribersReceiveBroadcasts() throws {
        let path = "/tmp/tunwall-stream-\(getpid()).sock"
        let server = try ControlServer(path: path)
        defer { server.close() }
        let received = ReceivedText()
        let thread = Thread {
            try? ControlClient.stream("follow", to: path) { received.append($0) }
        }
        thread.start()
        var waited = 0
        while server.subscriberCount == 0 && waited < 200 {
            server.acceptPending { (request: String) -> ControlReply in request == "follow" ? .subscribe("hello\n") : .text("no\n") }
            usleep(10_000)
            waited += 1
        }
        #expect(server.subscriberCount == 1)
        server.broadcast("event 1\n")
        server.broadcast("event 2\n")
        for _ in 0..<100 where received.text != "hello\nevent 1\nevent 2\n" { usleep(10_000) }
        #expect(received.text == "hello\nevent 1\nevent 2\n")
        server.close()
    }
}

extension ControlStreamTests {
    /// Each `conntrack -E` subscriber gets the events its query shows: its
    /// filter and its event mask, decided per subscriber.
    @Test func eachSubscriberGetsTheEventsItAskedFor() throws {
        let path = "/tmp/tunwall-stream-filter-\(getpid()).sock"
        let server = try ControlServer(path: path)
        defer { server.close() }
        var tcpDestroyOnly = ConntrackQuery(command: .events)
        tcpDestroyOnly.filter.protocol = .tcp
        tcpDestroyOnly.events = .destroy
        let everything = ReceivedText(), destroys = ReceivedText()
        for (request, received) in [("all", everything), ("destroy", destroys)] {
            Thread { try? ControlClient.stream(request, to: path) { received.append($0) } }.start()
        }
        var waited = 0
        while server.subscriberCount < 2 && waited < 200 {
            server.acceptPending { (request: String) -> ControlReply in
                .subscribe("", events: request == "destroy" ? tcpDestroyOnly : nil)
            }
            usleep(10_000)
            waited += 1
        }
        #expect(server.subscriberCount == 2)
        var table = Conntrack()
        var tracked = TrackedPacket(tuple: ConnTuple(source: .v4(IPv4Address(10, 0, 1, 2)), destination: .v4(IPv4Address(203, 0, 113, 10)),
                                                     sourcePort: 40000, destinationPort: 53, protocol: .udp), length: 60)
        var result = table.track(tracked, now: 1)
        _ = table.confirm(&result, now: 1)
        let udp = table.table[result.entry ?? 0]
        tracked.tuple.protocol = .tcp
        tracked.tcpFlags = .syn
        result = table.track(tracked, now: 1)
        _ = table.confirm(&result, now: 1)
        let tcp = table.table[result.entry ?? 0]
        server.broadcast(events: [ConntrackEvent(kind: .new, entry: tcp, time: 1), ConntrackEvent(kind: .destroy, entry: udp, time: 1),
                                  ConntrackEvent(kind: .destroy, entry: tcp, time: 1)])
        for _ in 0..<100 where everything.text.split(separator: "\n").count < 3 || destroys.text.isEmpty { usleep(10_000) }
        #expect(everything.text.split(separator: "\n").count == 3, "\(everything.text)")
        #expect(destroys.text.split(separator: "\n").count == 1 && destroys.text.hasPrefix("[DESTROY] tcp "), "\(destroys.text)")
        server.close()
    }
}

final class ReceivedText: @unchecked Sendable {
    private let lock = NSLock()
    private var value = ""
    func append(_ text: String) { lock.lock(); value += text; lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return value }
}

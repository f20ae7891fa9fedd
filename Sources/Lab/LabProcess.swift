// LabProcess: a program left running in one host of a lab (a server under
// test, a load generator), started by `LabSession.start`. Its standard output
// and error go to a file the handle reads at any time; the test waits until
// it listens on a port (as `ss -ltn` shows it in the host's namespace) or
// prints a line, signals it, and stops it. A handle that is dropped stops
// its process, and `LabSession.down` stops every process the session started.
//
//   let server = try lab.start("server", ["python3", "-m", "http.server", "8080"])
//   try server.waitUntilListening(port: 8080)
//   let page = try lab.run("client", ["curl", "-s", "http://203.0.113.10:8080/"])
//   server.stop()
//   print(server.output)        // what the server printed, stdout and stderr

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SystemIO

/// Safe to use from several threads (a test's watcher and its main thread).
public final class LabProcess: @unchecked Sendable {
    public let host: String
    public let arguments: [String]
    /// The `ip netns exec` process, which execs the program: the program's pid,
    /// and the leader of its own process group.
    public let pid: pid_t
    let namespace: String
    private let child: ChildProcess
    private let outputFile: String
    private let lock = NSLock()
    private var ended: ExitStatus?

    init(host: String, namespace: String, arguments: [String], ip: String) throws(LabError) {
        self.host = host
        self.namespace = namespace
        self.arguments = arguments
        outputFile = "/tmp/tunwall-labprocess-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        try writeFile(outputFile, Data())
        child = try asLabError(ChildProcess.spawn(ip, ["netns", "exec", namespace] + arguments,
                                                  output: .appendingTo(outputFile), placement: .newGroup))
        pid = child.pid
    }

    deinit {
        stop()
        unlink(outputFile)
    }

    /// What it printed so far, standard output and error together.
    public var output: String {
        (try? readFile(outputFile)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// nil while it runs, then how it ended.
    public var exitStatus: ExitStatus? {
        lock.lock(); defer { lock.unlock() }
        if ended == nil { ended = child.poll() }
        return ended
    }

    public var isRunning: Bool { exitStatus == nil }

    /// Sends `signal` to its process group (the program and its children).
    public func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(-pid, signal)
    }

    /// Waits at most `timeout` seconds for it to end; nil if it still runs.
    @discardableResult
    public func wait(timeout: Double = 60) -> ExitStatus? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = exitStatus { return status }
            usleep(10_000)
        }
        return exitStatus
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; returns how it ended.
    @discardableResult
    public func stop(grace: Double = 3) -> ExitStatus {
        if let status = exitStatus { return status }
        signal(SIGTERM)
        if let status = wait(timeout: grace) { return status }
        signal(SIGKILL)
        return wait(timeout: 5) ?? .unknown
    }

    /// Waits until a socket in its host's namespace listens on `port` (TCP,
    /// or bound for UDP), as `ss -ltn` / `ss -lun` would list it. Throws when
    /// the process ends first or `timeout` seconds pass, with its output.
    public func waitUntilListening(port: UInt16, udp: Bool = false, timeout: Double = 10) throws(LabError) {
        try waitUntil("listening on \(udp ? "UDP" : "TCP") port \(port)", timeout: timeout) {
            // /proc/PID/net is the network namespace of PID: the program's
            // own once `ip netns exec` has entered it (not ours any more).
            guard Self.namespaceLink(pid) != Self.namespaceLink(getpid()) else { return false }
            return (udp ? ["udp", "udp6"] : ["tcp", "tcp6"]).contains { table in
                let text = (try? FileIO.read("/proc/\(pid)/net/\(table)")).map { String(decoding: $0, as: UTF8.self) } ?? ""
                return text.split(separator: "\n").contains { Self.isListening($0, port: port, udp: udp) }
            }
        }
    }

    /// Waits until its output contains `text`.
    public func waitUntilOutput(contains text: String, timeout: Double = 10) throws(LabError) {
        try waitUntil("printing \(quotedText(text))", timeout: timeout) { output.contains(text) }
    }

    private func waitUntil(_ what: String, timeout: Double, _ done: () -> Bool) throws(LabError) {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if done() { return }
            if let status = exitStatus {
                throw LabError("\(arguments.joined(separator: " ")) in \(host) ended (\(status)) before \(what); it printed: \(output)")
            }
            if Date() >= deadline {
                throw LabError("\(arguments.joined(separator: " ")) in \(host): not \(what) after \(timeout) s; it printed: \(output)")
            }
            usleep(20_000)
        }
    }

    static func namespaceLink(_ pid: pid_t) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/\(pid)/ns/net", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }

    /// A /proc/net line: "sl local_address rem_address st ...", the local
    /// address as HEX:PORT; TCP state 0A is LISTEN, a UDP socket is 07 (CLOSE: bound, unconnected).
    static func isListening(_ line: Substring, port: UInt16, udp: Bool) -> Bool {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 3, let colon = fields[1].lastIndex(of: ":"),
              let local = UInt16(fields[1][fields[1].index(after: colon)...], radix: 16) else { return false }
        return local == port && fields[3] == (udp ? "07" : "0A")
    }
}

private func quotedText(_ text: String) -> String { "\"\(text)\"" }

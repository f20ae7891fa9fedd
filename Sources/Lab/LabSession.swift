// A lab for other projects' tests, from Swift: bring a topology up (the
// firewall runs as a daemon), run commands in its hosts and read what they
// printed, and take it all down (also when the session is dropped). What
// `tunwall lab up --daemon`, `lab exec` and `lab down` do, as an API.
//
//   let lab = try LabSession(topology: "Topologies/basic.json", name: "mytest\(getpid() % 10000)",
//                            tunwall: "/path/to/tunwall")
//   defer { lab.down() }
//   let result = try lab.run("client", ["ping", "-c", "1", "203.0.113.10"])
//   // result.status == 0; result.output holds ping's lines

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Firewall
import SystemIO

/// `run` may be called from several threads at once (a server in one, a client
/// in another); `down` once, when they are done.
public final class LabSession: @unchecked Sendable {
    public let name: String
    public let topology: Topology
    let controller: LabController
    private var isUp = true

    /// What a command printed (standard output and error together) and how it ended.
    public struct CommandResult: Sendable {
        public var status: ExitStatus
        public var output: String
    }

    /// Brings the lab up; `tunwall` is the binary that runs as the firewall
    /// (`tunwall run`), `runArguments` go to it (e.g. ["--trace"]). Needs root.
    public init(topology path: String, name: String, tunwall: String, runArguments: [String] = []) throws(LabError) {
        try Lab.validateName(name)
        self.name = name
        do {
            topology = try Topology.load(path: path)
        } catch {
            throw LabError(error)
        }
        var controller = LabController(firewallExecutable: tunwall)
        controller.foregroundLogDescriptor = nil
        self.controller = controller
        _ = try controller.up(topology, source: path, name: name, daemon: true, extraRunArguments: runArguments) { _ in }
    }

    deinit { down() }

    /// Runs `argv` in `host`'s namespace ("fw": the firewall's) and waits, at
    /// most `timeout` seconds (then it is killed and the status says so).
    public func run(_ host: String, _ argv: [String], timeout: Double = 60) throws(LabError) -> CommandResult {
        guard !argv.isEmpty else { throw LabError("no command to run") }
        let namespace = Lab.namespaceName(lab: name, host: host)
        guard try controller.namespaces(ofLab: name).contains(namespace) else {
            throw LabError("lab \(name) has no host \(quoted(host))")
        }
        let file = "/tmp/tunwall-labsession-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(file) }
        try writeFile(file, Data())
        let child = try asLabError(ChildProcess.spawn(controller.ip.executablePath(), ["netns", "exec", namespace] + argv,
                                                      output: .appendingTo(file), placement: .newGroup))
        let deadline = Date().addingTimeInterval(timeout)
        var status = child.poll()
        while status == nil && Date() < deadline {
            usleep(10_000)
            status = child.poll()
        }
        if status == nil {
            kill(-child.pid, SIGKILL)
            status = child.waitForExit()
        }
        let output = (try? readFile(file)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return CommandResult(status: status ?? .unknown, output: output)
    }

    /// Stops the firewall and everything in the lab's namespaces, and deletes them.
    @discardableResult
    public func down() -> DownReport? {
        guard isUp else { return nil }
        isUp = false
        return try? controller.down(name)
    }
}

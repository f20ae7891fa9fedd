// A lab for other projects' tests, from Swift (the `Lab` library product):
// bring a topology up from a file or from Swift values (the firewall runs as
// a daemon), start programs in its hosts and keep a handle on them
// (LabProcess.swift), run commands and read what they printed, ask the
// firewall for its state, and take it all down. What `tunwall lab up
// --daemon`, `lab exec`, `conntrack`, `stats`, `reload` and `lab down` do, as
// an API.
//
//   let lab = try LabSession(topology: "Topologies/basic.json", name: "mytest\(getpid() % 10000)",
//                            tunwall: "/path/to/tunwall")
//   defer { lab.down() }
//   let server = try lab.start("server", ["python3", "-m", "http.server", "8080"])
//   try server.waitUntilListening(port: 8080)
//   let result = try lab.run("client", ["curl", "-s", "http://203.0.113.10:8080/"])
//   // result.status == .exited(0); result.output holds the page
//
// Teardown: `down()` (or dropping the session) stops the programs it started
// and the firewall and deletes the namespaces. A test that traps or is
// killed never runs either; its lab stays (`tunwall lab list` shows it)
// until `tunwall lab down NAME`, and a new session with the same name
// refuses to start over it, so name labs per process (the pid in the name,
// as above) and take leftovers down before a run.

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
    private let lock = NSLock()
    private var isUp = true
    private var started: [LabProcess] = []

    /// What a command printed (standard output and error together) and how it ended.
    public struct CommandResult: Sendable {
        public var status: ExitStatus
        public var output: String
    }

    /// Brings the lab up from a topology file; `tunwall` is the binary that
    /// runs as the firewall (`tunwall run`), `runArguments` go to it (e.g.
    /// ["--trace"]). Needs root.
    public convenience init(topology path: String, name: String, tunwall: String, runArguments: [String] = []) throws(LabError) {
        let topology: Topology
        do {
            topology = try Topology.load(path: path)
        } catch {
            throw LabError(error)
        }
        try self.init(topology, source: path, name: name, tunwall: tunwall, runArguments: runArguments)
    }

    /// Brings the lab up from Swift values; `ruleset`, when given, is the
    /// text of an nft ruleset (it replaces `topology.firewall.rulesetPath`).
    public convenience init(topology: Topology, ruleset: String? = nil, name: String, tunwall: String,
                            runArguments: [String] = []) throws(LabError) {
        var topology = topology
        if let ruleset {
            try Lab.validateName(name)
            let file = "/tmp/tunwall-labsession-\(name).nft"
            try writeFile(file, Data(ruleset.utf8))
            topology.firewall.rulesetPath = file
        }
        try self.init(topology, source: nil, name: name, tunwall: tunwall, runArguments: runArguments)
    }

    private init(_ topology: Topology, source: String?, name: String, tunwall: String, runArguments: [String]) throws(LabError) {
        try Lab.validateName(name)
        self.name = name
        self.topology = topology
        var controller = LabController(firewallExecutable: tunwall)
        controller.foregroundLogDescriptor = nil
        self.controller = controller
        _ = try controller.up(topology, source: source, name: name, daemon: true, extraRunArguments: runArguments) { _ in }
    }

    deinit { down() }

    /// Starts `argv` in `host`'s namespace and returns at once with a handle
    /// on it (LabProcess: its output, waiting until it listens, signals, stop).
    public func start(_ host: String, _ argv: [String]) throws(LabError) -> LabProcess {
        guard !argv.isEmpty else { throw LabError("no command to start") }
        let namespace = try namespace(of: host)
        let process = try LabProcess(host: host, namespace: namespace, arguments: argv,
                                     ip: asLabError(controller.ip.executablePath()))
        lock.lock(); started.append(process); lock.unlock()
        return process
    }

    /// Runs `argv` in `host`'s namespace ("fw": the firewall's) and waits, at
    /// most `timeout` seconds (then it is killed and the status says so).
    public func run(_ host: String, _ argv: [String], timeout: Double = 60) throws(LabError) -> CommandResult {
        guard !argv.isEmpty else { throw LabError("no command to run") }
        let namespace = try namespace(of: host)
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

    /// Stops the programs `start` left running, the firewall and everything
    /// in the lab's namespaces, and deletes them.
    @discardableResult
    public func down() -> DownReport? {
        lock.lock()
        guard isUp else { lock.unlock(); return nil }
        isUp = false
        let processes = started
        started = []
        lock.unlock()
        for process in processes { process.stop(grace: 1) }
        return try? controller.down(name)
    }

    /// The namespace of `host` ("fw": the firewall's), if the lab has it.
    func namespace(of host: String) throws(LabError) -> String {
        let namespace = Lab.namespaceName(lab: name, host: host)
        guard try controller.namespaces(ofLab: name).contains(namespace) else {
            throw LabError("lab \(name) has no host \(quoted(host))")
        }
        return namespace
    }
}

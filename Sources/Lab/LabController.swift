// LabController: builds a lab from a topology and takes it apart again, with
// `ip` doing the namespace work. `up` is a composition of steps that can each
// be run (and tested) alone:
//
//   ensureNotUp      nothing of the lab may exist yet (a stale state directory is removed)
//   createNamespaces `ip netns add` tw-LAB-fw, tw-LAB-HOST for each host and tw-LAB-SEGMENT
//                    for each segment, `lo` up in each; each segment's bridge (LabSegments.swift)
//   writeState       /run/tunwall/labs/LAB/{topology.json,source,firewall.json}
//   startFirewall    ip netns exec tw-LAB-fw TUNWALL run STATE/firewall.json --control STATE/control.sock [extra]
//                    stdout/stderr appended to STATE/log, pid to STATE/pid
//   waitUntilReady   until the log has a line "tunwall: ready" (≤ readyTimeout), or the firewall ends
//   attachSegments   the firewall's device on each segment and a veth per host made ports of its bridge
//   configureHost    per host: link mtu + up, addresses (IPv6 with nodad), routes
//
// A failure or a SIGINT/SIGTERM/SIGHUP at any step stops the firewall and
// removes everything (`down`) before the error is reported. In the foreground,
// `up` then stays with the firewall, copying its log to stderr, until the
// firewall exits or one of those signals arrives, and tears the lab down.
// As a daemon, `up` returns and the firewall lives on in a session of its
// own until `tunwall lab down`.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Wire
import SystemIO
import Firewall

public struct LabController: Sendable {
    public var ip: IPCommand
    /// Where state directories live (a test can use a temporary directory).
    public var stateRoot: String
    /// The `tunwall` binary to run as the firewall (by default, this very program).
    public var firewallExecutable: String
    /// Seconds to wait for "tunwall: ready".
    public var readyTimeout: Double = 15
    /// Seconds between SIGTERM and SIGKILL when stopping the firewall or a lab's processes.
    public var stopGracePeriod: Double = 5
    /// Where the foreground copies the firewall's log to (nil: nowhere).
    public var foregroundLogDescriptor: Int32? = STDERR_FILENO

    /// What the firewall prints to stderr once all its devices are open and moved.
    public static let readyLine = "tunwall: ready"

    public init(ip: IPCommand = IPCommand(), stateRoot: String = Lab.defaultStateRoot,
                firewallExecutable: String = LabController.currentExecutable()) {
        self.ip = ip
        self.stateRoot = stateRoot
        self.firewallExecutable = firewallExecutable
    }

    /// /proc/self/exe resolved: the running binary's path.
    public static func currentExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return CommandLine.arguments.first.map(absolutePath) ?? "tunwall" }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func paths(_ name: String) -> LabPaths {
        LabPaths(lab: name, root: stateRoot)
    }

    /// How a foreground lab ended (after it was torn down), or that a daemon lab runs on.
    public enum Ending: Equatable, Sendable {
        /// Daemon mode: `up` returned with the firewall running.
        case detached(firewallPID: pid_t)
        /// Daemon mode with the kernel as the firewall: `up` returned, the lab is up.
        case detachedKernel
        /// A signal to `lab up` stopped it.
        case stopped(signal: Int32)
        /// The firewall ended by itself (or `lab down` from elsewhere ended it).
        case firewallExited(ExitStatus)
    }

    // MARK: - up

    /// Builds the lab and, in the foreground, runs it until a signal or the
    /// firewall's end; `onReady` gets the running lab once every host is
    /// configured (to print a summary). `source` is the topology file, copied
    /// into the state directory.
    /// With `kernel`, the firewall is the Linux kernel with the topology's
    /// ruleset (KernelFirewall.swift) and `extraRunArguments` must be empty.
    public func up(
        _ topology: Topology, source: String?, name: String, daemon: Bool, kernel: Bool = false,
        extraRunArguments: [String] = [], onReady: (LabStatus) -> Void = { _ in }
    ) throws(LabError) -> Ending {
        let signals = StopSignals()
        defer { signals.restore() }
        try Lab.validateName(name)
        if let ruleset = topology.firewall.rulesetPath, !fileExists(ruleset) {
            throw LabError("ruleset \(ruleset): \(systemMessage(ENOENT))")
        }
        try ensureNotUp(name)
        var firewall: ChildProcess?
        var log = LogTail(path: paths(name).log)
        let echo = daemon ? nil : foregroundLogDescriptor
        let running: LabStatus
        do {
            try createNamespaces(topology, lab: name)
            try checkSignals(signals, name)
            try writeState(topology, source: source, lab: name)
            if kernel {
                try configureKernelFirewall(topology, lab: name)
            } else {
                let started = try startFirewall(lab: name, extraRunArguments: extraRunArguments, daemon: daemon)
                firewall = started
                try waitUntilReady(started, lab: name, log: &log, signals: signals, echo: echo)
            }
            try attachSegments(topology, lab: name)
            try checkSignals(signals, name)
            for host in topology.hosts {
                try configureHost(host, topology: topology, lab: name)
                try checkSignals(signals, name)
            }
            running = try status(name)
        } catch {
            if let firewall { stop(firewall) }
            log.copyNew(to: echo)
            do {
                try down(name)
            } catch let cleanup {
                throw LabError("\(error.message) (and tearing the lab down failed: \(cleanup.message))")
            }
            throw error
        }
        onReady(running)
        if daemon {
            if let signal = signals.pending() {
                if let firewall { stop(firewall) }
                _ = try? down(name)
                throw LabError("lab \(name): interrupted by \(signalDisplayName(signal)); the lab was torn down")
            }
            return firewall.map { .detached(firewallPID: $0.pid) } ?? .detachedKernel
        }
        let ending: Ending
        if let firewall {
            ending = runInForeground(firewall, log: &log, signals: signals, echo: echo)
        } else {
            // The kernel firewall has no process to watch: the lab stays until a stop signal.
            var signal: Int32? = nil
            while signal == nil { signal = signals.wait(seconds: 1) }
            ending = .stopped(signal: signal!)
        }
        try down(name)
        return ending
    }

    private func checkSignals(_ signals: StopSignals, _ name: String) throws(LabError) {
        if let signal = signals.pending() {
            throw LabError("lab \(name): interrupted by \(signalDisplayName(signal)) while starting; the lab was torn down")
        }
    }

    /// Copies the log until the firewall ends or a stop signal comes; a signal stops the firewall.
    private func runInForeground(_ firewall: ChildProcess, log: inout LogTail, signals: StopSignals, echo: Int32?) -> Ending {
        while true {
            log.copyNew(to: echo)
            if let status = firewall.poll() {
                log.copyNew(to: echo)
                return .firewallExited(status)
            }
            if let signal = signals.wait(seconds: 0.2) {
                stop(firewall)
                log.copyNew(to: echo)
                return .stopped(signal: signal)
            }
        }
    }

    /// Refuses if the lab's firewall runs or any of its namespaces exists; a
    /// state directory left by a crash, with nothing else, is removed.
    public func ensureNotUp(_ name: String) throws(LabError) {
        try Lab.validateName(name)
        let firewall = try runningFirewall(name)
        let namespaces = try namespaces(ofLab: name)
        if firewall != nil || !namespaces.isEmpty {
            throw LabError("lab \(name) is already up; run 'tunwall lab down \(name)'")
        }
        try removeTree(paths(name).directory)
    }

    /// tw-LAB-fw, tw-LAB-HOST for each host and tw-LAB-SEGMENT for each
    /// segment, each with `lo` up; each segment's bridge.
    public func createNamespaces(_ topology: Topology, lab: String) throws(LabError) {
        var names = [Lab.firewallNamespace(lab: lab)]
        names += topology.hosts.map { Lab.namespaceName(lab: lab, host: $0.name) }
        names += topology.segments.map { Lab.namespaceName(lab: lab, host: $0.name) }
        for namespace in names {
            try asLabError(ip.run(["netns", "add", namespace]))
            try asLabError(ip.run(["-n", namespace, "link", "set", "dev", "lo", "up"]))
        }
        for segment in topology.segments { try createBridge(segment, lab: lab) }
    }

    /// The state directory with topology.json (a copy of `source`), source
    /// (its absolute path) and firewall.json.
    @discardableResult
    public func writeState(_ topology: Topology, source: String?, lab: String) throws(LabError) -> LabPaths {
        let paths = paths(lab)
        try makeDirectories(paths.directory)
        if let source {
            try writeFile(paths.topology, readFile(source))
            try writeFile(paths.source, Data((absolutePath(source) + "\n").utf8))
        }
        try writeFile(paths.firewallConfig, Lab.firewallConfig(for: topology, lab: lab).jsonData())
        return paths
    }

    /// Starts the firewall in tw-LAB-fw with its output going to the log and
    /// writes its pid (the `ip netns exec` process becomes the firewall: ip
    /// execs the command without forking). In the foreground it gets a process
    /// group of its own, so the terminal's Ctrl-C reaches only `lab up`, which
    /// then stops it; as a daemon it gets a session of its own.
    public func startFirewall(lab: String, extraRunArguments: [String] = [], daemon: Bool) throws(LabError) -> ChildProcess {
        let paths = paths(lab)
        try writeFile(paths.log, Data())
        let arguments = ["netns", "exec", Lab.firewallNamespace(lab: lab), firewallExecutable,
                         "run", paths.firewallConfig, "--control", paths.controlSocket] + extraRunArguments
        let child = try asLabError(ChildProcess.spawn(ip.executablePath(), arguments, output: .appendingTo(paths.log),
                                                      placement: daemon ? .newSession : .newGroup))
        do {
            try writeFile(paths.pid, Data("\(child.pid)\n".utf8))
        } catch {
            stop(child)
            throw error
        }
        return child
    }

    /// Polls the log every 50 ms for the ready line; the firewall's end, the
    /// timeout or a stop signal is an error that quotes the end of the log.
    func waitUntilReady(
        _ firewall: ChildProcess, lab: String, log: inout LogTail, signals: StopSignals?, echo: Int32?
    ) throws(LabError) {
        let deadline = Date().addingTimeInterval(readyTimeout)
        while true {
            log.copyNew(to: echo)
            if log.containsLine(startingWith: Self.readyLine) { return }
            if let status = firewall.poll() {
                log.copyNew(to: echo)
                throw LabError("lab \(lab): the firewall \(status) before it was ready; \(log.ending)")
            }
            if Date() >= deadline {
                throw LabError("lab \(lab): the firewall did not print \(quoted(Self.readyLine)) within"
                               + " \(formatSeconds(readyTimeout)); \(log.ending)")
            }
            if let signals {
                if let signal = signals.wait(seconds: 0.05) {
                    throw LabError("lab \(lab): interrupted by \(signalDisplayName(signal)) while starting; the lab was torn down")
                }
            } else {
                usleep(50_000)
            }
        }
    }

    /// Public form of `waitUntilReady` for a firewall started with `startFirewall`.
    public func waitUntilReady(_ firewall: ChildProcess, lab: String) throws(LabError) {
        var log = LogTail(path: paths(lab).log)
        try waitUntilReady(firewall, lab: lab, log: &log, signals: nil, echo: nil)
    }

    /// In the host's namespace: each interface at its firewall interface's MTU
    /// and up, its addresses (IPv6 ones with `nodad`: nobody else is on the
    /// link, and waiting for DAD would make the first packets fail), then the
    /// routes (after all addresses, since a gateway must be on a connected subnet).
    public func configureHost(_ host: HostSpec, topology: Topology, lab: String) throws(LabError) {
        let namespace = Lab.namespaceName(lab: lab, host: host.name)
        for interface in host.interfaces {
            let mtu = topology.mtu(of: interface)
            try asLabError(ip.run(["-n", namespace, "link", "set", "dev", interface.device, "mtu", String(mtu), "up"]))
        }
        let v6Devices = host.interfaces.filter { $0.addresses.contains { $0.address.isV6 } }.map(\.device)
        if !v6Devices.isEmpty { try enableIPv6(namespace: namespace, devices: v6Devices) }
        for interface in host.interfaces {
            for address in interface.addresses {
                var arguments = ["-n", namespace, "addr", "add", address.description, "dev", interface.device]
                if address.address.isV6 { arguments.append("nodad") }
                try asLabError(ip.run(arguments))
            }
        }
        for route in host.routes {
            var arguments = ["-n", namespace, ConfigValue.isV4(route.destination) ? "-4" : "-6",
                             "route", "add", route.destination.description]
            if let gateway = route.gateway { arguments += ["via", gateway.description] }
            arguments += ["dev", route.device]
            try asLabError(ip.run(arguments))
        }
    }

    /// New namespaces normally have IPv6 on; a system that turned it off by
    /// default (net.ipv6.conf.default.disable_ipv6=1 with
    /// net.core.devconf_inherit_init_net) would refuse the addresses, so the
    /// switches are read and, where set, cleared.
    private func enableIPv6(namespace: String, devices: [String]) throws(LabError) {
        let files = (["all", "default"] + devices).map { "/proc/sys/net/ipv6/conf/\($0)/disable_ipv6" }
        let values: [Substring]
        do {
            values = try ip.netnsExec(namespace, ["cat"] + files).split(separator: "\n")
        } catch {
            throw LabError("IPv6 is not available in namespace \(namespace) (is the kernel booted with ipv6.disable=1?): \(error.message)")
        }
        let disabled = zip(files, values).filter { $0.1.trimmingCharacters(in: .whitespaces) != "0" }.map(\.0)
        if disabled.isEmpty { return }
        try asLabError(ip.netnsExec(namespace, ["sh", "-c", "for f in \"$@\"; do echo 0 > \"$f\"; done", "sh"] + disabled))
    }

    // MARK: - Processes

    /// SIGTERM to our child, SIGKILL after the grace period, then reaped.
    func stop(_ child: ChildProcess) {
        guard child.poll() == nil else { return }
        kill(child.pid, SIGTERM)
        let deadline = Date().addingTimeInterval(stopGracePeriod)
        while Date() < deadline {
            if child.poll() != nil { return }
            usleep(20_000)
        }
        kill(child.pid, SIGKILL)
        _ = child.waitForExit()
    }
}

func formatSeconds(_ seconds: Double) -> String {
    seconds.rounded() == seconds ? "\(Int(seconds)) s" : "\(seconds) s"
}

/// The firewall's log as it grows: what was read so far, for the ready line
/// and the last lines of an error; new bytes can be copied to a descriptor.
struct LogTail {
    let path: String
    private var offset: Int64 = 0
    private(set) var contents = Data()

    init(path: String) {
        self.path = path
    }

    /// Reads what was appended since the last call and writes it to `descriptor` (if any).
    mutating func copyNew(to descriptor: Int32?) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else { return }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            contents.append(contentsOf: chunk[0..<n])
            offset += Int64(n)
            if let descriptor { FileIO.writeAllOrGiveUp(descriptor, chunk[0..<n]) }
        }
    }

    func containsLine(startingWith prefix: String) -> Bool {
        lines.contains { $0.hasPrefix(prefix) }
    }

    var lines: [String] {
        String(decoding: contents, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
    }

    /// "the end of its log:\n  LINE\n  LINE" (at most 10 lines), or "its log is empty".
    var ending: String {
        let last = lines.suffix(10)
        if last.isEmpty { return "its log is empty" }
        return "the end of its log:\n" + last.map { "  " + $0 }.joined(separator: "\n")
    }
}

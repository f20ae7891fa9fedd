// Taking a lab down, listing labs, running commands in them. `down` works
// from whatever is left: a running firewall, a crashed one (stale pid),
// namespaces without a state directory, or nothing at all (then it says so).
//
//   down("basic"):
//     1. the firewall: SIGTERM to the pid in /run/tunwall/labs/basic/pid if that
//        process is alive and is the firewall of this lab (its command line
//        names the lab's firewall.json, so a reused pid is never signalled);
//        SIGKILL after the grace period
//     2. processes still in the lab's namespaces (`ip netns pids`), e.g. a
//        server started with `lab exec`: SIGTERM, then SIGKILL
//     3. `ip netns delete` every tw-basic-* namespace (tw-basic-fw, tw-basic-client, ...,
//        and each segment's: its bridge and the veth pairs of its hosts go with it)
//     4. the state directory

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Firewall
import SystemIO

/// What `down` did.
public struct DownReport: Equatable, Sendable {
    public var stoppedFirewall: pid_t?
    public var stoppedProcesses: [pid_t] = []
    public var deletedNamespaces: [String] = []
    public var removedStateDirectory = false

    public var didNothing: Bool {
        stoppedFirewall == nil && stoppedProcesses.isEmpty && deletedNamespaces.isEmpty && !removedStateDirectory
    }
}

/// A lab as found on the machine.
public struct LabStatus: Sendable {
    public var name: String
    /// The firewall's pid, if it runs.
    public var firewallPID: pid_t?
    /// The topology file the lab was started from.
    public var source: String?
    /// The copy in the state directory, if readable.
    public var topology: Topology?
    /// The lab's namespaces that exist, tw-LAB-fw first.
    public var namespaces: [String]
    public var hasStateDirectory: Bool
    public var paths: LabPaths

    /// The firewall is the Linux kernel (`lab up --kernel`), not a process.
    public var isKernel: Bool = false

    public var isRunning: Bool { firewallPID != nil || (isKernel && !namespaces.isEmpty) }

    /// The host names whose namespaces exist ("fw" and the topology's segments excluded).
    public var hosts: [String] {
        let segments = Set(topology?.segments.map(\.name) ?? [])
        return namespaces.compactMap { Lab.parseNamespace($0)?.host }.filter { $0 != Lab.firewallHost && !segments.contains($0) }
    }
}

extension LabController {
    // MARK: - down

    @discardableResult
    public func down(_ name: String) throws(LabError) -> DownReport {
        try Lab.validateName(name)
        let paths = paths(name)
        var report = DownReport()
        if let pid = try runningFirewall(name) {
            stopProcesses([pid])
            report.stoppedFirewall = pid
        }
        let namespaces = try namespaces(ofLab: name)
        var leftovers: [pid_t] = []
        for namespace in namespaces {
            let pids = ((try? ip.run(["netns", "pids", namespace])) ?? "").split(separator: "\n").compactMap { pid_t($0) }
            leftovers += pids.filter { $0 != getpid() && !leftovers.contains($0) }
        }
        if !leftovers.isEmpty {
            stopProcesses(leftovers)
            report.stoppedProcesses = leftovers
        }
        for namespace in namespaces {
            do {
                try ip.run(["netns", "delete", namespace])
            } catch {
                // Someone else (a concurrent `lab down`) may have been quicker.
                if try asLabError(self.ip.namespaces()).contains(namespace) { throw LabError(error) }
            }
            report.deletedNamespaces.append(namespace)
        }
        if fileExists(paths.directory) {
            try removeTree(paths.directory)
            report.removedStateDirectory = true
        }
        return report
    }

    /// The lab's namespaces that exist, the firewall's first.
    public func namespaces(ofLab name: String) throws(LabError) -> [String] {
        let all = try asLabError(ip.namespaces()).filter { Lab.parseNamespace($0)?.lab == name }
        let firewall = Lab.firewallNamespace(lab: name)
        return all.filter { $0 == firewall } + all.filter { $0 != firewall }.sorted()
    }

    /// The pid in the state directory if that process is alive and is this
    /// lab's firewall (its command line holds the lab's firewall.json).
    public func runningFirewall(_ name: String) throws(LabError) -> pid_t? {
        let paths = paths(name)
        guard let data = try? readFile(paths.pid),
              let pid = pid_t(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
              pid > 0, isAlive(pid) else { return nil }
        guard let commandLine = try? readFile("/proc/\(pid)/cmdline") else { return nil }
        let arguments = commandLine.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.contains(paths.firewallConfig) ? pid : nil
    }

    /// SIGTERM to each, SIGKILL to those still alive after the grace period.
    /// Our own children are reaped as they end; others count as gone once
    /// they are zombies.
    func stopProcesses(_ pids: [pid_t]) {
        for pid in pids { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(stopGracePeriod)
        while pids.contains(where: isAlive), Date() < deadline { usleep(20_000) }
        let survivors = pids.filter(isAlive)
        for pid in survivors { kill(pid, SIGKILL) }
        let killDeadline = Date().addingTimeInterval(2)
        while survivors.contains(where: isAlive), Date() < killDeadline { usleep(20_000) }
    }

    // MARK: - list, exec

    /// Every lab with a state directory under `stateRoot` or a namespace, by name.
    public func list() throws(LabError) -> [LabStatus] {
        var names = Set(try asLabError(ip.namespaces()).compactMap { Lab.parseNamespace($0)?.lab })
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: stateRoot) {
            names.formUnion(entries.filter { ConfigValue.labName($0) == nil })
        }
        var result: [LabStatus] = []
        for name in names.sorted() { result.append(try status(name)) }
        return result
    }

    public func status(_ name: String) throws(LabError) -> LabStatus {
        let paths = paths(name)
        let source = (try? readFile(paths.source)).map {
            String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return LabStatus(name: name, firewallPID: try runningFirewall(name), source: source,
                         topology: try? Topology.load(path: paths.topology), namespaces: try namespaces(ofLab: name),
                         hasStateDirectory: fileExists(paths.directory), paths: paths, isKernel: isKernelLab(name))
    }

    /// The lab `exec` means: `lab` if given (it must have namespaces), else the only lab up.
    public func resolveLab(_ lab: String?) throws(LabError) -> String {
        if let lab {
            try Lab.validateName(lab)
            if try namespaces(ofLab: lab).isEmpty {
                throw LabError("lab \(lab) is not up (no namespace \(Lab.namespaceName(lab: lab, host: "*")))")
            }
            return lab
        }
        let labs = Set(try asLabError(ip.namespaces()).compactMap { Lab.parseNamespace($0)?.lab }).sorted()
        switch labs.count {
        case 0: throw LabError("no lab is up; start one with 'tunwall lab up FILE'")
        case 1: return labs[0]
        default: throw LabError("several labs are up (\(labs.joined(separator: ", "))); choose one with --lab NAME")
        }
    }

    /// Runs `argv` in the host's namespace with our terminal; returns its exit
    /// status (128 + N if killed by signal N). Host "fw" is the firewall's namespace.
    public func exec(lab: String?, host: String, argv: [String]) throws(LabError) -> Int32 {
        guard !argv.isEmpty else { throw LabError("no command to run") }
        let name = try resolveLab(lab)
        let namespaces = try namespaces(ofLab: name)
        let namespace = Lab.namespaceName(lab: name, host: host)
        guard namespaces.contains(namespace) else {
            let hosts = namespaces.compactMap { Lab.parseNamespace($0)?.host }
            var message = "lab \(name) has no host \(quoted(host))"
            if let suggestion = closestMatch(to: host, among: hosts) { message += " (did you mean \(quoted(suggestion))?)" }
            throw LabError(message + "; its hosts: \(hosts.joined(separator: ", "))")
        }
        return try asLabError(ip.netnsExecInteractive(namespace, argv))
    }
}

/// Alive and not a zombie. Reaps it first if it is our child that has ended.
func isAlive(_ pid: pid_t) -> Bool {
    var status: Int32 = 0
    if waitpid(pid, &status, WNOHANG) == pid { return false }
    guard kill(pid, 0) == 0 || errno == EPERM else { return false }
    guard let stat = try? readFile("/proc/\(pid)/stat"),
          let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.endIndex else { return true }
    return stat[close + 2] != UInt8(ascii: "Z")
}

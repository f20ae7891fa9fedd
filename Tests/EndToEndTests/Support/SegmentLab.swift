// A lab with segments (Topologies/lan.json, dmz.json) for LabSegmentTests:
// up through tunwall or through the kernel, programs started in its hosts in
// the background with their output in files, conntrack listings read into
// tuples, and what it leaves on the machine once down.

import Foundation
import Testing
import TestSupport

/// tunwall's TAP support (the `tunwall neigh` command that comes with it)
/// answers `--help`; until then the segment suites run through the kernel only.
let tunwallHasTAP: Bool = {
    guard let run = try? Tool.run(Tool.binary, ["neigh", "--help"], timeout: 20) else { return false }
    return run.status == 0
}()

final class SegmentLab {
    let name: String
    let kernel: Bool
    let directory: URL
    /// The inode of each namespace while the lab was up (LabChecks.leftovers).
    private(set) var inodes: [String: UInt64] = [:]
    private var started: [Process] = []

    init(_ topology: String, name: String, kernel: Bool) throws {
        self.name = name
        self.kernel = kernel
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-segment-\(name)")
        try? FileManager.default.removeItem(at: directory)
        try makeDirectory(directory)
        _ = try? Tool.run(Tool.binary, ["lab", "down", name])  // a leftover of a killed run
        let up = try Tool.run(Tool.binary, ["lab", "up", repository.appendingPathComponent("Topologies/\(topology).json").path,
                                            "--name", name, "--daemon"] + (kernel ? ["--kernel"] : []))
        guard up.status == 0 else {
            down()
            throw LabCheckFailure("lab up \(topology).json\(kernel ? " --kernel" : "") failed: \(up.stderr)")
        }
        inodes = LabChecks.namespaceInodes(of: name)
    }

    func exec(_ host: String, _ command: [String]) throws -> Run { try Tool.labExec(name, host, command) }

    /// `tunwall ARGUMENTS --lab NAME`.
    func tunwall(_ arguments: [String]) throws -> Run { try Tool.run(Tool.binary, arguments + ["--lab", name]) }

    /// A command left running on a host, stdout and stderr into `output`;
    /// `lab down` ends whatever is still running.
    func start(_ host: String, _ command: [String], output: URL) throws -> Process {
        let process = try Tool.labExecInBackground(name, host, command, output: output)
        started.append(process)
        return process
    }

    /// The firewall's connections as `conntrack -L` lists them (tunwall's,
    /// or the kernel's with conntrack-tools in the router's namespace).
    func connections() throws -> [ConntrackLine] {
        let run = kernel ? try exec("fw", ["conntrack", "-L"]) : try tunwall(["conntrack", "-L"])
        guard run.status == 0 else { throw LabCheckFailure("conntrack -L in \(name): \(run.stderr)") }
        return run.stdout.split(separator: "\n").compactMap { ConntrackLine(String($0)) }
    }

    /// Takes the lab down; then nothing of it may be left (namespaces, and
    /// so bridges and veths; processes; the firewall holding its devices),
    /// which the caller checks with `leftovers`.
    func down() {
        _ = try? Tool.run(Tool.binary, ["lab", "down", name])
        for process in started { process.waitUntilExit() }
        started = []
        try? FileManager.default.removeItem(at: directory)
    }

    /// Everything of the lab still on the machine, and any of its device
    /// names in the root namespace (none was ever made there).
    var leftovers: [String] {
        var found = LabChecks.leftovers(of: name, inodes: inodes.values)
        let links = (try? Tool.run(URL(fileURLWithPath: "/usr/sbin/ip"), ["-o", "link", "show"]).stdout) ?? ""
        found += links.split(separator: "\n").filter { $0.contains("v-client") || $0.contains("br-lan") || $0.contains("br-dmz") }
            .map { "root namespace device: \($0)" }
        return found
    }
}

/// One `conntrack -L` line's two tuples (ICMP lines have no ports: nil).
struct ConntrackLine {
    var protocolName: String
    var source: String
    var sourcePort: Int
    var destinationPort: Int
    var replyDestination: String
    var replyDestinationPort: Int

    init?(_ line: String) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        func values(_ key: String) -> [String] { fields.filter { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) } }
        let src = values("src"), dst = values("dst"), sport = values("sport"), dport = values("dport")
        guard let name = fields.first, src.count >= 2, dst.count >= 2, sport.count >= 2, dport.count >= 2,
              let s = Int(sport[0]), let d = Int(dport[0]), let rd = Int(dport[1]) else { return nil }
        protocolName = name
        source = src[0]
        sourcePort = s
        destinationPort = d
        replyDestination = dst[1]
        replyDestinationPort = rd
    }
}

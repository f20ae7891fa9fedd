// `tunwall monitor trace` on a running lab (issue 15, tracing a chosen flow):
// a rule marks echo requests with `meta nftrace set 1`; a monitor client sees
// exactly those packets, each from the marking rule to where it went, and
// not the echo replies of the same flow (nft traces packets, not flows).
// Clients that leave do not bother the firewall: one killed while nothing
// flows, and one stopped (SIGSTOP) that never reads while it asked for every
// packet's trace during a ping flood: the firewall drops it and forwards on.
// Needs root.

import Foundation
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabMonitorTraceTests {
    let name = "mtr\(getpid() % 100_000)"

    func tunwall(_ arguments: [String]) throws -> Run { try Tool.run(Tool.binary, arguments) }
    func exec(_ host: String, _ command: [String]) throws -> Run { try Tool.labExec(name, host, command) }

    static let ruleset = """
        table inet filter {
        \tchain forward {
        \t\ttype filter hook forward priority filter; policy drop;
        \t\ticmp type echo-request meta nftrace set 1
        \t\tct state established,related accept
        \t\ticmp type echo-request accept
        \t}
        }

        """

    /// `tunwall monitor trace [--all] --lab NAME`, its output in `file`.
    func monitor(_ file: URL, all: Bool = false) throws -> Process {
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let process = Process()
        process.executableURL = Tool.binary
        process.arguments = ["monitor", "trace"] + (all ? ["--all"] : []) + ["--lab", name]
        process.standardOutput = try FileHandle(forWritingTo: file)
        process.standardError = FileHandle.nullDevice
        try Tool.start(process)
        return process
    }

    func letTheFirewallTakeClients(startedAt before: Date) {
        // The firewall takes a new client when its loop comes round: give it that moment.
        Thread.sleep(forTimeInterval: max(0, 0.5 - Date().timeIntervalSince(before)))
    }

    @Test func marksAreStreamedAndLeavingClientsAreDropped() throws {
        let lab = try LabWorkspace("Topologies/stateful.json", name: name, ruleset: ("trace.nft", LabMonitorTraceTests.ruleset))
        defer { lab.down() }
        let directory = lab.directory

        let started = Date()
        let watcher = try monitor(directory.appendingPathComponent("watcher.txt"))
        defer { if watcher.isRunning { watcher.terminate() } }
        let leaver = try monitor(directory.appendingPathComponent("leaver.txt"))
        let staller = try monitor(directory.appendingPathComponent("staller.txt"), all: true)
        defer { if staller.isRunning { kill(staller.processIdentifier, SIGCONT); staller.terminate() } }
        letTheFirewallTakeClients(startedAt: started)
        // One client leaves while nothing flows; another stops reading.
        kill(leaver.processIdentifier, SIGKILL)
        leaver.waitUntilExit()
        kill(staller.processIdentifier, SIGSTOP)

        // Three echo requests: three traces, each from the marking rule to wan0; no reply traced.
        let ping = try exec("client", ["ping", "-c", "3", "-i", "0.2", "-W", "2", "203.0.113.10"])
        #expect(ping.status == 0, "\(ping.stdout)\(ping.stderr)")
        Thread.sleep(forTimeInterval: 0.5)
        let seen = (try? String(contentsOf: directory.appendingPathComponent("watcher.txt"), encoding: .utf8)) ?? ""
        let marks = seen.split(separator: "\n").filter { $0.hasPrefix("trace id ") }
        #expect(marks.count == 3, "three marked packets:\n\(seen)")
        for mark in marks {
            #expect(mark.contains(" inet filter forward rule icmp type echo-request meta nftrace set 1 (verdict continue) at trace.nft:4"),
                    "\(mark)")
        }
        #expect(seen.contains("lan0 IP 10.0.1.2 > 203.0.113.10: ICMP echo request"), "\(seen)")
        #expect(seen.contains("  rule: accept at trace.nft:6 (forward) icmp type echo-request accept"), "\(seen)")
        #expect(seen.contains(" -> wan0 IP 10.0.1.2 > 203.0.113.10: ICMP echo request"), "\(seen)")
        #expect(!seen.contains("echo reply"), "replies are not marked, so not traced:\n\(seen)")

        // A flood while the stopped client wants every packet's trace: the firewall must
        // not wait for it (it is dropped once its socket is full) and forwards on.
        let flood = try exec("client", ["ping", "-f", "-c", "3000", "-w", "60", "203.0.113.10"])
        #expect(flood.stdout.contains("3000 packets transmitted"), "\(flood.stdout)\(flood.stderr)")
        let after = try exec("client", ["ping", "-c", "1", "-W", "2", "203.0.113.10"])
        #expect(after.status == 0, "the firewall forwards after the flood: \(after.stdout)")
        kill(staller.processIdentifier, SIGCONT)
        // Dropped: once it reads what was sent before, it sees the end of the stream and exits.
        let deadline = Date().addingTimeInterval(10)
        while staller.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!staller.isRunning, "the stalled client was dropped by the firewall")
        #expect(watcher.isRunning, "the reading client stays")
        let stats = try tunwall(["stats", "--lab", name])
        #expect(stats.status == 0)

        // The watcher's stream ends with the firewall.
        _ = try tunwall(["lab", "down", name])
        let end = Date().addingTimeInterval(10)
        while watcher.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!watcher.isRunning && watcher.terminationStatus == 0, "monitor trace ends when the firewall stops")
    }
}

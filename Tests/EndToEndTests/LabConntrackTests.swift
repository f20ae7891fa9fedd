// `tunwall conntrack` with conntrack-tools' commands against a running lab
// (Topologies/masquerade.json) and real TCP connections held open between
// its namespaces: -L with filters, -C, -D of one connection (its entry gone,
// and DESTROY in a filtered -E with an event mask), -D that matches nothing
// (exit 1), -U of the mark, -F then a count of 0, a usage error (exit 2);
// then `lab down FILE` finds the lab although it was started with --name.
// Needs root.

import Foundation
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabConntrackTests {
    let name = "ct\(getpid() % 100_000)"

    func conntrack(_ arguments: String...) throws -> Run {
        try Tool.run(Tool.binary, ["conntrack"] + arguments + ["--lab", name])
    }

    @Test func operationsOnRealConnections() throws {
        // A copy of its own, so that `lab down FILE` below finds this lab
        // only, whatever other suites start from Topologies/masquerade.json.
        let original = try String(contentsOf: repository.appendingPathComponent("Topologies/masquerade.json"), encoding: .utf8)
        let rules = repository.appendingPathComponent("Topologies/masquerade.nft").path
        let copy = original.replacingOccurrences(of: "\"ruleset\": \"masquerade.nft\"", with: "\"ruleset\": \"\(rules)\"")
        try #require(copy != original)
        let file = try Tool.temporaryFile(Array(copy.utf8), name: "conntrack-lab.json")
        defer { try? FileManager.default.removeItem(at: file) }
        let topology = file.path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"])
        var isUp = true
        defer { if isUp { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) } }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")

        // A server that keeps every connection open, and a client that opens
        // one to each port and holds them: two ESTABLISHED, masqueraded entries.
        let server = try Tool.labBackground(name, "server", ["python3", "-c", """
            import socket, select, time
            listeners = []
            for port in (7100, 7200):
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("203.0.113.10", port)); s.listen(); listeners.append(s)
            held = []
            end = time.time() + 120
            while time.time() < end:
                ready, _, _ = select.select(listeners, [], [], 1)
                for s in ready: held.append(s.accept()[0])
            """])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 7200, address: "203.0.113.10")
        let client = try Tool.labBackground(name, "client", ["python3", "-c", """
            import socket, time
            held = [socket.create_connection(("203.0.113.10", port), timeout=10) for port in (7100, 7200)]
            time.sleep(120)
            """])
        defer { client.terminate() }
        var established = ""
        for _ in 0..<50 {
            established = try conntrack("-L", "-p", "tcp", "--state", "ESTABLISHED", "-s", "10.0.1.2").stdout
            if established.split(separator: "\n").count == 2 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(established.split(separator: "\n").count == 2, "two held connections:\n\(established)")

        // -L with filters on both tuples, and conntrack-tools' footer.
        let listed = try conntrack("-L", "-p", "tcp", "--dport=7100", "--reply-dst", "203.0.113.1")
        #expect(listed.status == 0)
        #expect(listed.stderr == "conntrack v0.1.0 (tunwall): 1 flow entries have been shown.\n", "\(listed.stderr)")
        #expect(listed.stdout.hasPrefix("tcp      6 ") && listed.stdout.contains("ESTABLISHED src=10.0.1.2 dst=203.0.113.10 ")
                && listed.stdout.contains("dport=7100 ") && listed.stdout.contains("[ASSURED]"), "\(listed.stdout)")
        let count = try conntrack("-C")
        #expect(count.status == 0 && (Int(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 2)

        // A filtered event stream: only DESTROY, only TCP.
        let eventsFile = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-ct-events-\(getpid())")
        let footerFile = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-ct-footer-\(getpid())")
        FileManager.default.createFile(atPath: eventsFile.path, contents: nil)
        FileManager.default.createFile(atPath: footerFile.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: eventsFile)
            try? FileManager.default.removeItem(at: footerFile)
        }
        let events = Process()
        events.executableURL = Tool.binary
        events.arguments = ["conntrack", "-E", "-p", "tcp", "-e", "DESTROY", "--lab", name]
        events.standardOutput = try FileHandle(forWritingTo: eventsFile)
        events.standardError = try FileHandle(forWritingTo: footerFile)
        try Tool.start(events)
        defer { if events.isRunning { events.terminate() } }
        Thread.sleep(forTimeInterval: 0.3)

        // -D of one connection: printed, counted, gone.
        let deleted = try conntrack("-D", "-p", "tcp", "--dport", "7100")
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(deleted.stderr == "conntrack v0.1.0 (tunwall): 1 flow entries have been deleted.\n", "\(deleted.stderr)")
        #expect(deleted.stdout.split(separator: "\n").count == 1 && deleted.stdout.contains("dport=7100 "))
        let gone = try conntrack("-L", "-p", "tcp", "--dport", "7100")
        #expect(gone.stdout.isEmpty && gone.stderr.contains(": 0 flow entries have been shown."))
        let again = try conntrack("-D", "-p", "tcp", "--dport", "7100")
        #expect(again.status == 1 && again.stderr == "conntrack v0.1.0 (tunwall): 0 flow entries have been deleted.\n")
        #expect(try conntrack("-L", "-p", "tcp", "--dport", "7200").stdout.split(separator: "\n").count == 1, "the other stays")

        Thread.sleep(forTimeInterval: 0.5)
        events.terminate()
        events.waitUntilExit()
        let stream = (try? String(contentsOf: eventsFile, encoding: .utf8)) ?? ""
        let lines = stream.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.hasPrefix("[DESTROY] tcp      6 src=10.0.1.2 dst=203.0.113.10 ") == true
                && stream.contains("dport=7100 "), "only the deletion, only TCP:\n\(stream)")
        let footer = (try? String(contentsOf: footerFile, encoding: .utf8)) ?? ""
        #expect(footer == "conntrack v0.1.0 (tunwall): 1 flow events have been shown.\n", "\(footer)")

        // -U sets the mark, which -m then finds.
        let updated = try conntrack("-U", "-p", "tcp", "--dport", "7200", "-m", "42")
        #expect(updated.status == 0 && updated.stderr.contains(": 1 flow entries have been updated.") && updated.stdout.contains("mark=42 "))
        #expect(try conntrack("-L", "-m", "42").stdout.split(separator: "\n").count == 1)
        #expect(try conntrack("-U", "-p", "udp", "-m", "1").status == 1, "nothing to update")

        // A usage error as conntrack-tools words it, exit 2.
        let usage = try conntrack("-L", "--sport", "1")
        #expect(usage.status == 2 && usage.stderr.hasPrefix("conntrack v0.1.0 (tunwall): unknown option `--sport'"))

        // -F, then nothing is left.
        let flush = try conntrack("-F")
        #expect(flush.status == 0 && flush.stdout.isEmpty)
        #expect(flush.stderr == "conntrack v0.1.0 (tunwall): connection tracking table has been emptied.\n")
        #expect(try conntrack("-C").stdout == "0\n")
        #expect(try conntrack("-F", "expect").stderr.contains("expectation table has been emptied."))

        // `lab down FILE` finds the lab started from that file under another name.
        let down = try Tool.run(Tool.binary, ["lab", "down", topology])
        #expect(down.status == 0 && down.stdout.hasPrefix("lab \(name) is down"), "\(down.stdout)\(down.stderr)")
        isUp = down.status != 0
        #expect(LabChecks.namespaces(of: name).isEmpty)
    }
}

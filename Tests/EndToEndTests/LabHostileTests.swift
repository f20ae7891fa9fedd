// Issue 12's hostile lab suite: tunwall attacked as an attacker would, with
// the Linux kernel as the oracle. Every case runs twice through
// Topologies/hostile.json (ftp-masquerade.json's client 10.0.1.2 — firewall —
// server 203.0.113.10 with masquerade and the FTP helper by `ct helper set`,
// and a conntrack table of 262144 entries, the kernel's nf_conntrack_max
// here): once with tunwall as the firewall and once with `lab up --kernel`,
// the kernel running the same ruleset; tunwall must do at least as well.
//
// The suite's cases, with the RST sweep in its own file:
// - forged resets (LabForgedResetTests): 20 out-of-window RSTs at a
//   masqueraded connection, which must outlive them (tcp_in_window);
// - out-of-window data injection: a segment 2^30 above the window never
//   reaches the client (tcp_in_window's upper bound: ct state invalid, which
//   the forward chain's policy drops); one 2^30 below it is passed by both,
//   as Linux passes "overly delayed" segments (counted, and the client's
//   stream must hold only the genuine data);
// - forged SYN-ACKs on an FTP control connection, then active-mode transfers
//   with pyftpdlib and ftplib (conntrack ignores SYN-ACK on an established
//   connection; the helper never moves on a segment without payload);
// - ICMP port unreachable with a spoofed outer destination: it never reaches
//   the client (nf_conntrack_inet_error), a genuine one does;
// - a SYN flood (hping3 --rand-source) at another port while a download
//   runs: the download arrives intact, a new connection works right after;
// - the same flood at the download's own port until masquerade's ports toward
//   it run out: tunwall reclaims a mapping (`nat-reclaimed`) and the new
//   connection works; the kernel refuses it until the flood's entries time
//   out (recorded, not asserted: here tunwall must do better);
// - a storm of malformed packets (scapy's fuzz), after which the firewall
//   still forwards.
// Needs root, hping3 and python3-scapy (Scripts/test.sh installs them).

import Foundation
import Testing
import TestSupport
import TestSeeds

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabHostileTests {
    /// Brings up Topologies/hostile.json as lab `h<pid><tag>[k]` (with the
    /// kernel as the firewall when `kernel`), runs `body`, and takes it down
    /// whatever happens.
    func withLab(_ tag: String, kernel: Bool, _ body: (String) throws -> Void) throws {
        let missing = [("/usr/sbin/hping3", "hping3"), (systemPython, "python3")]
            .filter { !FileManager.default.isExecutableFile(atPath: $0.0) }.map(\.1)
            + ((try? Tool.run(URL(fileURLWithPath: systemPython), ["-c", "import scapy, pyftpdlib"]))?.status == 0
               ? [] : ["python3-scapy or python3-pyftpdlib"])
        try #require(missing.isEmpty, "missing Debian packages: \(missing.joined(separator: " ")) (Scripts/test.sh installs them)")
        let name = "h\(getpid() % 100_000)\(tag)" + (kernel ? "k" : "")
        let topology = repository.appendingPathComponent("Topologies/hostile.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"] + (kernel ? ["--kernel"] : []))
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
        try body(name)
    }

    func python(_ lab: String, _ host: String, _ script: String, _ arguments: [String] = [], seconds: Int = 40) throws -> Run {
        try Tool.labExec(lab, host, ["timeout", String(seconds), systemPython, "-c", script] + arguments)
    }

    /// One number from `tunwall stats --lab`: the line starting with `prefix`,
    /// its first number (`nat-reclaimed 3 (...)`, `conntrack invalid (5):`).
    static func stat(_ lab: String, _ prefix: String) throws -> UInt64 {
        let stats = try Tool.run(Tool.binary, ["stats", "--lab", lab])
        guard stats.status == 0 else { throw LabCheckFailure("tunwall stats --lab \(lab): \(stats.stderr)") }
        guard let line = stats.stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        let digits = line.dropFirst(prefix.count).drop { !$0.isNumber }.prefix { $0.isNumber }
        return UInt64(digits) ?? 0
    }

    /// The kernel firewall's conntrack statistic `column` (/proc/net/stat/nf_conntrack
    /// in its namespace, summed over the CPUs): `insert_failed` counts the new
    /// connections whose NAT found no free tuple (nf_conntrack_confirm's clash).
    static func kernelStat(_ lab: String, _ column: String) throws -> UInt64 {
        let run = try Tool.labExec(lab, "fw", ["cat", "/proc/net/stat/nf_conntrack"])
        let lines = run.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        guard let header = lines.first, let index = header.firstIndex(of: Substring(column)) else {
            throw LabCheckFailure("/proc/net/stat/nf_conntrack in \(lab)'s fw: \(run.stdout)\(run.stderr)")
        }
        return lines.dropFirst().reduce(0) { $0 + (index < $1.count ? UInt64($1[index], radix: 16) ?? 0 : 0) }
    }

    /// Whether `process` ended with status 0 within `seconds`.
    static func finished(_ process: Process, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return !process.isRunning && process.terminationStatus == 0
    }

    @Test(arguments: [false, true])
    func outOfWindowDataNeverReachesTheClient(kernel: Bool) throws {
        try withLab("w", kernel: kernel) { name in
            let invalidBefore = kernel ? 0 : try Self.stat(name, "conntrack invalid")
            let server = try Tool.labBackground(name, "server", [systemPython, "-c", HostilePrograms.injectingServer])
            defer { server.terminate() }
            try LabChecks.waitUntilListening(lab: name, host: "server", port: 7005, address: "203.0.113.10")
            let run = try python(name, "client", HostilePrograms.injectedClient)
            #expect(run.status == 0, "\(run.stderr)")
            let counts = captures(#"above=(\d+) below=(\d+)"#, in: run.stdout) ?? []
            #expect(run.stdout.hasPrefix("b'genuine\\n' "), "the client's stream holds only the genuine line: \(run.stdout)")
            #expect(counts.first == "0", "the segment above the window never reached the client's namespace: \(run.stdout)")
            #expect(Self.finished(server), "the server injected both segments")
            print("LabHostileTests: out-of-window injection, \(kernel ? "kernel" : "tunwall"): \(run.stdout.trimmingCharacters(in: .newlines))")
            if kernel { return }
            #expect(try Self.stat(name, "conntrack invalid") >= invalidBefore + 1, "tunwall called the segment above the window invalid")
        }
    }

    @Test(arguments: [false, true])
    func forgedSynAckOnTheFTPControlConnectionThenActiveTransfers(kernel: Bool) throws {
        try withLab("f", kernel: kernel) { name in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-hostile-\(getpid())-\(name)")
            let home = directory.appendingPathComponent("home")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let seed = testSeed(0x5359_4e41)
            var random = SeededGenerator(seed: seed)
            let content = Data(random.bytes(1_000_000))
            try content.write(to: home.appendingPathComponent("file.bin"))
            let server = try Tool.labBackground(name, "server", [systemPython, "-c", HostilePrograms.ftpServer, home.path, String(seed)])
            defer { server.terminate() }
            try LabChecks.waitUntilListening(lab: name, host: "server", port: 21, address: "203.0.113.10")

            let run = try python(name, "client", HostilePrograms.ftpClient)
            let digest = try Tool.run(URL(fileURLWithPath: "/usr/bin/sha256sum"), [home.appendingPathComponent("file.bin").path])
            let expected = "1000000 \(digest.stdout.prefix(64)) file.bin\n"
            #expect(run.status == 0, "\(run.stderr) (seed \(seed))")
            #expect(run.stdout == expected, "the active-mode download and listing after the forged SYN-ACKs (seed \(seed))")
            let forged = try? String(contentsOf: directory.appendingPathComponent("forged"), encoding: .utf8)
            #expect(forged == "5", "the server forged five SYN-ACKs after the login")
        }
    }

    @Test(arguments: [false, true])
    func icmpErrorWithASpoofedOuterDestinationNeverReachesTheClient(kernel: Bool) throws {
        try withLab("i", kernel: kernel) { name in
            let invalidBefore = kernel ? 0 : try Self.stat(name, "conntrack invalid")
            let server = try Tool.labBackground(name, "server", [systemPython, "-c", HostilePrograms.icmpServer])
            defer { server.terminate() }
            try LabChecks.waitUntilListening(lab: name, host: "server", port: 7004, address: "203.0.113.10", udp: true)
            let run = try python(name, "client", HostilePrograms.icmpClient)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout == "reply spoofed=0 genuine=1\n",
                    "the spoofed errors stayed out, the genuine one (the capture's control) came in")
            #expect(Self.finished(server), "the server sent its errors")
            if kernel { return }
            #expect(try Self.stat(name, "conntrack invalid") >= invalidBefore + 3, "tunwall counted the spoofed errors invalid")
        }
    }

    /// The download server, a download started in the client, and an hping3
    /// flood of spoofed SYNs from the client at `port` that runs until
    /// `until` says enough (checked every 250 ms, at most `seconds`). Then,
    /// once `count` (a firewall statistic) has settled, a new connection is
    /// tried right away, and the download must arrive intact; returns what
    /// the new connection printed, how long the flood ran and `count` as it
    /// was before the new connection.
    func floodDuringDownload(_ name: String, port: Int, seconds: Double, count: () throws -> UInt64 = { 0 },
                             until: () throws -> Bool) throws -> (fresh: String, floodSeconds: Double, count: UInt64) {
        let server = try Tool.labBackground(name, "server", [systemPython, "-c", HostilePrograms.downloadServer])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 8080, address: "203.0.113.10")
        let download = Handoff<Run?>()
        let lab = name
        DispatchQueue.global().async {
            download.set(try? Tool.labExec(lab, "client", ["timeout", "90", systemPython, "-c", HostilePrograms.downloadClient]))
        }
        // The flood starts once the download is up: a SYN the flood delayed
        // would test the client's retransmission timer, not the firewall.
        let established = Date()
        while Date().timeIntervalSince(established) < 15,
              try Tool.labExec(name, "client", ["ss", "-Htn", "state", "established", "dst", "203.0.113.10:8080"])
                .stdout.isEmpty {
            Thread.sleep(forTimeInterval: 0.1)
        }
        let flood = try Tool.labBackground(name, "client", ["/usr/sbin/hping3", "--flood", "--rand-source", "-S",
                                                             "-p", String(port), "203.0.113.10"])
        let start = Date()
        defer { if flood.isRunning { flood.terminate() } }
        while Date().timeIntervalSince(start) < seconds, try !until() { Thread.sleep(forTimeInterval: 0.25) }
        let floodSeconds = Date().timeIntervalSince(start)
        flood.interrupt()
        flood.waitUntilExit()
        // What the flood left queued (the TUN device's queue, the firewall's
        // backlog) is forwarded before the new connection, so `count` is the flood's.
        var settled = try count()
        for _ in 0..<12 {
            Thread.sleep(forTimeInterval: 0.25)
            let now = try count()
            if now == settled { break }
            settled = now
        }
        let fresh = try python(name, "client", HostilePrograms.freshClient, seconds: 10)
        let downloaded = download.wait(seconds: 100) ?? nil
        #expect(downloaded?.stdout == "connected\nintact\n", "the download beside the flood: \(downloaded?.stdout ?? "none") \(downloaded?.stderr ?? "")")
        return (fresh.stdout.trimmingCharacters(in: .whitespacesAndNewlines), floodSeconds, settled)
    }

    @Test(arguments: [false, true])
    func synFloodAtAnotherPortWhileADownloadRuns(kernel: Bool) throws {
        try withLab("s", kernel: kernel) { name in
            let result = try floodDuringDownload(name, port: 8081, seconds: 3) { false }
            #expect(result.fresh == "fresh", "a new connection right after the flood")
            let entries = kernel
                ? try Tool.labExec(name, "fw", ["cat", "/proc/sys/net/netfilter/nf_conntrack_count"]).stdout
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                : String(try Self.stat(name, "conntrack entries"))
            print("LabHostileTests: SYN flood at another port, \(kernel ? "kernel" : "tunwall"): new connection \(result.fresh); "
                  + "conntrack entries \(entries) of 262144")
        }
    }

    /// The flood runs until the firewall shows that masquerade's ports toward
    /// 203.0.113.10:8080 are gone: tunwall reclaiming mappings (≥ 500 of
    /// them), the kernel refusing new connections (insert_failed ≥ 500),
    /// and the table no longer growing (fewer than 20 new entries in 250 ms
    /// of a flood of thousands a second): almost every port is taken, so the
    /// new connection's own search (at most 248 candidates) finds none free.
    @Test(arguments: [false, true])
    func synFloodAtTheDownloadsOwnPortExhaustsTheNATPorts(kernel: Bool) throws {
        try withLab("r", kernel: kernel) { name in
            let exhausted = kernel ? { try Self.kernelStat(name, "insert_failed") } : { try Self.stat(name, "nat-reclaimed") }
            let entries = kernel
                ? { UInt64(try Tool.labExec(name, "fw", ["cat", "/proc/sys/net/netfilter/nf_conntrack_count"]).stdout
                        .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
                : { try Self.stat(name, "conntrack entries") }
            var lastEntries: UInt64 = 0
            let result = try floodDuringDownload(name, port: 8080, seconds: 40, count: exhausted) {
                let now = try entries()
                defer { lastEntries = now }
                // How fast the flood goes depends on the machine's load (two
                // cores shared with hping3), so the count only shows the ports
                // ran out; the table no longer growing shows they stay out.
                return try exhausted() >= 500 && now < lastEntries + 20
            }
            let afterFlood = result.count
            if kernel {
                // The oracle's answer, recorded: Linux keeps refusing while the
                // flood's SYN_RECV entries live (60 s), so here tunwall does better.
                print("LabHostileTests: SYN flood at the download's port, kernel: flood \(String(format: "%.1f", result.floodSeconds)) s, "
                      + "insert_failed \(afterFlood), conntrack entries \(try entries()); "
                      + "new connection: \(result.fresh)")
                return
            }
            #expect(afterFlood >= 500, "the flood ran out of masquerade's ports (nat-reclaimed \(afterFlood) after \(result.floodSeconds) s)")
            #expect(result.fresh == "fresh", "NAT reclaim lets the new connection through right after the flood")
            let reclaimedByIt = try Self.stat(name, "nat-reclaimed") - afterFlood
            #expect(reclaimedByIt >= 1, "the new connection found no free port and took back a flood's mapping")
            print("LabHostileTests: SYN flood at the download's port, tunwall: flood \(String(format: "%.1f", result.floodSeconds)) s, "
                  + "nat-reclaimed \(afterFlood) during it, \(reclaimedByIt) by the new connection: \(result.fresh)")
        }
    }

    @Test(arguments: [false, true])
    func stormOfMalformedPacketsLeavesTheFirewallForwarding(kernel: Bool) throws {
        try withLab("z", kernel: kernel) { name in
            let server = try Tool.labBackground(name, "server", [systemPython, "-c", HostilePrograms.echoServer])
            defer { server.terminate() }
            try LabChecks.waitUntilListening(lab: name, host: "server", port: 7006)
            let seed = testSeed(0x6675_7a7a)
            let storm = try python(name, "client", HostilePrograms.fuzzStorm, [String(seed % 1_000_000_007)], seconds: 120)
            #expect(storm.status == 0, "\(storm.stderr) (seed \(seed))")
            #expect(storm.stdout.hasPrefix("sent="), "\(storm.stdout)")
            let echo = try python(name, "client", HostilePrograms.echoClient, seconds: 10)
            #expect(echo.stdout == "still forwarding\nstill forwarding\n", "a connection over IPv4 and one over IPv6 after the storm (seed \(seed)): \(echo.stderr)")
            if kernel { return }
            let stats = try Tool.run(Tool.binary, ["stats", "--lab", name])
            #expect(stats.status == 0, "the firewall answers after the storm: \(stats.stderr)")
            // The drop reasons and conntrack's invalid reasons, "name count" each.
            let reasons = stats.stdout.split(separator: "\n").drop { !$0.hasPrefix("drops") }
                .filter { $0.hasPrefix("  ") }.map { line in
                    line.split(separator: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                        .prefix(2).joined(separator: " ")
                }
            #expect(!reasons.isEmpty, "the storm's packets were dropped with counted reasons:\n\(stats.stdout)")
            print("LabHostileTests: fuzz storm, tunwall: \(storm.stdout.trimmingCharacters(in: .whitespacesAndNewlines)); "
                  + reasons.joined(separator: ", "))
        }
    }
}

// Rules with real programs: Topologies/stateful.json (basic-stateful.nft)
// lets the client reach the server, keeps the server from opening a
// connection to the client (dropped and counted), refuses telnet with a reset
// the client sees at once, and keeps a long download running across a
// reload of a changed ruleset and across a refused bad one. Servers are seen
// listening (ss, in their namespace) before the first packet; no client
// retries. Needs root.

import Foundation
import Testing
import TestSupport
import TestSeeds

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabRulesTests {
    let name = "rul\(getpid() % 100_000)"

    func tunwall(_ arguments: [String]) throws -> Run { try Tool.run(Tool.binary, arguments) }
    func exec(_ host: String, _ command: [String]) throws -> Run { try Tool.labExec(name, host, command) }
    func background(_ host: String, _ command: [String]) throws -> Process { try Tool.labBackground(name, host, command) }

    @Test func statefulRulesRejectAndReloadUnderTraffic() throws {
        let topology = repository.appendingPathComponent("Topologies/stateful.json").path
        let up = try tunwall(["lab", "up", topology, "--name", name, "--daemon"])
        defer { _ = try? tunwall(["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-rules-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SeededGenerator(seed: testSeed(0x72_756c65))
        let content = Data(random.bytes(4_000_000))
        try content.write(to: directory.appendingPathComponent("big.bin"))
        let server = try background("server", ["python3", "-m", "http.server", "8080", "--bind", "203.0.113.10",
                                               "--directory", directory.path])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 8080, address: "203.0.113.10")

        // 1. The client reaches the server, at the first attempt.
        let small = try exec("client", ["curl", "-sS", "--fail", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code}",
                                        "http://203.0.113.10:8080/big.bin"])
        #expect(small.status == 0 && small.stdout == "200", "client to server: \(small.stderr)")

        // 2. The server cannot open a connection to the client: dropped, counted.
        let listener = try background("client", ["python3", "-c",
            "import socket,time; s=socket.socket(); s.bind(('10.0.1.2', 7000)); s.listen(); time.sleep(20)"])
        defer { listener.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "client", port: 7000, address: "10.0.1.2")
        let dropsBefore = try LabChecks.dropCount(lab: name, "rule-drop")
        let inbound = try exec("server", ["python3", "-c", """
            import socket, sys
            s = socket.socket(); s.settimeout(2)
            try:
                s.connect(("10.0.1.2", 7000)); print("connected")
            except OSError as e:
                print(type(e).__name__)
            """])
        #expect(inbound.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "TimeoutError",
                "the server's SYN must vanish: \(inbound.stdout) \(inbound.stderr)")
        let dropsAfter = try LabChecks.dropCount(lab: name, "rule-drop")
        #expect(dropsAfter > dropsBefore, "the SYNs were dropped by rule: rule-drop \(dropsBefore) -> \(dropsAfter)")
        let listing = try tunwall(["list", "ruleset", "--lab", name])
        #expect(listing.status == 0 && listing.stdout.contains("policy drop"))
        #expect(!listing.stdout.contains("\t\tcounter packets 0 bytes 0\n"), "the last rule counted the dropped SYNs:\n\(listing.stdout)")

        // 3. reject: telnet fails at once with a reset (curl: "Couldn't connect to server"
        //    after 0 ms, exit 7), not after a time-out.
        let started = Date()
        let telnet = try exec("client", ["curl", "-sS", "--max-time", "10", "telnet://203.0.113.10:23"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(telnet.status == 7, "curl: \(telnet.status) \(telnet.stderr)")
        #expect(elapsed < 3, "a reset is immediate; took \(elapsed) s")

        // 4. A slow download keeps going across a good reload and a refused bad one.
        let output = directory.appendingPathComponent("download.bin")
        let download = Process()
        download.executableURL = Tool.binary
        download.arguments = ["lab", "exec", "--lab", name, "client", "--", "curl", "-sS", "--fail", "--limit-rate", "1M",
                              "--max-time", "60", "-o", output.path, "http://203.0.113.10:8080/big.bin"]
        try Tool.start(download)
        defer { if download.isRunning { download.terminate() } }
        Thread.sleep(forTimeInterval: 1)
        let changed = directory.appendingPathComponent("changed.nft")
        var text = try String(contentsOf: repository.appendingPathComponent("Topologies/basic-stateful.nft"), encoding: .utf8)
        text = text.replacingOccurrences(of: "\t\t# New connections only from the LAN side.\n",
                                         with: "\t\t# New connections only from the LAN side.\n\t\tiifname \"lan0\" tcp dport 25 counter drop\n")
        try text.write(to: changed, atomically: true, encoding: .utf8)
        let good = try tunwall(["reload", changed.path, "--lab", name])
        #expect(good.status == 0, "reload: \(good.stderr)")
        Thread.sleep(forTimeInterval: 1)
        let bad = directory.appendingPathComponent("bad.nft")
        try "table inet filter {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t\ttcp dport 99999 accept\n\t}\n}\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        let refused = try tunwall(["reload", bad.path, "--lab", name])
        #expect(refused.status == 1 && refused.stderr.contains("bad.nft:4:") && refused.stderr.contains("unchanged"),
                "a bad file is refused with its line: \(refused.stderr)")
        let after = try tunwall(["list", "ruleset", "--lab", name])
        #expect(after.stdout.contains("tcp dport 25"), "the changed ruleset is still the running one")

        // SIGHUP re-reads the running ruleset's file.
        try text.replacingOccurrences(of: "tcp dport 25 counter drop", with: "tcp dport 26 counter drop")
            .write(to: changed, atomically: true, encoding: .utf8)
        // Never kill(0, …) on an unreadable pid file: that signals our own process group.
        let pid = try #require(LabChecks.pid(inFile: "/run/tunwall/labs/\(name)/pid"), "the firewall's pid file")
        #expect(kill(pid, SIGHUP) == 0)
        var reread = false
        for _ in 0..<20 where !reread {
            Thread.sleep(forTimeInterval: 0.1)
            reread = (try? tunwall(["list", "ruleset", "--lab", name]))?.stdout.contains("tcp dport 26") == true
        }
        #expect(reread, "SIGHUP reloads the file")
        download.waitUntilExit()
        #expect(download.terminationStatus == 0)
        #expect((try? Data(contentsOf: output)) == content, "the download crossed both reloads intact")
    }
}

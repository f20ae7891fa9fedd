// The firewall's own packets through NAT, with real programs and the Linux
// kernel as the oracle (issue 13): each case runs through tunwall and through
// a router namespace with the same ruleset (`lab up --kernel`).
//
// - Path MTU discovery through masquerade (Topologies/pmtu-masquerade.json):
//   the LAN link is 1280 bytes, the client's device says 1500, so the client
//   advertises MSS 1460 and the server's segments are too big for the LAN.
//   The download completes only if the firewall's "fragmentation needed" /
//   "packet too big" quotes the server's packet as the server sent it (to the
//   public address), so the server's stack matches it to its socket: Linux's
//   nf_nat_icmp_reply_translation. Before, tunwall quoted the packet after
//   NAT and the download stalled.
// - `reject with tcp reset` after DNAT (Topologies/port-forward-reject.json):
//   curl sees "connection refused" at once, because the reset leaves from the
//   address it talked to (Linux: nf_send_reset attaches the conntrack).
// Needs root.

import Foundation
import Testing
import TestSupport
import TestSeeds

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabGeneratedNATTests {
    let name = "gen\(getpid() % 100_000)"

    @Test(arguments: [false, true])
    func pathMTUDiscoveryThroughMasquerade(kernel: Bool) throws {
        let name = self.name + (kernel ? "k" : "t")
        let topology = repository.appendingPathComponent("Topologies/pmtu-masquerade.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"] + (kernel ? ["--kernel"] : []))
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
        // The client believes in 1500 bytes; the firewall's LAN side is 1280.
        let mtu = try Tool.labExec(name, "client", ["ip", "link", "set", "lan0", "mtu", "1500"])
        try #require(mtu.status == 0, "\(mtu.stderr)")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-pmtu-\(getpid())-\(kernel)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SeededGenerator(seed: testSeed(0x706d_7475))
        let content = Data(random.bytes(2_000_000))
        try content.write(to: directory.appendingPathComponent("file.bin"))
        let server = try Tool.labBackground(name, "server", ["/usr/bin/python3", "-m", "http.server", "8080", "--bind", "::",
                                                              "--directory", directory.path])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 8080)

        for url in ["http://203.0.113.10:8080/file.bin", "http://[2001:db8:1::10]:8080/file.bin"] {
            let output = directory.appendingPathComponent("download")
            let curl = try Tool.labExec(name, "client", ["curl", "-sS", "--fail", "--max-time", "30", "-o", output.path, url])
            #expect(curl.status == 0, "\(kernel ? "kernel" : "tunwall"): curl \(url): \(curl.stderr)")
            #expect((try? Data(contentsOf: output)) == content, "\(kernel ? "kernel" : "tunwall"): \(url) arrived changed")
            try? FileManager.default.removeItem(at: output)
        }
    }

    @Test(arguments: [false, true])
    func rejectAfterPortForwardIsConnectionRefused(kernel: Bool) throws {
        let name = self.name + (kernel ? "r" : "s")
        let topology = repository.appendingPathComponent("Topologies/port-forward-reject.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"] + (kernel ? ["--kernel"] : []))
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
        let started = Date()
        let curl = try Tool.labExec(name, "server", ["curl", "-sS", "--max-time", "10", "http://203.0.113.1:8081/"])
        let took = Date().timeIntervalSince(started)
        // curl's 7 is "couldn't connect" (the reset); 28 would be a timeout.
        #expect(curl.status == 7, "\(kernel ? "kernel" : "tunwall"): curl exited \(curl.status): \(curl.stderr)")
        #expect(took < 5, "refused at once, not after a timeout (\(took) s)")
    }

    /// The firewall's own answer to a redirected ping leaves through the
    /// connection's NAT: the client's ping of 192.0.2.53 gets its replies
    /// from 192.0.2.53, not from the firewall's 10.0.1.1.
    @Test(arguments: [false, true])
    func pingRedirectedToTheFirewallIsAnsweredFromTheAddressPinged(kernel: Bool) throws {
        let name = self.name + (kernel ? "p" : "q")
        let topology = repository.appendingPathComponent("Topologies/port-forward-reject.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"] + (kernel ? ["--kernel"] : []))
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
        let ping = try Tool.labExec(name, "client", ["ping", "-n", "-c", "2", "-W", "2", "192.0.2.53"])
        #expect(ping.status == 0 && ping.stdout.contains("bytes from 192.0.2.53"),
                "\(kernel ? "kernel" : "tunwall"): \(ping.stdout) \(ping.stderr)")
    }
}

// The whole firewall with real programs that nobody here wrote: the basic
// topology brought up by `tunwall lab up`, python3's http.server in the
// server namespace, curl in the client, over IPv4 and IPv6, a UDP exchange,
// and `tunwall conntrack -L` showing the connections; then `tunwall lab down`
// leaves no namespace, device or process. The firewall's TUN devices lan0 and
// wan0 live in the hosts' namespaces (created in tw-LAB-fw, then moved), never
// in the root namespace: that is where the test looks for them. Servers are
// seen listening (ss, in their namespace) before the first packet, and no
// client retries: a firewall that drops a first packet fails the test. Needs
// root; reported as skipped otherwise. Every packet stays inside the
// namespaces this test makes.

import Foundation
import Testing
import TestSupport
import TestSeeds

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabEndToEndTests {
    /// A unique lab name: namespaces tw-NAME-client, tw-NAME-server, tw-NAME-fw.
    let name = "e2e\(getpid() % 100_000)"

    func lab(_ arguments: String...) throws -> Run { try Tool.run(Tool.binary, ["lab"] + arguments) }
    func exec(_ host: String, _ command: [String]) throws -> Run { try Tool.labExec(name, host, command) }

    @Test func downloadsUDPAndConntrackThroughTheFirewall() throws {
        let topology = repository.appendingPathComponent("Topologies/basic.json").path
        let up = try lab("up", topology, "--name", name, "--daemon")
        // Read while the lab is up: a namespace `ip netns delete` unmounted
        // lives on (with its devices) while a process is still in it.
        let inodes = LabChecks.namespaceInodes(of: name)
        defer {
            let down = try? lab("down", name)
            #expect(down?.status == 0, "\(down?.stderr ?? "")")
            let left = LabChecks.leftovers(of: name, inodes: inodes.values)
            #expect(left.isEmpty, "left behind: \(left)")
        }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
        #expect(inodes.keys.sorted() == ["tw-\(name)-client", "tw-\(name)-fw", "tw-\(name)-server"], "\(inodes)")
        // Each TUN device is where the topology puts it: in its host's namespace, up, a tun device.
        for (device, host) in [("lan0", "client"), ("wan0", "server")] {
            let link = try exec(host, ["ip", "-d", "-o", "link", "show", "dev", device])
            #expect(link.status == 0 && link.stdout.contains("tun type tun") && link.stdout.contains(",UP"),
                    "\(device) in \(host): \(link.stdout) \(link.stderr)")
        }
        let firewallLinks = try Tool.run(URL(fileURLWithPath: "/usr/sbin/ip"), ["-n", "tw-\(name)-fw", "-o", "link"])
        #expect(firewallLinks.status == 0 && !firewallLinks.stdout.contains("lan0") && !firewallLinks.stdout.contains("wan0"),
                "the devices left the firewall's namespace: \(firewallLinks.stdout)")
        #expect(LabChecks.tunHolders(of: name).count == 1, "the firewall holds the TUN devices: \(LabChecks.tunHolders(of: name))")

        // A 2 MB file of random bytes, served from the server namespace.
        try HTTPDownload.serveAndFetch(lab: name, seed: testSeed(0x6532_65), size: 2_000_000,
                                       urls: ["http://203.0.113.10:8080/file.bin", "http://[2001:db8:1::10]:8080/file.bin"])

        // UDP: a one-shot echo server in the server, a client that waits for the answer.
        let echo = Process()
        echo.executableURL = Tool.binary
        echo.arguments = ["lab", "exec", "--lab", name, "server", "--", "python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("203.0.113.10", 9999))
            s.settimeout(20)
            data, peer = s.recvfrom(100)
            s.sendto(data.upper(), peer)
            """]
        try Tool.start(echo)
        defer { if echo.isRunning { echo.terminate() } }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 9999, address: "203.0.113.10", udp: true)
        // One datagram, sent once: the echo server is bound, so a loss is the firewall's.
        let udp = try exec("client", ["python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(10)
            s.sendto(b"hello firewall", ("203.0.113.10", 9999))
            print(s.recvfrom(100)[0].decode())
            """])
        echo.waitUntilExit()
        #expect(udp.stdout == "HELLO FIREWALL\n", "UDP exchange: \(udp.stderr)")

        let conntrack = try Tool.run(Tool.binary, ["conntrack", "-L", "--lab", name])
        #expect(conntrack.status == 0, "\(conntrack.stderr)")
        let lines = conntrack.stdout.split(separator: "\n")
        let http4 = lines.filter { $0.hasPrefix("tcp      6 ") && $0.contains("src=10.0.1.2 dst=203.0.113.10") && $0.contains("dport=8080") }
        // One connection per download: nothing was refused or retried.
        #expect(http4.count == 1 && http4.contains { $0.contains("[ASSURED]") },
                "not one assured HTTP connection in:\n\(conntrack.stdout)")
        let http6 = lines.filter { $0.contains("src=fd00:1::2 dst=2001:db8:1::10") && $0.contains("dport=8080") }
        #expect(http6.count == 1 && http6.contains { $0.contains("[ASSURED]") },
                "not one assured IPv6 HTTP connection in:\n\(conntrack.stdout)")
        let udpLine = lines.first { $0.hasPrefix("udp      17 ") && $0.contains("dport=9999") }
        #expect(udpLine != nil && udpLine?.contains("[UNREPLIED]") == false)
        #expect(conntrack.stderr.contains("flow entries have been shown"))

        let stats = try Tool.run(Tool.binary, ["stats", "--lab", name])
        #expect(stats.status == 0 && stats.stdout.contains("forwarded"))
    }
}

// `tunwall lab up FILE --kernel`: the same topology with the Linux kernel as
// the firewall (veth links, the topology's ruleset loaded by nft), the oracle
// the differential lab tests compare tunwall with. Needs root.

import Foundation
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabKernelTests {
    let name = "kern\(getpid() % 100_000)"

    /// Up: the hosts reach each other through the kernel over IPv4 and IPv6,
    /// masqueraded as the ruleset says, the ruleset is the file's, and
    /// `lab list` says who the firewall is. Down: nothing of the lab is left.
    @Test func kernelLabRunsTheTopologyAndLeavesNothing() throws {
        let topology = repository.appendingPathComponent("Topologies/masquerade.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon", "--kernel"])
        var isDown = false
        defer { if !isDown { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) } }
        try #require(up.status == 0, "lab up --kernel failed: \(up.stderr)")
        #expect(up.stdout.contains("the Linux kernel is the firewall"), "\(up.stdout)")
        #expect(LabChecks.tunHolders(of: name).isEmpty, "no tunwall runs as this lab's firewall")

        let list = try Tool.run(Tool.binary, ["lab", "list"])
        #expect(list.stdout.contains("\(name): up, firewall the Linux kernel"), "\(list.stdout)")
        let ruleset = try Tool.labExec(name, "fw", ["nft", "list", "chain", "inet", "nat", "postrouting"])
        #expect(ruleset.stdout.contains("oifname \"wan0\" masquerade"), "the topology's ruleset: \(ruleset.stdout)")

        let server = try Tool.labBackground(name, "server", ["/usr/bin/python3", "-c", """
            import socket, threading
            def serve(family, address):
                listener = socket.socket(family)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((address, 7001)); listener.listen(4)
                connection, peer = listener.accept()
                connection.sendall((peer[0] + "\\n").encode()); connection.close()
            threads = [threading.Thread(target=serve, args=(socket.AF_INET, "203.0.113.10")),
                       threading.Thread(target=serve, args=(socket.AF_INET6, "2001:db8:1::10"))]
            for t in threads: t.start()
            for t in threads: t.join()
            """])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 7001, address: "203.0.113.10")
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 7001, address: "2001:db8:1::10")
        let run = try Tool.labExec(name, "client", ["timeout", "20", "/usr/bin/python3", "-c", """
            import socket
            for address in ("203.0.113.10", "2001:db8:1::10"):
                s = socket.create_connection((address, 7001), timeout=10)
                print(s.makefile().readline().strip()); s.close()
            """])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "203.0.113.1\n2001:db8:1::1\n", "the server sees the firewall's addresses")

        let namespaces = LabChecks.namespaces(of: name)
        #expect(namespaces.count == 3, "fw, client, server: \(namespaces)")
        let down = try Tool.run(Tool.binary, ["lab", "down", name])
        isDown = true
        #expect(down.status == 0, "\(down.stderr)")
        #expect(LabChecks.namespaces(of: name).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/run/tunwall/labs/\(name)"))
    }

    /// Options that need tunwall as the firewall are refused with --kernel.
    @Test func kernelRefusesTunwallOnlyOptions() throws {
        let topology = repository.appendingPathComponent("Topologies/masquerade.json").path
        let run = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--kernel", "--trace"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("--kernel runs no tunwall"), "\(run.stderr)")
        #expect(LabChecks.namespaces(of: name).isEmpty)
    }
}

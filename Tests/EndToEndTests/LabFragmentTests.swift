// Fragmented UDP through masquerade with real programs (issue 13 items 1
// and 2), through tunwall and through the Linux kernel as the oracle (`lab up
// --kernel`, which reassembles with nf_defrag_ipv4 / nf_conntrack_reasm and
// refragments in ip_do_fragment / ip6_fragment): a python3 client sends a
// 4,096-byte and a 60,000-byte UDP datagram to a python3 echo server over
// IPv4 and IPv6. Each leaves the client's stack in fragments (MTU 1500), and
// so does each echo on its way back; the exchange works only if the
// firewall reassembles, translates and fragments again in both directions.
// Needs root.

import Foundation
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabFragmentTests {
    let name = "frag\(getpid() % 100_000)"

    static let echoServer = """
        import socket
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 7007))
        while True:
            data, peer = s.recvfrom(70000)
            s.sendto(data, peer)
        """

    /// Sends each size (three tries, 3 s apart) and prints what came back.
    static let echoClient = """
        import socket, sys
        host = sys.argv[1]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.settimeout(3)
        failed = False
        for size in (4096, 60000):
            data = bytes((i * 7 + size) & 255 for i in range(size))
            got = None
            for attempt in range(3):
                s.sendto(data, (host, 7007))
                try:
                    got, _ = s.recvfrom(70000)
                    break
                except socket.timeout:
                    pass
            ok = got == data
            print(host, size, "ok" if ok else "failed (%s)" % (None if got is None else len(got)))
            failed = failed or not ok
        sys.exit(1 if failed else 0)
        """

    @Test(arguments: [false, true])
    func fragmentedUDPEchoThroughMasquerade(kernel: Bool) throws {
        let name = self.name + (kernel ? "k" : "t")
        let topology = repository.appendingPathComponent("Topologies/masquerade.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"] + (kernel ? ["--kernel"] : []))
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
        let server = try Tool.labBackground(name, "server", ["/usr/bin/python3", "-c", Self.echoServer])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 7007, udp: true)
        for host in ["203.0.113.10", "2001:db8:1::10"] {
            let run = try Tool.labExec(name, "client", ["/usr/bin/python3", "-c", Self.echoClient, host])
            #expect(run.status == 0, "\(kernel ? "kernel" : "tunwall"): \(run.stdout) \(run.stderr)")
        }
    }
}

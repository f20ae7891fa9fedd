// Two inputs that used to kill the firewall process (issue 19), sent by real
// sockets through a real lab: an FTP server that answers EPSV with a bare
// "229", and IPv6 SNAT to a whole /64. Each test then shows the firewall
// alive (`tunwall stats` answers) and still doing its job; the first also
// runs through the Linux kernel with the same ruleset, which must agree. Needs root.

import Foundation
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabCrashRegressionTests {
    let name = "crash\(getpid() % 100_000)"

    /// A server of our own (python3 sockets) behind Topologies/ftp-masquerade.json
    /// answers the client's EPSV with "229", then "229-x" + "229", then a
    /// real 229, whose data connection must work: the helper survived both
    /// bare replies and still opens pinholes.
    static let server = """
        import socket, sys
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("203.0.113.10", 21)); listener.listen(1)
        data = socket.socket()
        data.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        data.bind(("203.0.113.10", 50000)); data.listen(1)
        control, _ = listener.accept()
        control.sendall(b"220 ready\\r\\n")
        replies = [b"229\\r\\n", b"229-x\\r\\n229\\r\\n", b"229 Entering Extended Passive Mode (|||50000|)\\r\\n"]
        reader = control.makefile("rb")
        for reply in replies:
            assert reader.readline().strip().upper() == b"EPSV"
            control.sendall(reply)
        connection, peer = data.accept()
        connection.sendall(b"hello through the pinhole\\n"); connection.close()
        assert reader.readline().strip().upper() == b"QUIT"
        control.sendall(b"221 bye\\r\\n")
        """

    static let client = """
        import socket
        control = socket.create_connection(("203.0.113.10", 21), timeout=10)
        reader = control.makefile("rb")
        def reply():
            lines = [reader.readline()]
            while lines[-1][3:4] == b"-":
                lines.append(reader.readline())
            return b"".join(lines)
        print(reply().decode().strip())
        for _ in range(3):
            control.sendall(b"EPSV\\r\\n")
            print(repr(reply()))
        data = socket.create_connection(("203.0.113.10", 50000), timeout=10)
        print(data.makefile("rb").readline().decode().strip())
        control.sendall(b"QUIT\\r\\n")
        print(reply().decode().strip())
        """

    /// Run through tunwall and, as the oracle, through the Linux kernel with
    /// the same ruleset (`lab up --kernel`): both must give the client the
    /// same transcript.
    @Test(arguments: [false, true])
    func bareExtendedPassiveReplyLeavesTheFirewallRunning(kernel: Bool) throws {
        let topology = repository.appendingPathComponent("Topologies/ftp-masquerade.json").path
        let name = self.name + (kernel ? "k" : "")
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"] + (kernel ? ["--kernel"] : []))
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")

        let server = try Tool.labBackground(name, "server", ["/usr/bin/python3", "-c", Self.server])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 21, address: "203.0.113.10")
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 50000, address: "203.0.113.10")

        let run = try Tool.labExec(name, "client", ["timeout", "30", "/usr/bin/python3", "-c", Self.client])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == """
            220 ready
            b'229\\r\\n'
            b'229-x\\r\\n229\\r\\n'
            b'229 Entering Extended Passive Mode (|||50000|)\\r\\n'
            hello through the pinhole
            221 bye

            """, "the bare replies pass unchanged, the real one opens the data connection")
        let deadline = Date().addingTimeInterval(10)
        while server.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!server.isRunning && server.terminationStatus == 0, "the server saw every command it expected")
        if kernel { return }
        let stats = try Tool.run(Tool.binary, ["stats", "--lab", name])
        #expect(stats.status == 0, "the firewall still answers: \(stats.stderr)")
        #expect(stats.stdout.contains("data connections let in by an expectation"), "the data connection came in as RELATED:\n\(stats.stdout)")
    }

    /// `snat to 2001:db8:1::/64` on wan0 for IPv6 (masquerade for IPv4):
    /// three connections from the client to a server that prints each
    /// peer's address. Every one arrives, from an address of the /64, the
    /// same one each time (a hash of source and destination, as Linux picks it).
    @Test func ipv6SNATToASlash64() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-crash-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let masquerade = try String(contentsOf: repository.appendingPathComponent("Topologies/masquerade.json"), encoding: .utf8)
        try masquerade.replacingOccurrences(of: "\"masquerade.nft\"", with: "\"snat64.nft\"")
            .write(to: directory.appendingPathComponent("snat64.json"), atomically: true, encoding: .utf8)
        try """
            flush ruleset
            table inet filter {
                chain forward {
                    type filter hook forward priority filter; policy drop;
                    ct state established,related accept
                    iifname "lan0" ct state new accept
                }
            }
            table ip nat {
                chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
            }
            table ip6 nat {
                chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" snat to 2001:db8:1::/64; }
            }

            """.write(to: directory.appendingPathComponent("snat64.nft"), atomically: true, encoding: .utf8)
        let up = try Tool.run(Tool.binary, ["lab", "up", directory.appendingPathComponent("snat64.json").path,
                                            "--name", name, "--daemon"])
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")

        let server = try Tool.labBackground(name, "server", ["/usr/bin/python3", "-c", """
            import socket
            listener = socket.socket(socket.AF_INET6)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("2001:db8:1::10", 7000)); listener.listen(8)
            for _ in range(3):
                connection, peer = listener.accept()
                connection.sendall((peer[0] + "\\n").encode()); connection.close()
            """])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 7000, address: "2001:db8:1::10")

        let run = try Tool.labExec(name, "client", ["timeout", "30", "/usr/bin/python3", "-c", """
            import socket
            for _ in range(3):
                s = socket.create_connection(("2001:db8:1::10", 7000), timeout=10)
                print(s.makefile().readline().strip()); s.close()
            """])
        #expect(run.status == 0, "\(run.stderr)")
        let peers = run.stdout.split(separator: "\n").map(String.init)
        #expect(peers.count == 3, "every connection arrived: \(run.stdout)")
        #expect(Set(peers).count == 1, "the same address each time: \(peers)")
        #expect(peers.allSatisfy { $0.hasPrefix("2001:db8:1::") || $0.hasPrefix("2001:db8:1:0:") }, "\(peers)")
        #expect(!peers.contains("fd00:1::2"), "the client's own address never leaves")
        let stats = try Tool.run(Tool.binary, ["stats", "--lab", name])
        #expect(stats.status == 0, "the firewall still answers: \(stats.stderr)")
    }
}

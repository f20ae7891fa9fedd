// NAT with real programs: in Topologies/masquerade.json the client downloads
// from the server over IPv4 and IPv6 while the server sees only the
// firewall's public addresses, and conntrack -L shows the translation in the
// reply tuple; in Topologies/port-forward.json the outside host reaches the
// DMZ web server through 203.0.113.1:8080 and a forwarded port range. Every
// server is seen listening (ss, in its namespace) before the client's one
// attempt: no retry could hide a dropped first packet. Needs root.

import Foundation
import Testing
import TestSupport
import TestSeeds

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabNATTests {
    let name = "nat\(getpid() % 100_000)"

    @Test func clientBehindMasquerade() throws {
        let topology = repository.appendingPathComponent("Topologies/masquerade.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"])
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-nat-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SeededGenerator(seed: testSeed(0x6e_6174))
        let content = Data(random.bytes(1_000_000))
        try content.write(to: directory.appendingPathComponent("file.bin"))
        let server = try Tool.labBackground(name, "server", ["python3", "-m", "http.server", "8080", "--bind", "::",
                                                              "--directory", directory.path])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 8080)

        // conntrack -E follows the connections as they come.
        let eventsFile = directory.appendingPathComponent("events.txt")
        FileManager.default.createFile(atPath: eventsFile.path, contents: nil)
        let events = Process()
        events.executableURL = Tool.binary
        events.arguments = ["conntrack", "-E", "--lab", name]
        events.standardOutput = try FileHandle(forWritingTo: eventsFile)
        try Tool.start(events)
        defer { if events.isRunning { events.terminate() } }
        Thread.sleep(forTimeInterval: 0.3)

        for url in ["http://203.0.113.10:8080/file.bin", "http://[2001:db8:1::10]:8080/file.bin"] {
            let output = directory.appendingPathComponent("download")
            let curl = try Tool.labExec(name, "client", ["curl", "-sS", "--fail", "--max-time", "60", "-o", output.path, url])
            #expect(curl.status == 0, "curl \(url): \(curl.stderr)")
            #expect(try Data(contentsOf: output) == content, "\(url): the file arrived changed")
        }

        Thread.sleep(forTimeInterval: 0.3)
        events.terminate()
        events.waitUntilExit()
        let stream = (try? String(contentsOf: eventsFile, encoding: .utf8)) ?? ""
        #expect(stream.contains("    [NEW] tcp      6 ") && stream.contains("dst=203.0.113.1 sport=8080"),
                "conntrack -E shows the new, translated connection:\n\(stream)")
        #expect(stream.contains(" [UPDATE] tcp      6 432000 ESTABLISHED src=10.0.1.2") && stream.contains("[ASSURED]"))

        // Who does the server see? A one-shot listener prints its peer.
        for (family, bind, connect, expected) in [("AF_INET", "203.0.113.10", "203.0.113.10", "203.0.113.1"),
                                                  ("AF_INET6", "2001:db8:1::10", "2001:db8:1::10", "2001:db8:1::1")] {
            let peerFile = directory.appendingPathComponent("peer-\(family)")
            let listener = try Tool.labBackground(name, "server", ["python3", "-c", """
                import socket
                s = socket.socket(socket.\(family)); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("\(bind)", 7001)); s.listen(); s.settimeout(20)
                c, peer = s.accept(); open("\(peerFile.path)", "w").write(peer[0]); c.close()
                """])
            defer { if listener.isRunning { listener.terminate() } }
            try LabChecks.waitUntilListening(lab: name, host: "server", port: 7001, address: bind)
            let client = try Tool.labExec(name, "client", ["python3", "-c", """
                import socket
                socket.create_connection(("\(connect)", 7001), timeout=10).close()
                """])
            listener.waitUntilExit()
            #expect(client.status == 0, "one connect to \(connect):7001: \(client.stderr)")
            #expect((try? String(contentsOf: peerFile, encoding: .utf8)) == expected, "the server's peer must be the firewall")
        }

        // An ICMP error from beyond the NAT finds the client's socket: UDP to a
        // closed port of the server comes back as "connection refused".
        let refused = try Tool.labExec(name, "client", ["python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
            s.connect(("203.0.113.10", 9)); s.send(b"probe")
            try:
                s.recv(10); print("answered")
            except ConnectionRefusedError:
                print("refused")
            except socket.timeout:
                print("timeout")
            """])
        #expect(refused.stdout == "refused\n", "port unreachable through the NAT: \(refused.stdout) \(refused.stderr)")

        // A probe with a small TTL dies beyond the NAT: the server, routing for
        // 198.51.100.0/24 (a veth pair of its own; this kernel has no dummy
        // devices), sends time exceeded to 203.0.113.1, and the client's socket
        // gets it (IP_RECVERR = 11: EHOSTUNREACH on the next recv).
        let routerSetUp = try Tool.labExec(name, "server", ["sh", "-c",
            "ip link add twv0 type veth peer name twv1 && ip addr add 198.51.100.1/24 dev twv0 "
            + "&& ip link set twv0 up && ip link set twv1 up && sysctl -qw net.ipv4.ip_forward=1"])
        #expect(routerSetUp.status == 0, "\(routerSetUp.stderr)")
        let probe = try Tool.labExec(name, "client", ["python3", "-c", """
            import socket, errno
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 2)
            s.setsockopt(socket.IPPROTO_IP, 11, 1)
            s.connect(("198.51.100.7", 33434)); s.send(b"probe")
            try:
                s.recv(10); print("answered")
            except OSError as e:
                print(errno.errorcode.get(e.errno, "timeout"))
            """])
        #expect(probe.stdout == "EHOSTUNREACH\n", "time exceeded through the NAT: \(probe.stdout) \(probe.stderr)")

        let conntrack = try Tool.run(Tool.binary, ["conntrack", "-L", "--lab", name])
        #expect(conntrack.stdout.contains("src=10.0.1.2 dst=203.0.113.10") && conntrack.stdout.contains("dst=203.0.113.1 sport=8080"),
                "the reply tuple shows the public address:\n\(conntrack.stdout)")
    }

    @Test func dmzServerBehindPortForwarding() throws {
        let lab = "pfw\(getpid() % 100_000)"
        let topology = repository.appendingPathComponent("Topologies/port-forward.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", lab, "--daemon"])
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", lab]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-pfw-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let content = Data("the DMZ says hello\n".utf8)
        try content.write(to: directory.appendingPathComponent("index.txt"))
        let web = try Tool.labBackground(lab, "dmz", ["python3", "-m", "http.server", "80", "--bind", "10.0.2.10",
                                                      "--directory", directory.path])
        defer { web.terminate() }
        try LabChecks.waitUntilListening(lab: lab, host: "dmz", port: 80, address: "10.0.2.10")

        // From outside, the public address and port reach the DMZ server.
        let fetch = try Tool.labExec(lab, "server", ["curl", "-sS", "--fail", "--max-time", "30",
                                                      "http://203.0.113.1:8080/index.txt"])
        #expect(fetch.status == 0 && fetch.stdout == "the DMZ says hello\n", "port 8080 -> 10.0.2.10:80: \(fetch.stderr)")
        // A port of the forwarded range keeps its number.
        let listener = try Tool.labBackground(lab, "dmz", ["python3", "-c", """
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("10.0.2.10", 5123)); s.listen(); s.settimeout(20)
            c, peer = s.accept(); c.sendall(b"range ok"); c.close()
            """])
        defer { if listener.isRunning { listener.terminate() } }
        try LabChecks.waitUntilListening(lab: lab, host: "dmz", port: 5123, address: "10.0.2.10")
        let ranged = try Tool.labExec(lab, "server", ["python3", "-c", """
            import socket
            c = socket.create_connection(("203.0.113.1", 5123), timeout=10); print(c.recv(20).decode())
            """])
        listener.waitUntilExit()
        #expect(ranged.stdout == "range ok\n", "5123 -> 10.0.2.10:5123: \(ranged.stderr)")
        // Other ports of the public address lead nowhere.
        let closed = try Tool.labExec(lab, "server", ["curl", "-sS", "--max-time", "3", "http://203.0.113.1:8081/"])
        #expect(closed.status != 0)

        let conntrack = try Tool.run(Tool.binary, ["conntrack", "-L", "--lab", lab])
        #expect(conntrack.stdout.contains("src=203.0.113.10 dst=203.0.113.1") && conntrack.stdout.contains("src=10.0.2.10 dst=203.0.113.10 sport=80"),
                "the reply tuple shows the DMZ server:\n\(conntrack.stdout)")
    }
}

// Issue 12's attack, in a real lab: 20 RST segments with random sequence
// numbers, forged from the server's namespace (python3 raw sockets) at the
// public address and port of an established masqueraded connection. Linux
// calls them invalid (tcp_packet's "invalid rst", tcp_in_window) and keeps
// the connection; run through tunwall and, as the oracle, through the kernel
// with the same ruleset (`lab up --kernel`), the client must still receive
// what the server sends 11 s later (past CLOSE's 10 s, had a reset closed
// the entry). Needs root.

import Foundation
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabForgedResetTests {
    let name = "rst\(getpid() % 100_000)"

    /// Accepts one connection, learns its own next sequence number from the
    /// client's acknowledgment (a raw socket sees inbound TCP), forges 20
    /// resets outside the window (the 2^25 bytes above it and the 2^20 below
    /// left out, so that no guess lands in it), waits 11 s and sends a line.
    static let server = """
        import random, socket, struct, sys, time
        def checksum(data):
            if len(data) % 2: data += b"\\0"
            total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
            while total >> 16: total = (total & 0xffff) + (total >> 16)
            return ~total & 0xffff
        sniffer = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("203.0.113.10", 7003)); listener.listen(1)
        connection, peer = listener.accept()
        assert connection.makefile("rb").readline() == b"hello\\n"
        sniffer.settimeout(5)
        while True:
            packet = sniffer.recv(65535)
            ihl = (packet[0] & 15) * 4
            sport, dport, seq, ack, offset, flags = struct.unpack("!HHIIBB", packet[ihl:ihl + 14])
            if packet[12:16] == socket.inet_aton(peer[0]) and sport == peer[1] and dport == 7003 and flags & 0x10:
                client_next = (seq + len(packet) - ihl - (offset >> 4) * 4) & 0xffffffff
                break
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        source, destination = socket.inet_aton("203.0.113.10"), socket.inet_aton(peer[0])
        rng = random.Random(int(sys.argv[1]))
        for i in range(20):
            guess = (ack + rng.randrange(1 << 25, (1 << 32) - (1 << 20))) & 0xffffffff
            flags = 0x04 if i % 2 == 0 else 0x14
            tcp = struct.pack("!HHIIBBHHH", 7003, peer[1], guess, client_next if flags & 0x10 else 0, 5 << 4, flags, 0, 0, 0)
            sum_ = checksum(source + destination + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
            tcp = tcp[:16] + struct.pack("!H", sum_) + tcp[18:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), rng.randrange(65536), 0, 64, 6, 0,
                             source, destination)
            raw.sendto(ip + tcp, (peer[0], 0))
        time.sleep(11)
        connection.sendall(b"after the resets\\n")
        connection.close()
        """

    static let client = """
        import socket
        s = socket.create_connection(("203.0.113.10", 7003), timeout=30)
        s.sendall(b"hello\\n")
        print(s.makefile("rb").readline().decode().strip())
        """

    @Test(arguments: [false, true])
    func forgedResetsDoNotCloseAMasqueradedConnection(kernel: Bool) throws {
        let topology = repository.appendingPathComponent("Topologies/ftp-masquerade.json").path
        let name = self.name + (kernel ? "k" : "")
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"] + (kernel ? ["--kernel"] : []))
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")

        let seed = Int(getpid())
        let server = try Tool.labBackground(name, "server", ["/usr/bin/python3", "-c", Self.server, String(seed)])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 7003, address: "203.0.113.10")

        let run = try Tool.labExec(name, "client", ["timeout", "40", "/usr/bin/python3", "-c", Self.client])
        #expect(run.status == 0, "\(run.stderr) (seed \(seed))")
        #expect(run.stdout == "after the resets\n", "the connection outlived the forged resets (seed \(seed))")
        let deadline = Date().addingTimeInterval(10)
        while server.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!server.isRunning && server.terminationStatus == 0, "the server forged all 20 resets")
        if kernel { return }
        let stats = try Tool.run(Tool.binary, ["stats", "--lab", name])
        #expect(stats.stdout.contains("TCP RST out of window") || stats.stdout.contains("TCP SEQ over upper bound"),
                "tunwall called the resets invalid:\n\(stats.stdout)")
    }
}

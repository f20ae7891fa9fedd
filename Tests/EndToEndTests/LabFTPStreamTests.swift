// The FTP control connection read as a stream, end to end: a client behind
// masquerade (Topologies/ftp-masquerade.json) writes its PORT command in
// three pieces with pauses between them, once with Nagle's algorithm on (the
// kernel then holds the rest back until the first piece is acknowledged, and
// tunwall acknowledges the piece it holds) and once with TCP_NODELAY; the
// pyftpdlib server gets one rewritten line and the download arrives whole.
// And a "PORT" that starts a segment but not a line opens nothing. Needs root.

import Foundation
import Testing
import TestSupport
import TestSeeds

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabFTPStreamTests {
    let name = "fts\(getpid() % 100_000)"

    /// A client written with bare sockets: every byte on the control connection is ours to place.
    static let client = """
        import socket, sys, time
        mode, path = sys.argv[1], sys.argv[2]
        c = socket.create_connection(("203.0.113.10", 21), timeout=15)
        if mode == "nodelay":
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = c.makefile("rb")
        def reply():
            line = f.readline()
            while line[3:4] == b"-":
                line = f.readline()
            return line.decode().strip()
        def send(text):
            c.sendall(text.encode())
            return reply()
        reply()
        send("USER anonymous\\r\\n"); send("PASS x\\r\\n"); send("TYPE I\\r\\n")
        if mode == "midline":
            # "PORT …" starts the second segment, but in the stream it continues "SITE …".
            data = socket.socket(); data.bind(("10.0.1.2", 0)); data.listen(1)
            port = data.getsockname()[1]
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.sendall(b"SITE HELP ")
            time.sleep(0.3)
            print(send("PORT 10,0,1,2,%d,%d\\r\\n" % (port >> 8, port & 255)))
            sys.exit(0)
        data = socket.socket(); data.bind(("10.0.1.2", 0)); data.listen(1); data.settimeout(15)
        port = data.getsockname()[1]
        line = "PORT 10,0,1,2,%d,%d\\r\\n" % (port >> 8, port & 255)
        for piece in (line[:2], line[2:14], line[14:]):
            c.sendall(piece.encode())
            time.sleep(0.3)
        print(reply())
        c.sendall(b"RETR file.bin\\r\\n")
        conn, peer = data.accept()
        received = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        conn.close()
        print(reply()); print(reply())
        open(path, "wb").write(received)
        send("QUIT\\r\\n")
        """

    @Test func splitCommandsAndMidLineCommands() throws {
        let topology = repository.appendingPathComponent("Topologies/ftp-masquerade.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"])
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-fts-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SeededGenerator(seed: testSeed(0x66_7473))
        let content = Data(random.bytes(500_000))
        try content.write(to: directory.appendingPathComponent("file.bin"))
        let script = directory.appendingPathComponent("client.py")
        try Self.client.write(to: script, atomically: true, encoding: .utf8)
        let server = try Tool.labBackground(name, "server", ["/usr/bin/python3", "-m", "pyftpdlib", "-p", "21",
                                                             "-i", "203.0.113.10", "-d", directory.path])
        defer { server.terminate() }
        // Seen listening from the server's namespace, not probed through the
        // firewall (a probe that retries would hide dropped first packets).
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 21, address: "203.0.113.10")

        for mode in ["nagle", "nodelay"] {
            let output = directory.appendingPathComponent("download-\(mode)")
            let run = try Tool.labExec(name, "client", ["timeout", "40", "/usr/bin/python3", script.path, mode, output.path])
            #expect(run.status == 0, "\(mode): \(run.stderr)")
            #expect(run.stdout.hasPrefix("200 "), "\(mode): the server took the PORT line whole: \(run.stdout)")
            #expect((try? Data(contentsOf: output)) == content, "\(mode): the download arrived changed")
        }
        let stats = try Tool.run(Tool.binary, ["stats", "--lab", name])
        #expect(stats.stdout.contains("segments held to complete a line"), "\(stats.stdout)")

        let midline = try Tool.labExec(name, "client", ["timeout", "20", "/usr/bin/python3", script.path, "midline", "-"])
        #expect(midline.status == 0, "\(midline.stderr)")
        #expect(!midline.stdout.hasPrefix("200 "), "the server saw no PORT command: \(midline.stdout)")
        let expect = try Tool.run(Tool.binary, ["conntrack", "-L", "expect", "--lab", name])
        #expect(expect.stdout.isEmpty, "a PORT in the middle of a line opens nothing:\n\(expect.stdout)")
    }
}

// Segments with several hosts (issue 16, items 3 and 5) with real programs:
// Topologies/lan.json (three clients on one Ethernet segment behind
// masquerade, a server with HTTP and FTP beyond) and dmz.json (two web
// servers on a segment behind port forwarding), each brought up once per
// firewall and shared by its cases, since labs are slow: through the Linux
// kernel (`lab up --kernel`, its router's veth on the bridge: the oracle) and
// through tunwall's TAP device on the bridge (once tunwall has TAP support).
//
// LAN: pings across the segment (client to client directly, TTL untouched)
// and through the firewall; then all three clients download a file by HTTP,
// by passive FTP and by active FTP at once, clients 1 and 2 deliberately
// from the same source ports and announcing the same PORT data port: NAT
// must keep their connections apart (different public ports in conntrack's
// reply tuples) and the FTP helper must announce different public ports to
// the server (vsftpd's log), every file compared. DMZ: each forwarded port
// reaches its own server. Through tunwall also an ARP flood with spoofed
// senders, after which the neighbour table stays bounded and the LAN still
// works. Last, `lab down` leaves no namespace, bridge, veth or process. And
// a segment built from Swift values (Topology.segmented) through LabSession.
// Needs root.

import Foundation
import Testing
import TestSupport
import TestSeeds
import Lab

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, bridges, TAP devices)"), .serialized, labTimeLimit)
struct LabSegmentTests {
    static let suffix = getpid() % 10_000
    static let size = 4 << 20

    @Test func lanThroughTheKernel() throws {
        try lan(kernel: true)
    }

    @Test(.enabled(if: tunwallHasTAP, "tunwall has no TAP support yet (tunwall neigh --help fails): the LAN runs through the kernel only"))
    func lanThroughTunwall() throws {
        try lan(kernel: false)
    }

    @Test func dmzThroughTheKernel() throws {
        try dmz(kernel: true)
    }

    @Test(.enabled(if: tunwallHasTAP, "tunwall has no TAP support yet (tunwall neigh --help fails): the DMZ runs through the kernel only"))
    func dmzThroughTunwall() throws {
        try dmz(kernel: false)
    }

    /// A segment from Swift values through the Lab library (LabSession), as
    /// another project's tests would build one: two clients on a segment,
    /// a server on a TUN link, a ruleset given as text.
    @Test(.enabled(if: tunwallHasTAP, "tunwall has no TAP support yet (tunwall neigh --help fails)"))
    func segmentFromSwiftValues() throws {
        let topology = try Topology.segmented(
            segments: [.init(name: "lan", interface: "lan0", firewall: ["10.0.1.1/24"],
                             hosts: [.init(name: "client1", addresses: ["10.0.1.2/24"]),
                                     .init(name: "client2", addresses: ["10.0.1.3/24"], mac: "02:00:00:00:00:02")])],
            links: [.init(interface: "wan0", firewall: ["203.0.113.1/24"], host: "server", addresses: ["203.0.113.10/24"])])
        let name = "seg\(Self.suffix)s"
        _ = try? Tool.run(Tool.binary, ["lab", "down", name])
        let lab = try LabSession(topology: topology, ruleset: """
            table ip nat {
            \tchain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
            }
            """, name: name, tunwall: Tool.binary.path)
        let inodes = LabChecks.namespaceInodes(of: name)
        #expect(inodes.keys.contains("tw-\(name)-lan"), "the segment's namespace: \(inodes.keys.sorted())")
        for (host, address) in [("client1", "10.0.1.3"), ("client2", "203.0.113.10")] {
            let ping = try lab.run(host, ["ping", "-c", "1", "-W", "3", address])
            #expect(ping.status == .exited(0), "\(host) → \(address): \(ping.output)")
        }
        let link = try lab.run("client2", ["ip", "-br", "link", "show", "lan"])
        #expect(link.output.contains("02:00:00:00:00:02"), "client2's MAC as given: \(link.output)")
        lab.down()
        let left = LabChecks.leftovers(of: name, inodes: inodes.values)
        #expect(left.isEmpty, "lab down left: \(left)")
    }

    /// `lab up` in the foreground, stopped by SIGINT (Ctrl-C) once the lab
    /// is up with its bridge and veths: the teardown leaves nothing either.
    @Test(arguments: [true, false])
    func ctrlCTearsTheSegmentsDown(kernel: Bool) throws {
        try #require(kernel || tunwallHasTAP, "tunwall has no TAP support (tunwall neigh --help fails)")
        let name = "seg\(Self.suffix)c\(kernel ? "k" : "t")"
        _ = try? Tool.run(Tool.binary, ["lab", "down", name])
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-\(name).out")
        defer { try? FileManager.default.removeItem(at: output) }
        let up = Process()
        up.executableURL = Tool.binary
        up.arguments = ["lab", "up", repository.appendingPathComponent("Topologies/lan.json").path, "--name", name]
            + (kernel ? ["--kernel"] : [])
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        up.standardOutput = handle
        up.standardError = handle
        try Tool.start(up)
        try? handle.close()
        defer { if up.isRunning { up.terminate() }; _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        // Up means the summary is printed (every host configured): then the bridge has its ports.
        let deadline = Date().addingTimeInterval(60)
        var said = ""
        while Date() < deadline, up.isRunning, !said.contains("Take the lab down") {
            Thread.sleep(forTimeInterval: 0.1)
            said = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        }
        try #require(said.contains("Take the lab down"), "lab up did not come up: \(said)")
        let ports = try Tool.labExec(name, "lan", ["ip", "-br", "link", "show", "master", "br-lan"])
        #expect(ports.stdout.split(separator: "\n").count == 4, "lan0 and three veths on the bridge: \(ports.stdout)")
        let inodes = LabChecks.namespaceInodes(of: name)
        kill(up.processIdentifier, SIGINT)
        up.waitUntilExit()
        #expect(up.terminationStatus == 0, "\((try? String(contentsOf: output, encoding: .utf8)) ?? "")")
        let left = LabChecks.leftovers(of: name, inodes: inodes.values)
        #expect(left.isEmpty, "Ctrl-C left: \(left)")
    }

    // MARK: - LAN

    func lan(kernel: Bool) throws {
        try FTPPrograms.require()
        let lab = try SegmentLab("lan", name: "seg\(Self.suffix)l\(kernel ? "k" : "t")", kernel: kernel)
        var tornDown = false
        defer { if !tornDown { lab.down() } }
        try pingsAcrossTheSegment(lab)
        try threeClientsBehindOneNAT(lab)
        if !kernel { try arpFloodLeavesTheNeighbourTableBounded(lab) }
        lab.down()
        tornDown = true
        #expect(lab.leftovers.isEmpty, "lab down left: \(lab.leftovers)")
    }

    /// Client to client on the segment itself (the reply's TTL untouched:
    /// no router between them), over IPv4 and IPv6; each client to the server
    /// through the firewall (TTL one less).
    func pingsAcrossTheSegment(_ lab: SegmentLab) throws {
        for (from, to, ttl) in [("client1", "10.0.1.3", 64), ("client2", "10.0.1.2", 64), ("client3", "fd00:1::2", 64),
                                ("client1", "203.0.113.10", 63), ("client2", "203.0.113.10", 63),
                                ("client3", "2001:db8:1::10", 63)] {
            let ping = try lab.exec(from, ["ping", "-c", "2", "-W", "3", to])
            #expect(ping.status == 0, "\(from) → \(to): \(ping.stdout)\(ping.stderr)")
            #expect(ping.stdout.contains("ttl=\(ttl) "), "\(from) → \(to): \(ping.stdout)")
        }
        // Each client knows the others by the MAC the topology gave them.
        let neighbours = try lab.exec("client1", ["ip", "neigh", "show", "10.0.1.3"])
        #expect(neighbours.stdout.contains(Topology.derivedMAC(segment: "lan", host: "client2").description), "client1's neighbours: \(neighbours.stdout)")
    }

    /// Nine downloads at once, each slowed to 2 MB/s so that they overlap:
    /// every client fetches file.bin by HTTP, passive FTP and active FTP.
    /// Clients 1 and 2 use source port 40000 for HTTP and 40002 for the
    /// active session's control connection, and both announce data port
    /// 45000 with ftplib (samePortClient), each waiting until both have
    /// announced before it retrieves: two expectations for the same public
    /// port would otherwise be possible one after the other.
    func threeClientsBehindOneNAT(_ lab: SegmentLab) throws {
        let content = try randomBytes(Self.size)
        let www = lab.directory.appendingPathComponent("www"), ftpRoot = lab.directory.appendingPathComponent("ftp")
        let empty = lab.directory.appendingPathComponent("empty"), log = lab.directory.appendingPathComponent("vsftpd.log")
        for directory in [www, ftpRoot.appendingPathComponent("pub"), empty] { try makeDirectory(directory) }
        try writeShared(content, to: www.appendingPathComponent("file.bin"))
        try writeShared(content, to: ftpRoot.appendingPathComponent("pub/file.bin"))
        let config = lab.directory.appendingPathComponent("vsftpd.conf")
        try writeShared(Data(FTPServer.vsftpdConfig(family: .ipv4, address: "203.0.113.10", root: ftpRoot, empty: empty,
                                                    log: log).utf8), to: config)
        _ = try lab.start("server", [systemPython, "-m", "http.server", "80", "--bind", "203.0.113.10", "--directory", www.path],
                          output: lab.directory.appendingPathComponent("http.out"))
        _ = try lab.start("server", ["/usr/sbin/vsftpd", config.path], output: lab.directory.appendingPathComponent("vsftpd.out"))
        try LabChecks.waitUntilListening(lab: lab.name, host: "server", port: 80, address: "203.0.113.10")
        try LabChecks.waitUntilListening(lab: lab.name, host: "server", port: 21, address: "203.0.113.10")

        let script = lab.directory.appendingPathComponent("sameport.py"), barrier = lab.directory.appendingPathComponent("barrier")
        try writeShared(Data(Self.samePortClient.utf8), to: script)
        try makeDirectory(barrier, mode: 0o777)
        let clients = [("client1", "10.0.1.2"), ("client2", "10.0.1.3"), ("client3", "10.0.1.4")]
        var transfers: [(name: String, process: Process, file: URL, output: URL)] = []
        for (index, (client, address)) in clients.enumerated() {
            let clash = index < 2
            let common = ["timeout", "-k", "2", "90", "curl", "-sS", "--connect-timeout", "5", "--max-time", "80", "--limit-rate", "2M"]
            let kinds: [(String, [String])] = [
                ("http", (clash ? ["--local-port", "40000"] : []) + ["http://203.0.113.10/file.bin"]),
                ("pasv", ["--disable-epsv", "--no-ftp-skip-pasv-ip", "ftp://203.0.113.10/pub/file.bin"]),
                ("port", ["-P", "-", "--disable-eprt", "ftp://203.0.113.10/pub/file.bin"]),
            ]
            for (kind, arguments) in kinds {
                let file = lab.directory.appendingPathComponent("\(client)-\(kind).bin")
                let output = lab.directory.appendingPathComponent("\(client)-\(kind).out")
                let command = clash && kind == "port"
                    ? ["timeout", "-k", "2", "90", systemPython, script.path, address, barrier.path, "2", file.path]
                    : common + ["-o", file.path] + arguments
                let process = try lab.start(client, command, output: output)
                transfers.append(("\(client) \(kind)", process, file, output))
            }
        }
        for transfer in transfers {
            transfer.process.waitUntilExit()
            let said = (try? String(contentsOf: transfer.output, encoding: .utf8)) ?? ""
            #expect(transfer.process.terminationStatus == 0, "\(transfer.name): \(said)")
            #expect((try? Data(contentsOf: transfer.file)) == content, "\(transfer.name): the file differs (\(said))")
        }

        // NAT kept the clashing connections apart: two public source ports.
        let connections = try lab.connections()
        for (port, service) in [(40000, 80), (40002, 21)] {
            let clashing = connections.filter { $0.sourcePort == port && $0.destinationPort == service && $0.protocolName == "tcp" }
            #expect(Set(clashing.map(\.source)) == ["10.0.1.2", "10.0.1.3"], "connections from port \(port): \(clashing)")
            #expect(Set(clashing.map(\.replyDestinationPort)).count == clashing.count,
                    "one public port each for source port \(port): \(clashing)")
            #expect(clashing.allSatisfy { $0.replyDestination == "203.0.113.1" }, "\(clashing)")
        }
        // The FTP helper announced a different public port for each active session.
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let ports = text.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("FTP command"), let range = line.range(of: "\"PORT ") else { return nil }
            return String(line[range.upperBound...].prefix { $0 != "\"" })
        }
        #expect(ports.count == 3, "three PORT commands reached the server: \(ports)")
        #expect(ports.allSatisfy { $0.hasPrefix("203,0,113,1,") }, "announced as the public address: \(ports)")
        #expect(Set(ports).count == ports.count, "each PORT announces its own public port: \(ports)")
    }

    /// Thousands of ARP requests from client1 for the firewall's address,
    /// each from a spoofed sender (address and MAC) inside and outside the
    /// subnet: the firewall's neighbour table stays within its bound, and
    /// the clients still reach the server.
    func arpFloodLeavesTheNeighbourTableBounded(_ lab: SegmentLab) throws {
        let flood = try lab.exec("client1", ["timeout", "-k", "2", "120", systemPython, "-c", """
            import random
            from scapy.all import ARP, Ether, sendp, conf
            conf.verb = 0
            rng = random.Random(16)
            frames = []
            for i in range(4000):
                mac = "02:%02x:%02x:%02x:%02x:%02x" % tuple(rng.randrange(256) for _ in range(5))
                ip = "10.0.1.%d" % rng.randrange(5, 255) if i % 2 else "10.%d.%d.%d" % tuple(rng.randrange(256) for _ in range(3))
                frames.append(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc=ip, pdst="10.0.1.1"))
            sendp(frames, iface="lan")
            print("sent", len(frames))
            """])
        #expect(flood.status == 0, "scapy: \(flood.stdout)\(flood.stderr)")
        let neighbours = try lab.tunwall(["neigh"])
        #expect(neighbours.status == 0, "\(neighbours.stderr)")
        let entries = neighbours.stdout.split(separator: "\n").filter { $0.contains("10.") }
        print("LabSegmentTests: \(lab.name)'s neighbour table after 4,000 spoofed ARP requests: \(entries.count) IPv4 entries")
        #expect(entries.count <= 1024, "the neighbour table holds \(entries.count) entries after the flood (Linux's gc_thresh3)")
        let ping = try lab.exec("client2", ["ping", "-c", "2", "-W", "3", "203.0.113.10"])
        #expect(ping.status == 0, "after the flood: \(ping.stdout)\(ping.stderr)")
    }

    /// An active-mode download with ftplib from control port 40002,
    /// announcing data port 45000 (PORT, rate-limited receive):
    ///   sameport.py OWNADDRESS BARRIERDIR COUNT OUTFILE
    /// After its PORT it leaves a file in BARRIERDIR and retrieves only when
    /// COUNT clients have, so that their announcements are outstanding together.
    static let samePortClient = #"""
        import ftplib, os, socket, sys, time
        own, barrier, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
        ftp = ftplib.FTP(timeout=20)
        ftp.connect("203.0.113.10", 21, source_address=(own, 40002))
        ftp.login()
        ftp.voidcmd("TYPE I")
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((own, 45000))
        listener.listen(1)
        listener.settimeout(20)
        ftp.voidcmd("PORT " + ",".join(own.split(".") + ["175", "200"]))
        open(os.path.join(barrier, own), "w").close()
        deadline = time.time() + 30
        while len(os.listdir(barrier)) < count:
            if time.time() > deadline:
                sys.exit("the other client never announced")
            time.sleep(0.05)
        ftp.sendcmd("RETR pub/file.bin")
        conn, peer = listener.accept()
        print("data connection from", peer)
        conn.settimeout(20)
        with open(out, "wb") as f:
            for data in iter(lambda: conn.recv(65536), b""):
                f.write(data)
                time.sleep(0.03)  # about 2 MB/s, as the other transfers
        conn.close()
        ftp.voidresp()
        ftp.quit()
        """#

    // MARK: - DMZ

    /// Two web servers on the DMZ segment, each serving its own name; each
    /// published port reaches its own, over IPv4 and IPv6.
    func dmz(kernel: Bool) throws {
        let lab = try SegmentLab("dmz", name: "seg\(Self.suffix)d\(kernel ? "k" : "t")", kernel: kernel)
        var tornDown = false
        defer { if !tornDown { lab.down() } }
        for server in ["web1", "web2"] {
            let root = lab.directory.appendingPathComponent(server)
            try makeDirectory(root)
            try writeShared(Data("\(server)\n".utf8), to: root.appendingPathComponent("name.txt"))
            // "::" serves both families (http.server binds a dual-stack socket).
            _ = try lab.start(server, [systemPython, "-m", "http.server", "80", "--bind", "::", "--directory", root.path],
                              output: lab.directory.appendingPathComponent("\(server).out"))
            try LabChecks.waitUntilListening(lab: lab.name, host: server, port: 80)
        }
        for (port, server) in [(8080, "web1"), (8081, "web2")] {
            for address in ["203.0.113.1", "[2001:db8:1::1]"] {
                let fetch = try lab.exec("client", ["curl", "-sS", "--connect-timeout", "5", "--max-time", "20",
                                                    "http://\(address):\(port)/name.txt"])
                #expect(fetch.status == 0 && fetch.stdout == "\(server)\n", "\(address):\(port): \(fetch.stdout)\(fetch.stderr)")
            }
        }
        // The servers reach each other on the segment, not through the firewall.
        let ping = try lab.exec("web1", ["ping", "-c", "1", "-W", "3", "10.0.2.11"])
        #expect(ping.status == 0 && ping.stdout.contains("ttl=64 "), "web1 → web2: \(ping.stdout)\(ping.stderr)")
        lab.down()
        tornDown = true
        #expect(lab.leftovers.isEmpty, "lab down left: \(lab.leftovers)")
    }
}

// TAP interfaces with real hosts: Topologies/masquerade-tap.json is
// masquerade.json with both firewall interfaces in `"mode": "tap"`, so the
// hosts' kernels resolve the firewall with ARP and neighbour discovery and
// the firewall resolves them. Ping and a TCP download (python3's
// http.server, curl) over IPv4 and IPv6 through masquerade; `tunwall neigh`
// shows REACHABLE entries with the MACs the hosts' own `ip link` reports;
// the pcapng capture is of link type Ethernet (tshark reads the ARP).
// Needs root; all traffic stays in the lab's namespaces.

import Foundation
import Testing
import TestSupport
import TestSeeds

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TAP devices)"), .serialized, labTimeLimit)
struct LabTAPTests {
    let name = "tap\(getpid() % 100_000)"

    func exec(_ host: String, _ command: [String]) throws -> Run { try Tool.labExec(name, host, command) }

    /// The MAC of `device` in `host`'s namespace, as `ip -o link` prints it.
    func mac(_ host: String, _ device: String) throws -> String {
        let link = try exec(host, ["ip", "-o", "link", "show", "dev", device])
        let words = link.stdout.split(separator: " ").map(String.init)
        guard let index = words.firstIndex(of: "link/ether"), index + 1 < words.count else {
            throw LabCheckFailure("no link/ether in: \(link.stdout) \(link.stderr)")
        }
        return words[index + 1]
    }

    @Test func pingDownloadNeighboursAndEthernetCapture() throws {
        let topology = repository.appendingPathComponent("Topologies/masquerade-tap.json").path
        let captures = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-tap-\(getpid())")
        defer { try? FileManager.default.removeItem(at: captures) }
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon", "--pcap", captures.path])
        let inodes = LabChecks.namespaceInodes(of: name)
        defer {
            let down = try? Tool.run(Tool.binary, ["lab", "down", name])
            #expect(down?.status == 0, "\(down?.stderr ?? "")")
            let left = LabChecks.leftovers(of: name, inodes: inodes.values)
            #expect(left.isEmpty, "left behind: \(left)")
        }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
        // Each device is a TAP device in its host's namespace, up.
        for (device, host) in [("lan0", "client"), ("wan0", "server")] {
            let link = try exec(host, ["ip", "-d", "-o", "link", "show", "dev", device])
            #expect(link.status == 0 && link.stdout.contains("tun type tap") && link.stdout.contains(",UP"),
                    "\(device) in \(host): \(link.stdout) \(link.stderr)")
        }

        for target in ["203.0.113.10", "2001:db8:1::10"] {
            let ping = try exec("client", ["ping", "-c", "2", "-W", "5", target])
            #expect(ping.status == 0, "ping \(target): \(ping.stdout)\(ping.stderr)")
        }

        try HTTPDownload.serveAndFetch(lab: name, seed: testSeed(0x7461_70), size: 4_000_000,
                                       urls: ["http://203.0.113.10:8080/file.bin", "http://[2001:db8:1::10]:8080/file.bin"])
        // Masquerade: the server saw the firewall's address only.
        let conntrack = try Tool.run(Tool.binary, ["conntrack", "-L", "--lab", name])
        #expect(conntrack.stdout.contains("src=203.0.113.10 dst=203.0.113.1 sport=8080"), "\(conntrack.stdout)")

        // The neighbour table: the hosts' real MACs, REACHABLE after the
        // exchange (the firewall asked and was answered).
        let neigh = try Tool.run(Tool.binary, ["neigh", "--lab", name])
        #expect(neigh.status == 0, "\(neigh.stderr)")
        let clientMAC = try mac("client", "lan0"), serverMAC = try mac("server", "wan0")
        for (address, device, lladdr) in [("203.0.113.10", "wan0", serverMAC), ("2001:db8:1::10", "wan0", serverMAC)] {
            #expect(neigh.stdout.contains("\(address) dev \(device) lladdr \(lladdr) REACHABLE"), "\(neigh.stdout)")
        }
        for address in ["10.0.1.2", "fd00:1::2"] {
            let line = neigh.stdout.split(separator: "\n").first { $0.hasPrefix("\(address) dev lan0 lladdr \(clientMAC) ") }
            #expect(line != nil, "\(address) with \(clientMAC) in:\n\(neigh.stdout)")
        }

        // The capture: link type Ethernet, with the ARP exchange in it.
        let down = try Tool.run(Tool.binary, ["lab", "down", name])  // flushes the capture
        #expect(down.status == 0)
        let file = captures.appendingPathComponent("capture.pcapng")
        let bytes = try [UInt8](Data(contentsOf: file))
        // The first Interface Description Block follows the section header; its link type is 1 (EN10MB).
        let sectionLength = Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24
        #expect(bytes.count > sectionLength + 10 && bytes[sectionLength + 8] == 1 && bytes[sectionLength + 9] == 0,
                "link type of the first interface is Ethernet")
        if let tshark = Tool.which("tshark") {
            let arp = try Tool.run(tshark, ["-r", file.path, "-T", "fields", "-e", "frame.interface_name",
                                            "-e", "eth.src", "-e", "arp.opcode", "arp"])
            #expect(arp.status == 0, "\(arp.stderr)")
            #expect(arp.stdout.contains("lan0\t\(clientMAC)\t1"), "the client's ARP request:\n\(arp.stdout)")
            #expect(arp.stdout.contains("wan0\t\(serverMAC)\t2"), "the server's ARP reply:\n\(arp.stdout)")
        }
    }
}

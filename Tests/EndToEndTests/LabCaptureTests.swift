// What `--pcap DIR` writes for a real lab: one pcapng file in which tshark
// sees each packet's interface (the TUN device's name) and direction (in
// as received, out as sent), and with `--pcap-format pcap` the classic pcap
// file per interface and direction. All traffic from the lab's namespaces.
// Needs root.

import Foundation
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabCaptureTests {
    let name = "cap\(getpid() % 100_000)"

    /// Brings the basic lab up with `extra` arguments, pings the server once, and takes the lab down.
    func pingThroughLab(_ extra: [String]) throws {
        let topology = repository.appendingPathComponent("Topologies/basic.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"] + extra)
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
        let ping = try Tool.labExec(name, "client", ["ping", "-c", "1", "-W", "5", "203.0.113.10"])
        #expect(ping.status == 0, "\(ping.stdout)\(ping.stderr)")
        let down = try Tool.run(Tool.binary, ["lab", "down", name])  // the firewall flushes its capture as it exits
        #expect(down.status == 0)
    }

    @Test(.enabled(if: Tool.which("tshark") != nil, "tshark is not installed"))
    func pcapngNamesInterfacesAndDirections() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-capture-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        try pingThroughLab(["--pcap", directory.path])
        let file = directory.appendingPathComponent("capture.pcapng").path
        let run = try Tool.run(Tool.which("tshark")!, ["-T", "fields", "-e", "frame.interface_name",
                                                       "-e", "frame.packet_flags_direction", "-e", "icmp.type",
                                                       "-r", file, "icmp"])
        #expect(run.status == 0, "\(run.stderr)")
        // The echo request in on lan0, out on wan0; the reply in on wan0, out on lan0.
        #expect(run.stdout == "lan0\t0x00000001\t8\nwan0\t0x00000002\t8\nwan0\t0x00000001\t0\nlan0\t0x00000002\t0\n",
                "\(run.stdout)")
        let summary = try Tool.tunwall("pcap", "summary", file)
        #expect(summary.status == 0 && summary.stdout.contains(" lan0 In IP 10.0.1.2 > 203.0.113.10: ICMP echo request"))
    }

    @Test func pcapFormatKeepsAFilePerInterfaceAndDirection() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-capture-pcap-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        try pingThroughLab(["--pcap", directory.path, "--pcap-format=pcap"])
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(files == ["lan0-in.pcap", "lan0-out.pcap", "wan0-in.pcap", "wan0-out.pcap"])
        let request = try Tool.tunwall("pcap", "summary", directory.appendingPathComponent("wan0-out.pcap").path)
        #expect(request.stdout.contains("IP 10.0.1.2 > 203.0.113.10: ICMP echo request"), "\(request.stdout)")
    }
}

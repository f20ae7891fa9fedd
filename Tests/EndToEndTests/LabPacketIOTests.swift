// Every way the firewall moves packets between its TUN devices and the
// engine forwards real traffic the same (issue 17 item 2): io_uring batches
// with one multishot read per device (PacketRing.swift, the default), with a
// read per buffer (TUNWALL_IO=uring-reads, what kernels before 6.7 get), and
// one read(2)/write(2) a packet (TUNWALL_IO=syscalls, the fallback when the
// kernel refuses io_uring).
// Through Topologies/masquerade.json: pings both families, a 4,096-byte
// ping whose fragments are reassembled and sent again, and a 3 MB HTTP
// download with offloads (GSO super-packets) compared byte for byte; the
// firewall's log names the mode it ran. Needs root.

import Foundation
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabPacketIOTests {
    @Test(arguments: [("uring", "io_uring, multishot reads"), ("uring-reads", "io_uring, a read per buffer"),
                      ("syscalls", "read/write")])
    func forwardsTheSame(_ setting: String, _ mode: String) throws {
        let name = "pio\(getpid() % 100_000)" + String(setting.prefix(1)) + String(setting.suffix(1))
        let topology = repository.appendingPathComponent("Topologies/masquerade.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"],
                              environment: ["TUNWALL_IO": setting])
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
        let log = try String(contentsOfFile: "/run/tunwall/labs/\(name)/log", encoding: .utf8)
        #expect(log.contains("packet I/O \(mode)"), "\(log)")

        for (host, size) in [("203.0.113.10", "56"), ("2001:db8:1::10", "56"), ("203.0.113.10", "4096")] {
            let ping = try Tool.labExec(name, "client", ["ping", "-n", "-c", "3", "-i", "0.2", "-s", size, host])
            #expect(ping.status == 0, "\(mode): ping -s \(size) \(host): \(ping.stdout)\(ping.stderr)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-pio-\(getpid())-\(name)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var generator = SystemRandomNumberGenerator()
        let body = (0..<3_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try Data(body).write(to: directory.appendingPathComponent("big.bin"))
        let server = try Tool.labBackground(name, "server", ["/usr/bin/python3", "-m", "http.server", "8080",
                                                             "--bind", "203.0.113.10", "--directory", directory.path])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 8080, address: "203.0.113.10")
        let out = directory.appendingPathComponent("got.bin")
        let curl = try Tool.labExec(name, "client", ["curl", "-sS", "--max-time", "30", "-o", out.path,
                                                     "http://203.0.113.10:8080/big.bin"])
        #expect(curl.status == 0, "\(mode): \(curl.stderr)")
        #expect((try? Data(contentsOf: out)) == Data(body), "\(mode): the download arrived whole")
    }
}

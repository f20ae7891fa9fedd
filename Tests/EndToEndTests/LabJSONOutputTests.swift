// Machine-readable output for scripts (issue 14, item 4): `tunwall conntrack
// -L -o json`, `conntrack -L expect -o json`, `stats --json` and `lab list
// --json` print the Codable types the Lab library hands tests
// (ConntrackRecord, ExpectationRecord, StatisticsRecord, LabRecord); each
// is decoded here and checked against traffic a real ping made through
// Topologies/masquerade.json. Needs root.

import Foundation
import Lab
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabJSONOutputTests {
    @Test func everyListingDecodesAsTheLibrarysTypes() throws {
        let name = "json\(getpid() % 100_000)"
        let topology = repository.appendingPathComponent("Topologies/masquerade.json").path
        let up = try Tool.run(Tool.binary, ["lab", "up", topology, "--name", name, "--daemon"])
        defer { _ = try? Tool.run(Tool.binary, ["lab", "down", name]) }
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
        let ping = try Tool.labExec(name, "client", ["ping", "-n", "-c", "2", "-i", "0.2", "203.0.113.10"])
        try #require(ping.status == 0, "\(ping.stdout)\(ping.stderr)")

        func json<T: Decodable>(_ type: T.Type, _ arguments: [String]) throws -> T {
            let run = try Tool.run(Tool.binary, arguments)
            try #require(run.status == 0, "tunwall \(arguments.joined(separator: " ")): \(run.stderr)")
            return try JSONDecoder().decode(T.self, from: Data(run.stdout.utf8))
        }
        let connections = try json([ConntrackRecord].self, ["conntrack", "-L", "-o", "json", "--lab", name])
        let pings = connections.filter { $0.protocol == "icmp" }
        try #require(pings.count == 1, "\(connections)")
        #expect(pings[0].original.src == "10.0.1.2" && pings[0].original.dst == "203.0.113.10")
        #expect(pings[0].reply.dst == "203.0.113.1", "masqueraded: \(pings[0])")
        #expect(pings[0].status.contains("SRC_NAT") && pings[0].status.contains("SEEN_REPLY"), "\(pings[0].status)")
        #expect(pings[0].original.packets == 2 && pings[0].reply.packets == 2)
        #expect(pings[0].original.type == 8 && pings[0].original.icmpID != nil)

        let expectations = try json([ExpectationRecord].self, ["conntrack", "-L", "expect", "-o", "json", "--lab", name])
        #expect(expectations.isEmpty)

        let statistics = try json(StatisticsRecord.self, ["stats", "--json", "--lab", name])
        #expect(statistics.interfaces.map(\.name) == ["lan0", "wan0"])
        #expect(statistics.forwarded >= 4, "two pings and their replies: \(statistics.forwarded)")
        #expect(statistics.conntrack.entries >= 1 && statistics.conntrack.capacity > 0)

        let labs = try json([LabRecord].self, ["lab", "list", "--json"])
        let lab = try #require(labs.first { $0.name == name }, "\(labs)")
        #expect(lab.running && !lab.kernel && lab.firewallPID != nil)
        #expect(Set(lab.hosts) == ["client", "server"])
        #expect(lab.source == topology)
    }
}

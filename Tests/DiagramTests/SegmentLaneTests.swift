// A lane per host on a segment (issue 16, item 4): when the trace header
// lists the hosts on an interface's segment, each gets a lane named and
// addressed as the header says, each packet is drawn to or from the lane of
// the host its address belongs to, and a packet from an address no host
// has gets a lane of its own for the interface ("lan0 (others)").

import Foundation
import Testing
import TraceFormat
@testable import Diagram

@Suite struct SegmentLaneTests {
    static let header = #"{"v":1,"type":"header","start":"2026-12-04T14:00:00Z","interfaces":[{"name":"lan0","host":null,"addresses":["10.0.1.1/24"],"segment":[{"host":"client1","mac":"02:00:00:00:00:01","addresses":["10.0.1.2","fd00:1::2"]},{"host":"client2","mac":null,"addresses":["10.0.1.3"]}]},{"name":"wan0","host":"server","addresses":["203.0.113.1/24"]}]}"#

    /// A packet from `source` on lan0 to the server, forwarded out of wan0.
    static func from(_ source: String, n: Int) -> String {
        Lines.packet(n: n).replacingOccurrences(of: #""src":"10.0.1.2""#, with: #""src":"\#(source)""#)
    }

    @Test func eachHostOnTheSegmentHasALane() throws {
        let trace = try Lines.trace([Self.header, Self.from("10.0.1.2", n: 1), Self.from("10.0.1.3", n: 2)])
        #expect(trace.header.interfaces[0].segment.map(\.host) == ["client1", "client2"])
        #expect(trace.header.interfaces[0].segment.first?.mac == "02:00:00:00:00:01")
        let lanes = Lanes(trace)
        #expect(lanes.lanes.map(\.name) == ["client1", "client2", "firewall", "server"])
        #expect(lanes.lanes[0].addresses == ["10.0.1.2", "fd00:1::2"], "the header's addresses, not inferred ones")
        let rows = TraceDiagram.writer(trace, options: DiagramOptions(all: true), links: false).rows
        #expect(rows.map { $0.incoming?.lane } == [0, 1], "each packet from its own host's lane")
        #expect(rows.map { $0.outgoing?.lane } == [3, 3])
        // The firewall's box lists lan0 once, however many lanes it has.
        #expect(lanes.leftInterfaces.map(\.name) == ["lan0"])
        let document = try #require(SVGDocument.parse(TraceDiagram.svg(trace)))
        #expect(document.elements.compactMap { $0.attributes["data-lane"] } == ["client1", "client2", "firewall", "server"])
    }

    @Test func anAddressNoHostHasGetsTheInterfacesLane() throws {
        let trace = try Lines.trace([Self.header, Self.from("10.0.1.2", n: 1), Self.from("10.0.1.99", n: 2)])
        let lanes = Lanes(trace)
        #expect(lanes.lanes.map(\.name) == ["client1", "client2", "lan0 (others)", "firewall", "server"])
        #expect(lanes.lanes[2].addresses == ["10.0.1.99"])
        #expect(lanes.lane(interface: "lan0", address: "10.0.1.99") == 2)
    }

    /// The header's segment round-trips through the model, and a key outside it is refused.
    @Test func theHeadersSegmentIsStrict() throws {
        let trace = try Lines.trace([Self.header])
        #expect(try Lines.trace([trace.header.json.encoded]).header == trace.header)
        #expect(throws: TraceError.self) {
            try Lines.trace([Self.header.replacingOccurrences(of: #""mac":null"#, with: #""mac":null,"vlan":3"#)])
        }
    }
}

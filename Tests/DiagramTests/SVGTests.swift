// The SVG drawn from the fixture (a passive and an active FTP download through
// masquerade, an outsider refused): well-formed, every packet in it, one lane
// per host plus the firewall, the PORT rewrite, the expectations.

import Foundation
import Testing
@testable import Diagram

@Suite struct SVGTests {
    func document(all: Bool = false) throws -> (Trace, SVGDocument) {
        let trace = try Fixture.trace()
        let svg = TraceDiagram.svg(trace, options: DiagramOptions(all: all, name: "ftp-demo.jsonl"))
        #expect(svg.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""))
        let document = try #require(SVGDocument.parse(svg))
        return (trace, document)
    }

    @Test func wellFormedWithEveryPacket() throws {
        for all in [false, true] {
            let (trace, document) = try document(all: all)
            #expect(document.elements.first?.name == "svg")
            #expect(Set(document.packetNumbers()) == Set(trace.packets.map(\.n)), "all: \(all)")
            #expect(document.packetNumbers().count == trace.packets.count)
        }
    }

    @Test func collapsesDataConnectionsUnlessAll() throws {
        let (_, collapsed) = try document()
        let (trace, all) = try document(all: true)
        #expect(all.withClass("row").count == trace.packets.count)
        #expect(all.withClass("collapsed").isEmpty)
        let groups = collapsed.withClass("collapsed")
        #expect(groups.count == 4)  // each data connection: data one way, acks the other
        #expect(collapsed.withClass("row").count == trace.packets.count - 20 + 4)
        // The packets of a collapsed row are inside its group, each with a tooltip.
        let index = try #require(collapsed.elements.firstIndex { $0.attributes["id"] == "row-19" })
        let inside = collapsed.descendants(of: index).compactMap { $0.attributes["data-n"] }
        #expect(inside == ["19", "20", "22", "23", "25", "28"])
        #expect(collapsed.texts().contains("× 6 packets (6,240 bytes)"))
        #expect(collapsed.texts().contains("× 4 packets (160 bytes)"))
        #expect(collapsed.texts().contains("#19…28"))
    }

    @Test func lanesAreHostsAroundTheFirewall() throws {
        let (_, document) = try document()
        let lanes = document.elements.filter { $0.attributes["data-lane"] != nil }
        #expect(lanes.map { $0.attributes["data-lane"]! } == ["client", "firewall", "server", "outsider"])
        #expect(document.withClass("host").count == 3)
        #expect(document.withClass("firewall").count == 1)
        let texts = document.texts()
        for address in ["10.0.1.2", "203.0.113.10", "198.51.100.20", "lan0", "10.0.1.1/24", "wan0", "203.0.113.1/24", "out0"] {
            #expect(texts.contains(address), "\(address)")
        }
    }

    @Test func twoInterfacesAndUnnamedHosts() throws {
        let trace = try Lines.trace([Lines.header2, Lines.packet(n: 1)])
        let document = try #require(SVGDocument.parse(TraceDiagram.svg(trace)))
        let lanes = document.elements.compactMap { $0.attributes["data-lane"] }
        #expect(lanes == ["client", "firewall", "wan0"])
    }

    @Test func natShowsAsDifferentLabelsOnEachSide() throws {
        let (_, document) = try document()
        let texts = document.texts()
        #expect(texts.contains("IP 10.0.1.2.40000 > 203.0.113.10.21"))
        #expect(texts.contains("IP 203.0.113.1.40000 > 203.0.113.10.21"))
        #expect(texts.contains("IP 203.0.113.10.20 > 203.0.113.1.50000"))
        #expect(texts.contains("IP 203.0.113.10.20 > 10.0.1.2.50000"))
    }

    @Test func ftpTextAndRewrite() throws {
        let (_, document) = try document()
        let payload = document.withClass("payload").map(\.text)
        #expect(payload.contains("PORT 10,0,1,2,195,80"))
        #expect(payload.contains("PORT 203,0,113,1,195,80"))
        #expect(payload.contains("227 Entering Passive Mode (203,0,113,10,195,81)."))
        #expect(document.inRows("note-rewrite").map(\.text) == ["PORT 10,0,1,2,195,80 ⇒ PORT 203,0,113,1,195,80"])
    }

    @Test func expectationsFromAnnouncementToUse() throws {
        let (_, document) = try document()
        let bars = document.withClass("expectation")
        #expect(bars.map { $0.attributes["data-from"] } == ["13", "31"])
        let titles = document.elements.filter { $0.name == "title" }.map(\.text)
        #expect(titles.contains("expect 10.0.1.2 → 203.0.113.10:50001: made by #13, used by #14"))
        #expect(titles.contains("expect 203.0.113.10 → 203.0.113.1:50000 (for 10.0.1.2:50000): made by #31, used by #37"))
        let notes = document.withClass("note-expectation").map(\.text)
        #expect(notes == ["expect 10.0.1.2 → 203.0.113.10:50001", "expect 203.0.113.10 → 203.0.113.1:50000 (for 10.0.1.2:50000)"])
        #expect(document.withClass("note-related").count == 2)
    }

    @Test func dropsAndFirewallsOwnPackets() throws {
        let (_, document) = try document()
        #expect(document.withClass("end-drop").map(\.text) == ["✗ dropped: rule-drop (ftp-masquerade.nft:35 policy)"])
        #expect(document.withClass("end-consumed").map(\.text) == ["consumed by the firewall (no-listener)"])
    }

    @Test func heldAndReleasedPackets() throws {
        let held = #"[{"kind":"ftp","event":"held","text":"held 12 bytes of an unfinished line"}]"#
        let trace = try Lines.trace([
            Lines.header2,
            Lines.packet(n: 1, text: "PORT 10,0,1,", verdict: "held", out: nil, steps: held),
            Lines.packet(n: 2, origin: "released", inInterface: nil, text: "PORT 10,0,1,"),
            Lines.packet(n: 3, origin: "generated", inInterface: nil, verdict: "drop", out: nil, extra: #","reason":"rule-drop""#),
        ])
        let document = try #require(SVGDocument.parse(TraceDiagram.svg(trace)))
        #expect(document.withClass("end-held").map(\.text) == ["held: held 12 bytes of an unfinished line"])
        #expect(document.withClass("end-drop").map(\.text) == ["✗ dropped: rule-drop"])
        #expect(document.packetNumbers() == [1, 2, 3])
    }

    @Test func textIsEscaped() throws {
        let nasty = "230 <b>&\"quoted\"</b> 'it' \u{1}\u{7f}\u{fffe}\r\n"
        let trace = try Lines.trace([Lines.header2, Lines.packet(n: 1, text: nasty, steps: #"[{"kind":"ftp","event":"refuse","text":"<&>"}]"#)])
        let svg = TraceDiagram.svg(trace)
        let document = try #require(SVGDocument.parse(svg))
        #expect(document.withClass("payload").map(\.text).contains("230 <b>&\"quoted\"</b> 'it' ··\u{fffd}"))
        #expect(svg.contains("&lt;b&gt;&amp;&quot;quoted&quot;&lt;/b&gt; &apos;it&apos;"))
        #expect(document.withClass("note-warning").map(\.text) == ["ftp: <&>"])
    }

    @Test func sizeFollowsContent() throws {
        let (_, document) = try document()
        let root = try #require(document.elements.first)
        let width = try #require(Double(root.attributes["width"] ?? ""))
        let height = try #require(Double(root.attributes["height"] ?? ""))
        #expect(root.attributes["viewBox"] == "0 0 \(root.attributes["width"]!) \(root.attributes["height"]!)")
        #expect((1000...2400).contains(width))
        let small = try Lines.trace([Lines.header2, Lines.packet(n: 1)])
        let smallRoot = try #require(SVGDocument.parse(TraceDiagram.svg(small))?.elements.first)
        #expect(Double(smallRoot.attributes["height"]!)! < height / 5)
    }

    @Test func extremeValuesDoNotTrap() throws {
        let long = String(repeating: "PORT 1,2,3,4,5,6 ", count: 2000)
        let trace = try Lines.trace([
            Lines.header2,
            Lines.packet(n: 1, text: long).replacingOccurrences(of: #""t":0.1"#, with: #""t":1e300"#),
            Lines.packet(n: -7).replacingOccurrences(of: #""t":-0.7"#, with: #""t":-0.5"#),
            Lines.packet(n: 8_000_000_000_000_000, text: String(repeating: "\n", count: 50)),
        ])
        for all in [false, true] {
            let document = try #require(SVGDocument.parse(TraceDiagram.svg(trace, options: DiagramOptions(all: all))))
            #expect(document.packetNumbers() == [1, -7, 8_000_000_000_000_000])
        }
        #expect(TextMetrics.seconds(-0.5) == "-0.500000")
        #expect(TextMetrics.seconds(3.1415926) == "3.141593")
    }
}

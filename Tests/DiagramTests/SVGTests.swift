// The SVG drawn from the fixtures, real traces tunwall wrote (Fixtures/README.md):
// the demo (a passive and an active FTP download through masquerade) and the
// ftp-masquerade lab refusing its outsider. Well-formed, every packet in it,
// one lane per host plus the firewall, the data connections folded, the PORT
// rewrite, the expectations, drops and the firewall's own packets.

import Foundation
import Testing
import TraceFormat
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

    /// The data connections fold: on a real trace every packet of a data
    /// connection carries `master` (conntrack keeps it for the entry's life),
    /// which once kept each of them on a row of its own (156 rows for 156
    /// packets in the demo).
    @Test func collapsesDataConnectionsUnlessAll() throws {
        let (_, collapsed) = try document()
        let (trace, all) = try document(all: true)
        #expect(all.withClass("row").count == trace.packets.count)
        #expect(all.withClass("collapsed").isEmpty)
        let dataPackets = trace.packets.filter { $0.conntrack?.state == "established" && $0.conntrack?.master != nil }
        try #require(dataPackets.count > 40, "the demo moves 1 MB each way: its data connections have many packets")
        // Two downloads, each a data connection with data one way and acks the other.
        let groups = collapsed.withClass("collapsed")
        #expect(groups.count == 4)
        var inGroups: [Int] = []
        for group in groups {
            let index = try #require(collapsed.elements.firstIndex { $0.attributes["id"] == group.attributes["id"] })
            let numbers = collapsed.descendants(of: index).compactMap { $0.attributes["data-n"].flatMap { Int($0) } }
            let packets = trace.packets.filter { numbers.contains($0.n) }
            #expect(packets.count == numbers.count && packets.count >= 3)
            #expect(group.attributes["data-count"] == "\(packets.count)")
            // One direction of one connection, as it arrived.
            #expect(Set(packets.map { "\($0.inInterface ?? "") \($0.packet.src) \($0.packet.sport ?? 0)" }).count == 1)
            let bytes = packets.reduce(0) { $0 + $1.packet.length }
            let texts = collapsed.descendants(of: index).filter { $0.name == "text" }.map(\.text)
            #expect(texts.contains("× \(packets.count) packets (\(grouped(bytes)) bytes)"), "\(texts)")
            #expect(texts.contains("#\(packets.first!.n)…\(packets.last!.n)"), "\(texts)")
            inGroups += numbers
        }
        // Nearly every packet of the data connections is in a fold (their
        // first packets, and any interleaved with a command, keep their rows).
        let dataNumbers = Set(dataPackets.map(\.n))
        #expect(Set(inGroups).isSubset(of: dataNumbers))
        #expect(inGroups.count * 10 >= dataNumbers.count * 9, "\(inGroups.count) of \(dataNumbers.count) data packets folded")
        #expect(collapsed.withClass("row").count == trace.packets.count - inGroups.count + groups.count)
        #expect(collapsed.withClass("row").count * 2 < trace.packets.count)
    }

    @Test func lanesAreHostsAroundTheFirewall() throws {
        let (_, demo) = try document()
        #expect(demo.elements.compactMap { $0.attributes["data-lane"] } == ["client", "firewall", "server"])
        let trace = try Fixture.outsider()
        let document = try #require(SVGDocument.parse(TraceDiagram.svg(trace)))
        let lanes = document.elements.filter { $0.attributes["data-lane"] != nil }
        #expect(lanes.map { $0.attributes["data-lane"]! } == ["client", "firewall", "server", "outsider"])
        #expect(document.withClass("host").count == 3)
        #expect(document.withClass("firewall").count == 1)
        let texts = document.texts()
        // A host lane names the addresses its packets came from (the server sent none here).
        for address in ["10.0.1.2", "198.51.100.20", "lan0", "10.0.1.1/24", "wan0", "203.0.113.1/24", "out0", "198.51.100.1/24"] {
            #expect(texts.contains(address), "\(address)")
        }
        #expect(demo.texts().contains("203.0.113.10"))
    }

    @Test func twoInterfacesAndUnnamedHosts() throws {
        let trace = try Lines.trace([Lines.header2, Lines.packet(n: 1)])
        let document = try #require(SVGDocument.parse(TraceDiagram.svg(trace)))
        let lanes = document.elements.compactMap { $0.attributes["data-lane"] }
        #expect(lanes == ["client", "firewall", "wan0"])
    }

    @Test func natShowsAsDifferentLabelsOnEachSide() throws {
        let (trace, document) = try document()
        let texts = document.texts()
        // The control connection's first packet (masqueraded) and the active
        // data connection's first (sent to the firewall's address, translated to the client's).
        let control = try #require(trace.packets.first { $0.packet.dport == 21 && $0.steps.contains { $0.kind == "nat" } })
        let active = try #require(trace.packets.first { $0.conntrack?.state == "related" && $0.packet.sport == 20 })
        for p in [control, active] {
            let sent = try #require(p.sent)
            #expect(TracePacket.head(p.packet) != TracePacket.head(sent))
            #expect(texts.contains(TracePacket.head(p.packet)), "\(p.packet.summary)")
            #expect(texts.contains(TracePacket.head(sent)), "\(sent.summary)")
        }
        #expect(TracePacket.head(control.sent!).hasPrefix("IP 203.0.113.1."))
        #expect(TracePacket.head(active.sent!).hasSuffix(" > 10.0.1.2.\(active.sent!.dport!)"))
    }

    @Test func ftpTextAndRewrite() throws {
        let (trace, document) = try document()
        let port = try #require(trace.packets.first { $0.packet.text?.hasPrefix("PORT 10,0,1,2,") == true })
        let rewritten = try #require(port.sent?.text)
        #expect(rewritten.hasPrefix("PORT 203,0,113,1,"))
        let reply = try #require(trace.packets.first { $0.packet.text?.hasPrefix("227 ") == true }?.packet.text)
        let payload = document.withClass("payload").map(\.text)
        for text in [port.packet.text!, rewritten, reply] {
            #expect(payload.contains(text.trimmingCharacters(in: .newlines)), "\(text)")
        }
        let step = try #require(port.steps.first { $0.event == "rewrite" })
        #expect(document.inRows("note-rewrite").map(\.text) == ["\(step.line!) ⇒ \(step.rewritten!)"])
    }

    /// Each expectation from the packet that announced it to the data
    /// connection's first packet, which conntrack calls related.
    @Test func expectationsFromAnnouncementToUse() throws {
        let (trace, document) = try document()
        let made = trace.packets.filter { $0.steps.contains { $0.event == "expect" } }
        let used = trace.packets.filter { $0.conntrack?.state == "related" }
        try #require(made.count == 2 && used.count == 2, "a passive and an active download")
        #expect(document.withClass("expectation").map { $0.attributes["data-from"] } == made.map { "\($0.n)" })
        let titles = document.elements.filter { $0.name == "title" }.map(\.text)
        var labels: [String] = []
        for (maker, user) in zip(made, used) {
            let e = try #require(maker.steps.first { $0.event == "expect" }?.expectation)
            #expect(user.packet.dst == e.dst && user.packet.dport == e.dport)
            var label = "expect \(e.src ?? "*") → \(e.dst):\(e.dport)"
            if let to = e.to, to != "\(e.dst):\(e.dport)" { label += " (for \(to))" }
            labels.append(label)
            #expect(titles.contains("\(label): made by #\(maker.n), used by #\(user.n)"), "\(label)")
        }
        // Passive: the client may connect to the server's port; active: the server to the firewall's, for the client's.
        #expect(labels[0].hasPrefix("expect 10.0.1.2 → 203.0.113.10:"))
        #expect(labels[1].hasPrefix("expect 203.0.113.10 → 203.0.113.1:") && labels[1].contains(" (for 10.0.1.2:"))
        #expect(document.withClass("note-expectation").map(\.text) == labels)
        #expect(document.withClass("note-related").count == 2)
    }

    /// The outsider's connection to the client, dropped by the forward chain's
    /// policy; its connection to the firewall, answered with a reset; the
    /// client's ping of the firewall, answered by it.
    @Test func dropsAndFirewallsOwnPackets() throws {
        let trace = try Fixture.outsider()
        let document = try #require(SVGDocument.parse(TraceDiagram.svg(trace)))
        let ruleDrops = trace.packets.filter { $0.reason == "rule-drop" }
        try #require(!ruleDrops.isEmpty)
        let policy = try #require(ruleDrops[0].steps.first { $0.kind == "rule" && $0.verdict == "drop" }?.location)
        #expect(policy.hasPrefix("ftp-masquerade.nft:") && policy.hasSuffix(" policy"))
        let drops = document.withClass("end-drop").map(\.text)
        #expect(drops.filter { $0 == "✗ dropped: rule-drop (\(policy))" }.count == ruleDrops.count, "\(drops)")
        #expect(drops.contains("✗ dropped: local-no-service"), "\(drops)")
        #expect(drops.count == trace.packets.filter { $0.verdict == .drop }.count)
        let consumed = trace.packets.filter { $0.verdict == .consumed }
        #expect(consumed.count == 1 && consumed.first?.packet.proto == "icmp")
        #expect(document.withClass("end-consumed").map(\.text) == ["consumed by the firewall"])
        // The reset and the echo reply the firewall made itself.
        let generated = trace.packets.filter { $0.origin == .generated }
        #expect(generated.map(\.packet.proto) == ["tcp", "icmp"])
        #expect(document.packetNumbers().count == trace.packets.count)
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

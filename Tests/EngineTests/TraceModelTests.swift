// The engine's trace writer and the trace model (Sources/TraceFormat) agree:
// real traffic through the engine with tracing on (FTP through masquerade,
// active and over IPv6, a line held and released, TFTP, rule drops and
// rejects, ICMP errors, fragments, malformed bytes, the firewall answering a
// ping) and every line it wrote, the header included, read by the model and
// written back as the same JSON (TraceSchema.roundTrip). And the traffic
// uses every key the model knows, so a key the model and the page keep but
// the engine no longer writes fails too.

@testable import Engine
import Foundation
import Rules
import TFTP
import Testing
import TraceFormat
import Wire

@Suite struct TraceModelTests {
    /// Every record of every scenario below, in order.
    static func engineRecords() throws -> [TraceRecord] {
        var records = try TraceTests().tracedActivePORT()
        records += try heldAndReleased()
        records += try passiveIPv6()
        records += try tftp()
        records += try dropsRejectsAndICMPErrors()
        records += try impaired()
        return records
    }

    /// Impairments on wan0's way out: delayed and duplicated (held), then lost.
    static func impaired() throws -> [TraceRecord] {
        let h = try Harness()
        h.engine.tracing = true
        h.engine.setImpairment(try Impairment.parse("delay 5ms duplicate 100%"), interface: h.wan, direction: .out)
        h.send(Packet.udp(client4, 40000, server4, 53), on: h.lan)
        h.engine.setImpairment(try Impairment.parse("loss 100%"), interface: h.wan, direction: .out)
        h.send(Packet.udp(client4, 40000, server4, 53), on: h.lan)
        return h.engine.takeTraces()
    }

    /// A PORT split over segments (held, then sent whole and rewritten), and
    /// one that never completes (held, then released unchanged).
    static func heldAndReleased() throws -> [TraceRecord] {
        let s = try FTPScenario(FTPRules.masquerade)
        s.h.engine.tracing = true
        s.connect()
        s.clientSends("PO")
        s.clientSends("RT 10,0,1,2,19")
        s.clientSends("5,80\r\n")
        s.clientSends("PORT 10,0,1")
        s.h.now += 1_100_000_000
        s.h.engine.tick(now: s.h.now)
        s.clientSends(",2,195,81\r\n")
        return s.h.engine.takeTraces()
    }

    /// EPSV over IPv6 without NAT: the data connection names its master in brackets.
    static func passiveIPv6() throws -> [TraceRecord] {
        let s = try FTPScenario(FTPRules.helperOnly, ipv6: true)
        s.h.engine.tracing = true
        s.connect()
        s.clientSends("EPSV\r\n")
        s.serverSends("229 Entering Extended Passive Mode (|||50000|)\r\n")
        s.h.send(Packet.tcp(.v6(client6), 40100, .v6(server6), 50000, flags: .syn), on: s.h.lan)
        s.h.send(Packet.tcp(.v6(server6), 50000, .v6(client6), 40100, flags: [.syn, .ack], acknowledgmentNumber: SeqNumber(1)),
                 on: s.h.wan)
        return s.h.engine.takeTraces()
    }

    /// A read request through masquerade, and the answer from a new port.
    static func tftp() throws -> [TraceRecord] {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse(TFTPHelperTests.rules(helper: true), file: "tftp.nft"))
        h.engine.tracing = true
        h.send(Packet.udp(client4, 40000, server4, 69, payload: TFTPHelperTests.request), on: h.lan)
        h.send(Packet.udp(server4, 51234, IPv4Address(203, 0, 113, 1), 40000, payload: [0, 3, 0, 1]), on: h.wan)
        h.send(Packet.udp(client4, 40000, server4, 51234, payload: [0, 4, 0, 1]), on: h.lan)
        return h.engine.takeTraces()
    }

    /// Rules that drop and reject, a chain's policy, TTL and MTU errors, no
    /// route, fragments, a ping to the firewall, and bytes that are no packet.
    static func dropsRejectsAndICMPErrors() throws -> [TraceRecord] {
        let h = try Harness(wanMTU: 1300)
        h.engine.replaceRuleset(try Ruleset.parse("""
            table inet filter {
                chain input { type filter hook input priority filter; policy accept; }
                chain forward {
                    type filter hook forward priority filter; policy drop;
                    tcp dport 23 reject with tcp reset
                    udp dport 7 reject
                    tcp dport 25 drop
                    iifname "lan0" accept
                }
            }
            """, file: "drops.nft"))
        h.engine.tracing = true
        h.send(Packet.tcp(client4, 40000, server4, 23, flags: .syn), on: h.lan)
        h.send(Packet.udp(client4, 40000, server4, 7), on: h.lan)
        h.send(Packet.tcp(client4, 40001, server4, 25, flags: .syn), on: h.lan)
        h.send(Packet.tcp(server4, 80, client4, 40002, flags: .syn), on: h.wan)
        h.send(Packet.udp(client4, 40000, server4, 33434, ttl: 1), on: h.lan)
        h.send(Packet.udp(client4, 40000, IPv4Address(198, 51, 100, 7), 53), on: h.lan)
        h.send(Packet.tcp(client4, 40003, server4, 80, flags: .ack, payload: [UInt8](repeating: 7, count: 1400)), on: h.lan)
        h.send(Packet.tcp(client6, 40003, server6, 80, flags: .ack, payload: [UInt8](repeating: 7, count: 1300)), on: h.lan)
        var header = IPv4Header(source: client4, destination: server4, protocol: .udp)
        header.dontFragment = false
        h.send(Packet(network: .v4(header), transport: .udp(UDPHeader(sourcePort: 5000, destinationPort: 53)),
                      payload: [UInt8](repeating: 1, count: 2000)), on: h.lan)
        h.send(Packet.icmp(client4, IPv4Address(10, 0, 1, 1), .echoRequest(identifier: 1, sequence: 1)), on: h.lan)
        h.send([0x45, 0, 0], on: h.lan)
        h.send([0x75, 0, 0, 0], on: h.lan)
        return h.engine.takeTraces()
    }

    /// The lines as the runner writes them: the header, then every record
    /// (of several runs of the firewall, so `n` starts again at 1 with each).
    static func engineLines() throws -> [String] { try lines.get() }

    static let lines = Result { () throws -> [String] in
        let header = TraceRecord.headerLine(start: "2026-11-22T00:00:00Z",
                                            interfaces: [("lan0", "client", ["10.0.1.1/24", "fd00:1::1/64"]),
                                                         ("wan0", nil, ["203.0.113.1/24"]),
                                                         ("dmz0", nil, ["10.0.2.1/24"])],
                                            segments: ["dmz0": [TraceSegmentHost(host: "web1", mac: "02:00:00:00:00:10",
                                                                                 addresses: ["10.0.2.10", "fd00:2::10"])]])
        return [header] + (try engineRecords()).map(\.jsonLine)
    }

    @Test func theModelReadsAndWritesEveryLineTheEngineWrites() throws {
        #expect(TraceRecord.schemaVersion == TraceReader.version)
        let lines = try Self.engineLines()
        var decoded: [TraceLine] = []
        for (index, line) in lines.enumerated() {
            decoded.append(try TraceSchema.roundTrip(try JSONValue(parsing: Data(line.utf8)), line: index + 1,
                                                     version: TraceRecord.schemaVersion))
        }
        // The whole file reads as the diagram reads it, and is the lines decoded one by one.
        let trace = try TraceReader.read(Data(lines.joined(separator: "\n").utf8), file: "engine.jsonl")
        #expect([TraceLine.header(trace.header)] + trace.packets.map { TraceLine.packet($0) } == decoded)
    }

    /// `lab up` hands the hosts on each segment to `tunwall run --segments`
    /// as text; what it wrote reads back the same (an empty MAC as none).
    @Test func segmentHostsRoundTripThroughTheirOption() {
        let segments = ["lan0": [TraceSegmentHost(host: "client1", mac: "a6:23:d7:6b:0a:af", addresses: ["10.0.1.2", "fd00:1::2"]),
                                 TraceSegmentHost(host: "client2", mac: nil, addresses: ["10.0.1.3"])],
                        "dmz0": [TraceSegmentHost(host: "web1", mac: "02:00:00:00:00:10", addresses: [])]]
        let text = TraceSegmentHost.optionText(segments)
        #expect(text == "dmz0=web1/02:00:00:00:00:10;lan0=client1/a6:23:d7:6b:0a:af/10.0.1.2/fd00:1::2,client2//10.0.1.3")
        #expect(TraceSegmentHost.parseOption(text) == segments)
        #expect(TraceSegmentHost.parseOption("nonsense;=x;lan0=,/") == ["lan0": []], "pieces without a name are left out")
    }

    /// The engine's traffic above uses every key and every kind of step the
    /// model has: none is kept in the model (and on the page) that nothing writes.
    @Test func theTrafficUsesEveryKeyOfTheModel() throws {
        var seen: [String: Set<String>] = [:]
        func note(_ what: String, _ value: JSONValue?) {
            guard case .object(let members)? = value else { return }
            seen[what, default: []].formUnion(members.keys)
        }
        for line in try Self.engineLines() {
            let json = try JSONValue(parsing: Data(line.utf8))
            guard case .object(let members) = json else { continue }
            if members["type"] == .string("header") {
                note("header", json)
                if case .array(let interfaces)? = members["interfaces"] { interfaces.forEach { note("interface", $0) } }
                continue
            }
            note("packet line", json)
            note("packet", members["packet"])
            note("packet", members["sent"])
            guard case .array(let steps)? = members["steps"] else { continue }
            for step in steps {
                guard case .object(let s) = step, case .string(let kind)? = s["kind"] else { continue }
                note("\(kind) step", step)
                note("expectation", s["expectation"])
            }
        }
        var expected: [String: [String]] = [
            "header": TraceHeader.keys, "interface": TraceInterface.keys, "packet line": TracePacket.keys,
            "packet": PacketInfo.keys, "expectation": TraceExpectation.keys,
        ]
        for (kind, keys) in TraceFormat.TraceStep.keys { expected["\(kind) step"] = ["kind", "text"] + keys }
        for (what, keys) in expected {
            #expect(Set(keys) == seen[what] ?? [], "\(what): the model's keys \(keys.sorted()), the engine wrote \((seen[what] ?? []).sorted())")
        }
    }

    /// What the page says the engine writes for bytes it cannot read as a
    /// packet (family 0, "?"), for fragments ("other"), and for a chain's
    /// policy (`where` "FILE: chain NAME policy").
    @Test func unreadableBytesFragmentsAndPolicies() throws {
        let lines = try Self.engineLines().dropFirst().map { line -> TraceFormat.TracePacket in
            guard case .packet(let p) = try TraceLine(json: try JSONValue(parsing: Data(line.utf8))) else {
                throw TraceSchema.Violation(description: "not a packet line: \(line)")
            }
            return p
        }
        #expect(lines.contains { $0.packet.family == 0 && $0.packet.proto == "?" && $0.packet.src == "?" && $0.verdict == .drop })
        #expect(lines.contains { $0.origin == .generated && $0.packet.proto == "other" && $0.packet.sport == nil })
        let policies = lines.flatMap(\.steps).compactMap(\.rule).filter { $0.rule.hasPrefix("policy ") }
        #expect(policies.contains { $0.location == "drops.nft: chain forward policy" && $0.rule == "policy drop" })
    }

    /// Drift is caught: a key the engine writes that the model lacks, a value
    /// outside the model's list, a key or value the page lacks or has extra.
    @Test func driftFails() throws {
        let rule = try #require(try Self.engineLines().first { $0.contains(#"{"kind":"rule","#) })
        for changed in [rule.replacingOccurrences(of: #"{"kind":"rule","#, with: #"{"kind":"rule","priority":0,"#),
                        rule.replacingOccurrences(of: #""hook":""#, with: #""hook":"ingress-"#),
                        rule.replacingOccurrences(of: #""kind":"rule""#, with: #""kind":"route""#)] {
            #expect(changed != rule)
            #expect(throws: TraceSchema.Violation.self) {
                try TraceSchema.roundTrip(try JSONValue(parsing: Data(changed.utf8)), line: 1, version: TraceRecord.schemaVersion)
            }
        }
        let page = try String(contentsOf: TraceSchema.repository.appendingPathComponent("docs/trace-schema.md"), encoding: .utf8)
        try TraceSchema(markdown: page).selfCheck()
        for (old, new) in [(", `epsv-all`", ""), ("| `drop` | `reason` |", "| `drop` | `reason`, `rule` |"),
                           ("`out-of-order`", "`out-of-order`, `gone`"), (", `rewritten`", "")] {
            let changed = page.replacingOccurrences(of: old, with: new)
            #expect(changed != page, "\(old)")
            #expect(throws: TraceSchema.Violation.self, "\(old)") { try TraceSchema(markdown: changed).selfCheck() }
        }
    }
}

// Traces: with tracing on, every packet is narrated decision by decision
// (conntrack, the rule that decided with its file:line, NAT, the FTP helper)
// and written as a JSON line that follows docs/trace-schema.md.

import Foundation
@testable import Engine
import Testing
import Wire

@Suite struct TraceTests {
    func tracedActivePORT() throws -> [TraceRecord] {
        let s = try FTPScenario(FTPRules.masquerade)
        s.h.engine.tracing = true
        s.connect()
        s.clientSends("PORT 10,0,1,2,195,80\r\n")
        s.serverSends("200 PORT command successful\r\n")
        let data = Packet.tcp(server4, 20, IPv4Address(203, 0, 113, 1), 50000, flags: .syn, sequenceNumber: SeqNumber(7))
        s.h.send(data, on: s.h.wan)
        s.h.send(Packet.tcp(IPv4Address(203, 0, 113, 99), 20, IPv4Address(203, 0, 113, 1), 50001, flags: .syn), on: s.h.wan)
        // The data connection goes on: the client's SYN-ACK, the server's ACK
        // (established packets of a connection an expectation let in).
        s.h.send(Packet.tcp(client4, 50000, server4, 20, flags: [.syn, .ack], sequenceNumber: SeqNumber(900),
                            acknowledgmentNumber: SeqNumber(8)), on: s.h.lan)
        s.h.send(Packet.tcp(server4, 20, IPv4Address(203, 0, 113, 1), 50000, flags: .ack, sequenceNumber: SeqNumber(8),
                            acknowledgmentNumber: SeqNumber(901)), on: s.h.wan)
        return s.h.engine.takeTraces()
    }

    @Test func narratesEveryDecision() throws {
        let records = try tracedActivePORT()
        #expect(records.map(\.number) == Array(1...records.count), "numbered in order, none missing")
        let text = records.flatMap(\.narrated).joined(separator: "\n")
        for expected in [
            "#1 lan0 IP 10.0.1.2.40000 > 203.0.113.10.21: Flags [S]",
            "#1   conntrack: new, original direction",
            "#1   rule: accept at ftp.nft: chain pre policy (prerouting)",
            "#1   rule: accept at ftp.nft:7 (forward) iifname \"lan0\" ct state new accept",
            "#1   ftp: helper ftp attached to the new connection (ct helper set)",
            "#1   nat: source 10.0.1.2:40000 -> 203.0.113.1:40000",
            "#1 -> wan0 IP 203.0.113.1.40000 > 203.0.113.10.21: Flags [S]",
            "#4   conntrack: established, original direction (helper ftp)",
            "#4   ftp: parsed \"PORT 10,0,1,2,195,80\"",
            "#4   ftp: expect 203.0.113.10:* -> 203.0.113.1:50000 (for 10.0.1.2:50000)",
            "#4   ftp: rewrote \"PORT 10,0,1,2,195,80\" -> \"PORT 203,0,113,1,195,80\", seq offset +3 from seq 1001",
            "#6   conntrack: related: expected by the FTP helper of 10.0.1.2:40000 -> 203.0.113.10:21",
            "#6   nat: destination 203.0.113.1:50000 -> 10.0.1.2:50000",
            "#6 -> lan0 IP 203.0.113.10.20 > 10.0.1.2.50000: Flags [S]",
            "#6   rule: accept at ftp.nft:6 (forward) ct state established,related accept",
            "#7   conntrack: new, original direction",
            "#7 dropped: local-no-service",
            "#8 generated IP 203.0.113.1.50001 > 203.0.113.99.20: Flags [R.]",
        ] {
            #expect(text.contains(expected), "missing: \(expected)\n\(text)")
        }
    }

    @Test func jsonLinesFollowTheSchema() throws {
        let records = try tracedActivePORT()
        let header = TraceRecord.headerLine(start: "2026-11-22T00:00:00Z",
                                            interfaces: [("lan0", "client", ["10.0.1.1/24"]), ("wan0", nil, ["203.0.113.1/24"])])
        let lines = [header] + records.map(\.jsonLine)
        let schema = try TraceSchema.fromDocs()
        try schema.selfCheck()
        for (index, line) in lines.enumerated() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "line \(index + 1)")
            try schema.check(object, line: index + 1, version: TraceRecord.schemaVersion)
        }
        // The data connection's packets after its first (related) one name
        // their master too, as conntrack keeps it for the entry's life.
        let data = records.filter { $0.origin == .received && $0.packet.source != "203.0.113.99"
            && ($0.packet.sourcePort == 20 || $0.packet.destinationPort == 20) }
        #expect(data.count == 3)
        for record in data {
            let conntrack = try #require(record.steps.first { $0.kind == "conntrack" })
            #expect(conntrack.fields.contains { $0.0 == "master" && $0.1 == .string("10.0.1.2:40000 -> 203.0.113.10:21") },
                    "#\(record.number): \(conntrack.text)")
        }
        // A rewrite step carries the line and what it became.
        let rewrite = records.flatMap(\.steps).first { $0.kind == "ftp" && $0.text.hasPrefix("rewrote") }
        #expect(rewrite.map { TraceJSON.object($0.fields).encoded }
                == #"{"event":"rewrite","line":"PORT 10,0,1,2,195,80","rewritten":"PORT 203,0,113,1,195,80"}"#)
    }
}

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
        return s.h.engine.takeTraces()
    }

    @Test func narratesEveryDecision() throws {
        let records = try tracedActivePORT()
        #expect(records.map(\.number) == Array(1...records.count), "numbered in order, none missing")
        let text = records.flatMap(\.narrated).joined(separator: "\n")
        for expected in [
            "#1 lan0 IP 10.0.1.2.40000 > 203.0.113.10.21: Flags [S]",
            "#1   conntrack: new, original direction",
            "#1   rule: accept at ftp.nft: chain pre policy (prerouting) policy accept",
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
        for (index, line) in lines.enumerated() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "line \(index + 1)")
            try TraceSchema.check(object, line: index + 1)
        }
        // A rewrite step carries the line and what it became.
        let rewrite = records.flatMap(\.steps).first { $0.kind == "ftp" && $0.text.hasPrefix("rewrote") }
        #expect(rewrite.map { TraceJSON.object($0.fields).encoded }
                == #"{"event":"rewrite","line":"PORT 10,0,1,2,195,80","rewritten":"PORT 203,0,113,1,195,80"}"#)
    }
}

/// docs/trace-schema.md, checked key by key (what a reader of the trace may rely on).
enum TraceSchema {
    struct Violation: Error, CustomStringConvertible {
        let description: String
    }

    static func check(_ object: [String: Any], line: Int) throws {
        func fail(_ why: String) -> Violation { Violation(description: "line \(line): \(why)") }
        guard object["v"] as? Int == 1 else { throw fail("v must be 1") }
        switch object["type"] as? String {
        case "header":
            guard object["start"] is String, let interfaces = object["interfaces"] as? [[String: Any]] else {
                throw fail("header needs start and interfaces")
            }
            for interface in interfaces {
                guard interface["name"] is String, interface["host"] is String || interface["host"] is NSNull,
                      interface["addresses"] is [String] else { throw fail("bad interface \(interface)") }
            }
        case "packet":
            guard object["n"] is Int, object["t"] is Double || object["t"] is Int,
                  let origin = object["origin"] as? String, ["received", "generated", "released"].contains(origin),
                  object["in"] is String || object["in"] is NSNull,
                  let packet = object["packet"] as? [String: Any], let steps = object["steps"] as? [[String: Any]],
                  let verdict = object["verdict"] as? String, ["forward", "drop", "held", "consumed"].contains(verdict)
            else { throw fail("packet record lacks a required key: \(object)") }
            try checkPacket(packet, fail)
            if verdict == "forward" {
                guard object["out"] is String else { throw fail("forward needs out") }
                if origin == "received" {
                    guard let sent = object["sent"] as? [String: Any] else { throw fail("forward needs sent") }
                    try checkPacket(sent, fail)
                }
            }
            if verdict == "drop" && !(object["reason"] is String) { throw fail("drop needs reason") }
            for step in steps {
                guard let kind = step["kind"] as? String, step["text"] is String else { throw fail("step needs kind and text") }
                switch kind {
                case "conntrack":
                    guard let state = step["state"] as? String,
                          ["new", "established", "related", "invalid", "untracked"].contains(state),
                          step["direction"] is String else { throw fail("bad conntrack step \(step)") }
                case "rule":
                    guard step["hook"] is String, step["verdict"] is String, step["where"] is String, step["rule"] is String
                    else { throw fail("bad rule step \(step)") }
                case "ftp":
                    guard step["event"] is String else { throw fail("bad ftp step \(step)") }
                    if let e = step["expectation"] as? [String: Any] {
                        guard e["src"] is String, e["dst"] is String, e["dport"] is Int else { throw fail("bad expectation \(e)") }
                    }
                case "nat", "route", "drop":
                    break
                default:
                    throw fail("unknown step kind \(kind)")
                }
            }
        default:
            throw fail("type must be header or packet")
        }
    }

    static func checkPacket(_ packet: [String: Any], _ fail: (String) -> Violation) throws {
        guard packet["summary"] is String, let family = packet["family"] as? Int, family == 4 || family == 6,
              packet["proto"] is String, packet["src"] is String, packet["dst"] is String, packet["length"] is Int
        else { throw fail("bad packet \(packet)") }
    }
}

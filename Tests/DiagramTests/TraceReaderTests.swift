// Reading traces: the fixture whole, and every kind of bad input giving one
// `FILE:LINE: message` error (never a trap).

import Foundation
import Testing
@testable import Diagram
import TestSeeds
import TraceFormat

@Suite struct TraceReaderTests {
    @Test func readsTheFixtures() throws {
        let trace = try Fixture.trace()
        #expect(trace.header.interfaces.map(\.name) == ["lan0", "wan0"])
        #expect(trace.header.interfaces.map(\.host) == ["client", "server"])
        let lines = String(decoding: try Fixture.data("ftp-demo.jsonl"), as: UTF8.self).split(separator: "\n")
        #expect(trace.packets.count == lines.count - 1)
        #expect(trace.packets.map(\.n) == Array(1...trace.packets.count))
        let port = try #require(trace.packets.first { $0.packet.text?.hasPrefix("PORT 10,0,1,2,") == true })
        #expect(port.sent?.text?.hasPrefix("PORT 203,0,113,1,") == true)
        #expect(port.steps.contains { $0.event == "rewrite" && $0.rewritten?.hasPrefix("PORT 203,0,113,1,") == true })
        #expect(port.steps.contains { $0.expectation?.dst == "203.0.113.1" && $0.expectation?.to?.hasPrefix("10.0.1.2:") == true })
        let outsider = try Fixture.outsider()
        #expect(outsider.header.interfaces.map(\.host) == ["client", "server", "outsider"])
        #expect(outsider.packets.contains { $0.verdict == .drop && $0.reason == "rule-drop" })
    }

    func error(_ lines: [String]) -> TraceError? {
        do {
            _ = try Lines.trace(lines)
            return nil
        } catch {
            return error
        }
    }

    @Test func badInputNamesFileAndLine() {
        let good = Lines.packet(n: 1)
        let cases: [([String], String)] = [
            ([Lines.header2, "{not json"], "t.jsonl:2: not valid JSON"),
            ([Lines.header2, "[1,2]"], "t.jsonl:2: expected a JSON object, got an array"),
            ([Lines.header2, "42"], "t.jsonl:2: expected a JSON object, got a number"),
            ([#"{"v":2,"type":"header","interfaces":[]}"#], "t.jsonl:1: trace version 2 is not supported (this tunwall reads version 1)"),
            ([#"{"type":"header","interfaces":[]}"#], "t.jsonl:1: missing key \"v\""),
            ([good], "t.jsonl:1: expected the header line (\"type\":\"header\") first, got \"packet\""),
            ([], "t.jsonl:1: no header line: not a tunwall trace"),
            (["", "  "], "t.jsonl:2: no header line: not a tunwall trace"),
            ([Lines.header2, good, Lines.header2], "t.jsonl:3: a second header line"),
            ([Lines.header2, good.replacingOccurrences(of: #""n":1,"#, with: "")], "t.jsonl:2: missing key \"n\""),
            ([Lines.header2, good.replacingOccurrences(of: #""n":1,"#, with: #""n":"1","#)], "t.jsonl:2: n: expected an integer, got a string"),
            ([Lines.header2, good.replacingOccurrences(of: #""n":1,"#, with: #""n":1.5,"#)], "t.jsonl:2: n: expected an integer, got a number"),
            ([Lines.header2, Lines.packet(n: 1, inInterface: "eth9")], "t.jsonl:2: in: interface \"eth9\" is not in the header"),
            ([Lines.header2, Lines.packet(n: 1, inInterface: nil)], "t.jsonl:2: missing key \"in\" (a received packet names its interface)"),
            ([Lines.header2, Lines.packet(n: 1, verdict: "maybe")], "t.jsonl:2: verdict: unknown value \"maybe\""),
            ([Lines.header2, Lines.packet(n: 1, verdict: "drop", out: nil), Lines.packet(n: 2, out: nil)],
             "t.jsonl:3: missing key \"out\" (verdict is forward)"),
            ([Lines.header2, good.replacingOccurrences(of: #","sent":"#, with: #","sent_":"#)], "t.jsonl:2: missing key \"sent\" (verdict is forward)"),
            ([Lines.header2, Lines.packet(n: 1, steps: #"[{"kind":"ftp"}]"#)], "t.jsonl:2: missing key \"steps[0].text\""),
            ([Lines.header2, Lines.packet(n: 1, steps: #"[{"kind":"ftp","text":"x","expectation":{"dst":"a"}}]"#)],
             "t.jsonl:2: missing key \"steps[0].expectation.dport\""),
            ([Lines.header2, good.replacingOccurrences(of: #""summary":"#, with: #""summary":7,"x":"#)],
             "t.jsonl:2: packet.summary: expected a string, got a number"),
            ([#"{"v":1,"type":"header","interfaces":[{"name":"a"},{"name":"a"}]}"#], "t.jsonl:1: interfaces[1].name: \"a\" appears twice"),
        ]
        for (lines, message) in cases {
            #expect(error(lines)?.description == message, "\(lines)")
        }
    }

    /// The reader is the trace model's (TraceFormat): strict about keys and
    /// values, and about which keys go with which verdict and origin.
    @Test func unknownKeysAndValuesAndMisplacedKeysAreErrors() {
        let good = Lines.packet(n: 1)
        let cases: [([String], String)] = [
            ([Lines.header2, good.replacingOccurrences(of: #""n":1,"#, with: #""n":1,"x":2,"#)],
             "t.jsonl:2: x: unknown key (not in trace schema version 1)"),
            ([Lines.header2, good.replacingOccurrences(of: #""length":48"#, with: #""length":48,"ttl":64"#)],
             "t.jsonl:2: packet.ttl: unknown key (not in trace schema version 1)"),
            ([Lines.header2, Lines.packet(n: 1, steps: #"[{"kind":"route","text":"x","out":"wan0"}]"#)],
             "t.jsonl:2: steps[0].kind: unknown value \"route\""),
            ([Lines.header2, Lines.packet(n: 1, steps: #"[{"kind":"conntrack","text":"x","state":"fresh","direction":"original"}]"#)],
             "t.jsonl:2: steps[0].state: unknown value \"fresh\""),
            ([Lines.header2, Lines.packet(n: 1, steps: #"[{"kind":"tftp","text":"x","event":"rewrite"}]"#)],
             "t.jsonl:2: steps[0].event: unknown value \"rewrite\""),
            ([Lines.header2, Lines.packet(n: 1, steps: #"[{"kind":"tftp","text":"x","event":"parsed","rewritten":"y"}]"#)],
             "t.jsonl:2: steps[0].rewritten: unknown key (not in trace schema version 1)"),
            ([Lines.header2, Lines.packet(n: 1, verdict: "drop", out: nil, extra: #","reason":null"#)],
             "t.jsonl:2: missing key \"reason\" (verdict is drop)"),
            ([Lines.header2, Lines.packet(n: 1, verdict: "held")], "t.jsonl:2: out: only when verdict is forward (it is held)"),
            ([Lines.header2, Lines.packet(n: 1, origin: "generated")], "t.jsonl:2: in: must be null, the packet was generated"),
            ([Lines.header2, good.replacingOccurrences(of: #""sport":40000,"#, with: "")],
             "t.jsonl:2: missing key \"packet.sport\" (tcp has ports)"),
            ([Lines.header2, good.replacingOccurrences(of: #""proto":"tcp""#, with: #""proto":"17""#)],
             "t.jsonl:2: packet.proto: unknown value \"17\""),
            ([#"{"v":1,"type":"header","interfaces":[]}"#], "t.jsonl:1: missing key \"start\""),
        ]
        for (lines, message) in cases {
            #expect(error(lines)?.description == message, "\(lines)")
        }
    }

    @Test func blankLinesAndCRLFAreFine() throws {
        let trace = try Lines.trace([Lines.header2 + "\r", "", Lines.packet(n: 1) + "\r", ""])
        #expect(trace.packets.count == 1)
    }

    /// Damaged copies of the fixture either read or fail with a message; none traps.
    @Test func damagedTracesNeverTrap() throws {
        let original = [UInt8](try Fixture.data("ftp-demo.jsonl"))
        var state = testSeed(0x5eed)
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var failures = 0
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<(1 + next() % 4) {
                let at = next() % bytes.count
                switch next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: next())
                case 1: bytes.remove(at: at)
                default: bytes.insert(Array("\"{}[],:0\n".utf8)[next() % 9], at: at)
                }
            }
            do {
                let trace = try TraceDiagram.read(Data(bytes), file: "f")
                _ = TraceDiagram.svg(trace)
            } catch {
                failures += 1
                #expect(error.description.hasPrefix("f:"))
            }
        }
        #expect(failures > 0)
    }
}

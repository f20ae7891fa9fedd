// The wiki's features in the pipeline (issue 15): `ct count` counts the
// connections conntrack holds (a reset one stops counting, as in Linux),
// `limit rate` runs on the packets' own time, and a verdict map decides.

@testable import Conntrack
@testable import Engine
import Rules
import Testing
import Wire

@Suite struct WikiRuleHookTests {
    func harness(_ rules: String) throws -> Harness {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse(rules, file: "wiki.nft"))
        return h
    }

    @Test func ctCountLimitsConnectionsPerRule() throws {
        let h = try harness("""
            table inet filter {
                chain forward {
                    type filter hook forward priority filter; policy accept;
                    tcp dport 22 ct state new ct count over 2 reject with tcp reset
                }
            }
            """)
        func syn(_ port: UInt16) -> Packet { Packet.tcp(client4, port, server4, 22, flags: .syn, sequenceNumber: SeqNumber(1)) }
        #expect(h.send(syn(40001), on: h.lan).verdict == .forward(h.wan))
        #expect(h.send(syn(40002), on: h.lan).verdict == .forward(h.wan))
        // A retransmitted SYN of a counted connection is the same connection.
        #expect(h.send(syn(40001), on: h.lan).verdict == .forward(h.wan))
        #expect(h.send(syn(40003), on: h.lan).verdict == .drop(.ruleReject))
        #expect(h.engine.ruleset.connectionCounts == [3])
        // The refused one never entered conntrack; once the first connection is reset (CLOSE),
        // Linux stops counting it too, and a new one fits.
        h.advance(seconds: 1)
        let reset = Packet.tcp(server4, 22, client4, 40001, flags: [.rst, .ack], sequenceNumber: SeqNumber(0),
                               acknowledgmentNumber: SeqNumber(2))
        _ = h.send(reset, on: h.wan)
        #expect(h.send(syn(40004), on: h.lan).verdict == .forward(h.wan))
        #expect(h.engine.ruleset.connectionCounts == [2])
    }

    @Test func limitRateFollowsTheClock() throws {
        let h = try harness("""
            table ip filter {
                chain forward {
                    type filter hook forward priority filter; policy accept;
                    icmp type echo-request limit rate 2/second burst 2 packets accept
                    icmp type echo-request drop
                }
            }
            """)
        func ping(_ sequence: UInt16) -> Verdict {
            h.send(Packet.icmp(client4, server4, .echoRequest(identifier: 7, sequence: sequence)), on: h.lan).verdict
        }
        #expect(ping(1) == .forward(h.wan))
        #expect(ping(2) == .forward(h.wan))
        #expect(ping(3) == .drop(.ruleDrop))
        h.advance(seconds: 1)
        #expect(ping(4) == .forward(h.wan))
        #expect(ping(5) == .forward(h.wan))
        #expect(ping(6) == .drop(.ruleDrop))
    }

    @Test func verdictMapDecidesInThePipeline() throws {
        let h = try harness("""
            table inet filter {
                map services { type inet_service : verdict; elements = { 80 : jump web, 22 : drop }; }
                chain web { ip daddr 203.0.113.10 accept; }
                chain forward {
                    type filter hook forward priority filter; policy drop;
                    ct state vmap { established : accept, related : accept, invalid : drop }
                    tcp dport vmap @services
                }
            }
            """)
        #expect(h.send(h.tcp(.syn, seq: 1), on: h.lan).verdict == .forward(h.wan))
        #expect(h.send(h.tcp([.syn, .ack], from: false, seq: 9, ack: 2), on: h.wan).verdict == .forward(h.lan))
        #expect(h.send(Packet.tcp(client4, 40001, server4, 22, flags: .syn), on: h.lan).verdict == .drop(.ruleDrop))
        #expect(h.send(Packet.tcp(client4, 40002, server4, 443, flags: .syn), on: h.lan).verdict == .drop(.ruleDrop))
    }
}

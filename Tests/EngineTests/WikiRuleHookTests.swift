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

    /// With several workers `ct count` counts the firewall's connections, as
    /// Linux's one nf_conncount list per rule does for every CPU: two shards
    /// whose rulesets share the lists (Ruleset.shareLimits, as the firewall
    /// sets them up) let two connections through between them, not two each;
    /// one reset at the worker owning it stops counting at the other too.
    @Test(arguments: [true, false]) func ctCountIsTheFirewallsNotEachWorkers(shared: Bool) throws {
        let text = """
            table inet filter {
                chain forward {
                    type filter hook forward priority filter; policy accept;
                    tcp dport 22 ct state new ct count over 2 reject with tcp reset
                }
            }
            """
        let directory = SteeringDirectory(entries: 4096)
        let first = try Ruleset.parse(text, file: "wiki.nft"), second = try Ruleset.parse(text, file: "wiki.nft")
        if shared { second.shareLimits(with: first) }
        let shards = try [first, second].enumerated().map { worker, rules in
            let h = try Harness()
            h.engine.joinSteering(SteeringMembership(directory: directory, worker: worker, workers: 2))
            h.engine.replaceRuleset(rules)
            return h
        }
        let (a, b) = (shards[0], shards[1])
        func syn(_ port: UInt16) -> Packet { Packet.tcp(client4, port, server4, 22, flags: .syn, sequenceNumber: SeqNumber(1)) }
        #expect(a.send(syn(40001), on: a.lan).verdict == .forward(a.wan))
        #expect(b.send(syn(40002), on: b.lan).verdict == .forward(b.wan))
        guard shared else {
            // Each worker its own list: two more pass, one at each.
            #expect(a.send(syn(40003), on: a.lan).verdict == .forward(a.wan))
            #expect(b.send(syn(40004), on: b.lan).verdict == .forward(b.wan))
            return
        }
        #expect(a.send(syn(40003), on: a.lan).verdict == .drop(.ruleReject))
        #expect(b.send(syn(40004), on: b.lan).verdict == .drop(.ruleReject))
        #expect(a.engine.ruleset.connectionCounts == b.engine.ruleset.connectionCounts)
        // Worker 1's connection is reset (CLOSE) where it is owned: worker 0 stops counting it.
        b.advance(seconds: 1)
        a.advance(seconds: 1)
        let reset = Packet.tcp(server4, 22, client4, 40002, flags: [.rst, .ack], sequenceNumber: SeqNumber(0),
                               acknowledgmentNumber: SeqNumber(2))
        _ = b.send(reset, on: b.wan)
        #expect(a.send(syn(40005), on: a.lan).verdict == .forward(a.wan))
        #expect(b.send(syn(40006), on: b.lan).verdict == .drop(.ruleReject), "40001 and 40005 are counted")
        #expect(b.engine.ruleset.connectionCounts == [3])
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

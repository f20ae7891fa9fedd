// Tracing the packets a rule marks (`meta nftrace set 1`, TraceMark.swift):
// only marked packets get a record, starting at the marking rule and
// following the packet through its later hooks, NAT and verdict; the next
// packets of the same connection are traced only if a rule marks them too,
// as nft traces packets (skb->nf_trace), not flows; nothing is recorded
// while nobody follows marked packets.

import Conntrack
@testable import Engine
import Rules
import Testing
import Wire

private let marking = """
    table inet filter {
    \tchain forward {
    \t\ttype filter hook forward priority filter; policy drop;
    \t\tct state established,related accept
    \t\ttcp dport 80 ct state new meta nftrace set 1
    \t\tiifname "lan0" ct state new accept
    \t}
    }
    table ip nat {
    \tchain post {
    \t\ttype nat hook postrouting priority srcnat; policy accept;
    \t\toifname "wan0" masquerade
    \t}
    }
    """

@Suite struct NftraceTests {
    func harness(_ rules: String = marking) throws -> Harness {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse(rules, file: "web.nft"))
        return h
    }

    @Test func onlyTheMarkedPacketIsTracedFromTheMarkingRuleOn() throws {
        let h = try harness()
        #expect(h.send(h.tcp(.syn, seq: 1), on: h.lan).verdict == .forward(h.wan))
        let records = h.engine.takeTraces()
        try #require(records.count == 1)
        let record = records[0]
        let mark = try #require(record.mark)
        #expect(mark == TraceMark(table: "inet filter", hook: "forward", chain: "forward",
                                  rule: "tcp dport 80 ct state new meta nftrace set 1", location: "web.nft:5", verdict: "continue"))
        let text = record.monitorLines.joined(separator: "\n")
        for expected in [
            "trace id 00000001 inet filter forward rule tcp dport 80 ct state new meta nftrace set 1 (verdict continue) at web.nft:5",
            "#1 lan0 IP 10.0.1.2.40000 > 203.0.113.10.80: Flags [S]",
            "#1   conntrack: new, original direction",
            "#1   rule: accept at web.nft:6 (forward) iifname \"lan0\" ct state new accept",
            "#1   nat: source 10.0.1.2:40000 -> 203.0.113.1:40000",
            "#1 -> wan0 IP 203.0.113.1.40000 > 203.0.113.10.80: Flags [S]",
        ] {
            #expect(text.contains(expected), "missing: \(expected)\n\(text)")
        }
        // The rest of the connection is not marked (ct state new matched the SYN only): no trace.
        let reply = Packet.tcp(server4, 80, IPv4Address(203, 0, 113, 1), 40000, flags: [.syn, .ack], sequenceNumber: SeqNumber(100),
                               acknowledgmentNumber: SeqNumber(2))
        #expect(h.send(reply, on: h.wan).verdict == .forward(h.lan))
        #expect(h.send(h.tcp(.ack, seq: 2, ack: 101), on: h.lan).verdict == .forward(h.wan))
        #expect(h.engine.takeTraces().isEmpty)
        // Another connection's first packet is: numbered after the first.
        let second = Packet.tcp(client4, 40001, server4, 80, flags: .syn, sequenceNumber: SeqNumber(1))
        #expect(h.send(second, on: h.lan).verdict == .forward(h.wan))
        #expect(h.engine.takeTraces().map(\.number) == [2])
    }

    @Test func aMarkedPacketThatIsDroppedSaysWhy() throws {
        let h = try harness()
        let outside = Packet.tcp(server4, 40000, client4, 80, flags: .syn, sequenceNumber: SeqNumber(1))
        #expect(h.send(outside, on: h.wan).verdict == .drop(.ruleDrop))
        let record = try #require(h.engine.takeTraces().first)
        #expect(record.mark?.rule == "tcp dport 80 ct state new meta nftrace set 1")
        #expect(record.verdict == "drop")
        #expect(record.narrated.contains { $0.contains("rule: drop at web.nft: chain forward policy (forward)") })
    }

    @Test func theMarkingRulesOwnVerdictIsNamed() throws {
        let h = try harness(marking.replacingOccurrences(of: "meta nftrace set 1", with: "meta nftrace set 1 accept"))
        #expect(h.send(h.tcp(.syn, seq: 1), on: h.lan).verdict == .forward(h.wan))
        #expect(h.engine.takeTraces().first?.mark?.verdict == "accept")
    }

    @Test func nothingIsRecordedWhileNobodyFollows() throws {
        let h = try harness()
        h.engine.followsNftrace = false
        #expect(h.send(h.tcp(.syn, seq: 1), on: h.lan).verdict == .forward(h.wan))
        #expect(h.engine.takeTraces().isEmpty)
        #expect(!h.engine.tracingMarked)
        h.engine.followsNftrace = true
        #expect(h.engine.tracingMarked)
        // A ruleset without a marking rule costs nothing: not even the test per hook.
        h.engine.replaceRuleset(try Ruleset.parse(marking.replacingOccurrences(of: "meta nftrace set 1", with: "counter"),
                                                  file: "web.nft"))
        #expect(!h.engine.tracingMarked)
    }

    @Test func tracingEverythingAlsoNamesTheMark() throws {
        let h = try harness()
        h.engine.tracing = true
        #expect(h.send(h.tcp(.syn, seq: 1), on: h.lan).verdict == .forward(h.wan))
        #expect(h.send(Packet.udp(client4, 5000, server4, 53), on: h.lan).verdict == .forward(h.wan))
        let records = h.engine.takeTraces()
        #expect(records.count == 2)
        #expect(records.map { $0.mark != nil } == [true, false])
        // The JSON line is the trace schema's, unchanged: the mark is not in it.
        #expect(!records[0].jsonLine.contains("nftrace"))
    }

    @Test func aMarkInANATChainStartsTheTraceToo() throws {
        let rules = """
            table ip nat {
            \tchain pre {
            \t\ttype nat hook prerouting priority dstnat; policy accept;
            \t\ttcp dport 8080 meta nftrace set 1 dnat to 203.0.113.10:80
            \t}
            }
            """
        let h = try harness(rules)
        let syn = Packet.tcp(client4, 40000, IPv4Address(203, 0, 113, 1), 8080, flags: .syn, sequenceNumber: SeqNumber(1))
        #expect(h.send(syn, on: h.lan).verdict == .forward(h.wan))
        let record = try #require(h.engine.takeTraces().first)
        #expect(record.mark?.chain == "pre" && record.mark?.verdict == "accept")
        #expect(record.narrated.contains { $0.contains("nat: destination 203.0.113.1:8080 -> 203.0.113.10:80") })
    }
}

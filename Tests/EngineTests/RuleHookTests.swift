// The ruleset in the pipeline: each hook's chains see the packet with its
// conntrack state, drops and rejects are carried out and counted, a new
// connection dropped by a rule leaves no conntrack entry, generated packets
// pass through output, and a reload keeps every connection.

@testable import Conntrack
@testable import Engine
import Rules
import Testing
import Wire

private let stateful = """
    table inet filter {
        chain forward {
            type filter hook forward priority filter; policy drop;
            ct state established,related accept
            iifname "lan0" tcp dport 23 counter reject with tcp reset
            iifname "lan0" udp dport 69 reject
            iifname "lan0" ct state new accept
            counter
        }
    }
    """

@Suite struct RuleHookTests {
    func harness(_ rules: String) throws -> Harness {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse(rules, file: "test.nft"))
        return h
    }

    @Test func statefulForwarding() throws {
        let h = try harness(stateful)
        // The client opens a connection: forwarded and tracked.
        #expect(h.send(h.tcp(.syn, seq: 1), on: h.lan).verdict == .forward(h.wan))
        #expect(h.send(h.tcp([.syn, .ack], from: false, seq: 9, ack: 2), on: h.wan).verdict == .forward(h.lan))
        #expect(h.send(h.tcp(.ack, seq: 2, ack: 10), on: h.lan).verdict == .forward(h.wan))
        #expect(h.entry(Harness.tcpTuple)?.isAssured == true)
        // The server may not open one to the client: dropped, counted, not tracked.
        let inbound = Packet.tcp(server4, 5555, client4, 22, flags: .syn)
        #expect(h.send(inbound, on: h.wan).verdict == .drop(.ruleDrop))
        #expect(h.engine.statistics.dropCount(.ruleDrop) == 1)
        let tuple = ConnTuple(source: .v4(server4), destination: .v4(client4), sourcePort: 5555, destinationPort: 22, protocol: .tcp)
        #expect(h.entry(tuple) == nil, "a dropped packet leaves no connection behind")
        // Its ICMP errors are related: an error about the client's connection passes.
        let quoted = Array(h.tcp(.ack, seq: 2, ack: 10).encoded().prefix(28))
        let related = Packet.icmp(server4, client4, .destinationUnreachable(code: 3), payload: quoted)
        #expect(h.send(related, on: h.wan).verdict == .forward(h.lan))
        // The policy's counter rule saw the dropped SYN.
        #expect(h.engine.ruleset.listing().contains("counter packets 1 bytes 40"))
    }

    @Test func rejectSendsAResetFromTheServer() throws {
        let h = try harness(stateful)
        let telnet = Packet.tcp(client4, 40000, server4, 23, flags: .syn, sequenceNumber: SeqNumber(100))
        #expect(h.send(telnet, on: h.lan).verdict == .drop(.ruleReject))
        let out = h.generated()
        #expect(out.count == 1 && out[0].interface == h.lan)
        #expect(PacketSummary.line(for: out[0].bytes)
                == "IP 203.0.113.10.23 > 10.0.1.2.40000: Flags [R.], seq 0, ack 101, win 0, length 0")
        // UDP: ICMP port unreachable from the firewall's LAN address.
        #expect(h.send(Packet.udp(client4, 5000, server4, 69), on: h.lan).verdict == .drop(.ruleReject))
        #expect(PacketSummary.line(for: h.generated()[0].bytes) == "IP 10.0.1.1 > 10.0.1.2: ICMP 203.0.113.10 udp port 69 unreachable, length 36")
        #expect(h.engine.statistics.dropCount(.ruleReject) == 2)
    }

    @Test func inputAndOutputHooks() throws {
        let h = try harness("""
            table ip filter {
                chain input { type filter hook input priority 0; policy accept; icmp type echo-request drop; }
                chain output { type filter hook output priority 0; policy accept; icmp type time-exceeded drop; }
            }
            """)
        let ping = Packet.icmp(client4, IPv4Address(10, 0, 1, 1), .echoRequest(identifier: 1, sequence: 1))
        #expect(h.send(ping, on: h.lan).verdict == .drop(.ruleDrop))
        #expect(h.generated().isEmpty)
        // Generated errors go through output: time exceeded is filtered there.
        #expect(h.send(Packet.udp(client4, 1, server4, 2, ttl: 1), on: h.lan).verdict == .drop(.ttlExceeded))
        #expect(h.generated().isEmpty)
        #expect(h.engine.statistics.dropCount(.ruleDrop) == 2)
        // IPv6 is not in an ip table's reach.
        let ping6 = Packet.icmp(client6, IPv6Address("fd00:1::1")!, .echoRequest(identifier: 1, sequence: 1))
        #expect(h.send(ping6, on: h.lan).verdict == .consumed)
    }

    @Test func logLinesInKernelFormat() throws {
        let h = try harness("""
            table inet filter {
                chain forward { type filter hook forward priority 0; log prefix "fwd: " accept; }
            }
            """)
        h.send(Packet.tcp(client4, 40000, server4, 80, flags: .syn, window: 64240), on: h.lan)
        let lines = h.engine.takeLog()
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.hasPrefix("fwd: IN=lan0 OUT=wan0 MAC= SRC=10.0.1.2 DST=203.0.113.10 LEN=40 ") == true, "\(lines)")
        #expect(lines.first?.contains("TTL=63") == true, "forward sees the decremented TTL, as Linux")
        #expect(lines.first?.contains("PROTO=TCP SPT=40000 DPT=80") == true)
        #expect(h.engine.takeLog().isEmpty)
    }

    @Test func reloadKeepsConnections() throws {
        let h = try harness(stateful)
        h.send(h.tcp(.syn, seq: 1), on: h.lan)
        h.send(h.tcp([.syn, .ack], from: false, seq: 9, ack: 2), on: h.wan)
        // A stricter ruleset: no new connections at all, but established ones live on.
        h.engine.replaceRuleset(try Ruleset.parse("""
            table inet filter {
                chain forward { type filter hook forward priority 0; policy drop; ct state established accept; }
            }
            """, file: "strict.nft"))
        #expect(h.send(h.tcp(.ack, seq: 2, ack: 10), on: h.lan).verdict == .forward(h.wan))
        #expect(h.entry(Harness.tcpTuple)?.tcpState == .established)
        #expect(h.send(Packet.tcp(client4, 40001, server4, 80, flags: .syn), on: h.lan).verdict == .drop(.ruleDrop))
    }
}

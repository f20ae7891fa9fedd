// An ICMP error is RELATED only when it could be genuine (issue 12, item 3):
// it must go to the sender of the packet it quotes, and that packet must
// belong to a tracked connection, as Linux's nf_conntrack_inet_error
// requires ("outer daddr != inner saddr" is logged as invalid).

@testable import Conntrack
@testable import Engine
import Rules
import Testing
import Wire

@Suite struct ICMPErrorValidationTests {
    static let rules = """
        table inet filter {
            chain forward {
                type filter hook forward priority filter; policy drop;
                ct state established,related accept
                iifname "lan0" ct state new accept
            }
        }
        table inet nat {
            chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
        }
        """

    /// A masqueraded UDP flow 10.0.1.2:40000 → 203.0.113.10:53; returns the
    /// packet as it left (the one a genuine error would quote).
    static func flow(_ h: Harness) throws -> [UInt8] {
        h.engine.replaceRuleset(try Ruleset.parse(rules, file: "icmp.nft"))
        let out = h.send(Packet.udp(client4, 40000, server4, 53, payload: [1, 2, 3, 4]), on: h.lan)
        try #require(out.verdict == .forward(h.wan))
        return out.bytes
    }

    @Test func genuineErrorIsRelatedAndTranslated() throws {
        let h = try Harness()
        let sent = try Self.flow(h)
        let error = Packet.icmp(server4, IPv4Address(203, 0, 113, 1), .destinationUnreachable(code: 3),
                                payload: Array(sent.prefix(28)))
        let out = h.send(error, on: h.wan)
        #expect(out.verdict == .forward(h.lan))
        #expect(PacketSummary.line(for: out.bytes).hasPrefix("IP 203.0.113.10 > 10.0.1.2: ICMP"))
    }

    @Test func errorToAnotherHostIsInvalid() throws {
        let h = try Harness()
        let sent = try Self.flow(h)
        // The same quote, sent straight to the inside host: no connection
        // from 203.0.113.10 to 10.0.1.2 was ever seen, so it is not RELATED.
        let spoofed = Packet.icmp(server4, client4, .destinationUnreachable(code: 3), payload: Array(sent.prefix(28)))
        #expect(h.send(spoofed, on: h.wan).verdict == .drop(.ruleDrop))
        #expect(h.engine.conntrack.invalidCounts[InvalidReason.icmpErrorOuterDestination.rawValue] == 1)
        #expect(h.engine.statisticsReport(now: h.now).contains("ICMP error to another host than the quoted packet's sender"))
    }
}

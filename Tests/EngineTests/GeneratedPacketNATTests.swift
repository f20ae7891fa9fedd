// The firewall's own packets about translated connections go through their
// NAT (issue 13, items 3 and 4): a "fragmentation needed" about a
// masqueraded download quotes the server's packet as the server sent it
// (Linux: nf_nat_icmp_reply_translation), a reset from `reject with tcp
// reset` after DNAT comes from the address the client talked to (Linux:
// nf_send_reset attaches the conntrack, so NAT translates the reset), and
// PMTU errors are never rate-limited (icmpv4_mask_allow, icmpv6_mask_allow).

import Conntrack
@testable import Engine
import Rules
import Testing
import Wire

@Suite struct GeneratedPacketNATTests {
    /// lan0 at `lanMTU`, wan0 at 1500, masquerade out of wan0.
    static func masqueradeHarness(lanMTU: Int) throws -> Harness {
        let configuration = EngineConfiguration(
            interfaces: [
                InterfaceConfiguration(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!, InterfaceAddress("fd00:1::1/64")!],
                                       mtu: lanMTU),
                InterfaceConfiguration(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!, InterfaceAddress("2001:db8:1::1/64")!]),
            ],
            conntrackCapacity: 64)
        let h = try Harness(configuration: configuration)
        h.engine.replaceRuleset(try Ruleset.parse("""
            table inet nat {
                chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
            }
            """, file: "masquerade.nft"))
        return h
    }

    @Test(arguments: [false, true])
    func packetTooBigQuotesTheServersOwnPacket(v6: Bool) throws {
        let h = try Self.masqueradeHarness(lanMTU: 1280)
        let client: IPAddress = v6 ? .v6(client6) : .v4(client4)
        let server: IPAddress = v6 ? .v6(server6) : .v4(server4)
        let publicAddress: IPAddress = v6 ? .v6(IPv6Address("2001:db8:1::1")!) : .v4(IPv4Address(203, 0, 113, 1))
        h.send(Packet.tcp(client, 40000, server, 80, flags: .syn, sequenceNumber: SeqNumber(1)), on: h.lan)
        h.send(Packet.tcp(server, 80, publicAddress, 40000, flags: [.syn, .ack], sequenceNumber: SeqNumber(100),
                          acknowledgmentNumber: SeqNumber(2)), on: h.wan)
        h.send(Packet.tcp(client, 40000, server, 80, flags: .ack, sequenceNumber: SeqNumber(2),
                          acknowledgmentNumber: SeqNumber(101)), on: h.lan)
        _ = h.generated()
        // 1,400 bytes of download from the server: too big for the LAN (DF set on IPv4).
        let big = Packet.tcp(server, 80, publicAddress, 40000, flags: .ack, sequenceNumber: SeqNumber(101),
                             acknowledgmentNumber: SeqNumber(2), payload: [UInt8](repeating: 0x61, count: 1400))
        #expect(h.send(big, on: h.wan).verdict == .drop(.packetTooBig))
        let errors = h.generated()
        try #require(errors.count == 1)
        #expect(errors[0].interface == h.wan)
        let error = try Packet(parsing: errors[0].bytes)
        switch (error.transport, error.network) {
        case (.icmpv4(let header), .v4(let ip)):
            #expect(header.type == .destinationUnreachable && header.code == ICMPv4UnreachableCode.fragmentationNeeded)
            #expect(ip.destination == server4, "back to the server")
        case (.icmpv6(let header), .v6(let ip)):
            #expect(header.type == .packetTooBig)
            #expect(ip.destination == server6, "back to the server")
        default:
            Issue.record("not a PMTU error: \(PacketSummary.line(for: errors[0].bytes))")
        }
        // The quote is the server's packet as the server sent it: to the
        // public address and port, checksums as they were.
        let headers = (v6 ? 40 : 20) + 20
        let expected = big.encoded()
        #expect(Array(error.payload.prefix(headers)) == Array(expected.prefix(headers)),
                "quoted: \(PacketSummary.line(for: Array(error.payload)))")
    }

    @Test func rejectAfterPortForwardResetsFromTheAddressTheClientUsed() throws {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse("""
            table inet nat {
                chain prerouting { type nat hook prerouting priority dstnat; iifname "wan0" tcp dport 8080 dnat ip to 10.0.1.2:80; }
            }
            table inet filter {
                chain forward { type filter hook forward priority filter; tcp dport 80 reject with tcp reset; }
            }
            """, file: "forward.nft"))
        let syn = Packet.tcp(server4, 50000, IPv4Address(203, 0, 113, 1), 8080, flags: .syn, sequenceNumber: SeqNumber(7))
        #expect(h.send(syn, on: h.wan).verdict == .drop(.ruleReject))
        let out = h.generated()
        try #require(out.count == 1)
        #expect(out[0].interface == h.wan)
        #expect(PacketSummary.line(for: out[0].bytes).hasPrefix("IP 203.0.113.1.8080 > 203.0.113.10.50000: Flags [R.]"),
                "\(PacketSummary.line(for: out[0].bytes))")
    }

    @Test func pmtuErrorsAreNeverRateLimited() throws {
        let h = try Harness(wanMTU: 1280)
        var errors = 0
        for i in 0..<200 {
            let big = Packet.udp(client4, UInt16(1000 + i), server4, 53, payload: [UInt8](repeating: 0, count: 1300))
            var bytes = big.encoded()
            bytes.withUnsafeMutableBytes { raw in
                let ip = IPv4Packet(parsed: raw)
                ip.flagsAndFragmentOffset = 0x4000   // DF
                ip.updateHeaderChecksum()
            }
            #expect(h.send(bytes, on: h.lan).verdict == .drop(.packetTooBig))
            errors += h.generated().count
        }
        #expect(errors == 200, "every PMTU error goes out")
        #expect(h.engine.statistics.dropCount(.icmpRateLimited) == 0)
        // Other errors are still limited: a burst of 50.
        errors = 0
        for i in 0..<200 {
            h.send(Packet.udp(client4, UInt16(3000 + i), server4, 53, ttl: 1), on: h.lan)
            errors += h.generated().count
        }
        #expect(errors == 50)
        #expect(h.engine.statistics.dropCount(.icmpRateLimited) == 150)
    }
}

extension GeneratedPacketNATTests {
    /// A ping that prerouting's DNAT sent to the firewall itself is answered
    /// from the address the client pinged: the echo reply is the reply
    /// direction of the ping's connection, so its NAT is undone on the way
    /// out, as Linux's nf_nat_ipv4_local_fn / nf_nat_ipv4_out do for the
    /// firewall's own packets.
    @Test(arguments: [false, true])
    func pingRedirectedToTheFirewallIsAnsweredFromTheAddressPinged(v6: Bool) throws {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse("""
            table inet nat {
                chain prerouting { type nat hook prerouting priority dstnat; iifname "lan0" meta l4proto { icmp, ipv6-icmp } redirect; }
            }
            """, file: "redirect.nft"))
        let ping = v6 ? Packet.icmp(client6, server6, .echoRequest(identifier: 5, sequence: 1))
                      : Packet.icmp(client4, server4, .echoRequest(identifier: 5, sequence: 1))
        #expect(h.send(ping, on: h.lan).verdict == .consumed)
        let out = h.generated()
        try #require(out.count == 1, "one echo reply")
        #expect(out[0].interface == h.lan)
        let line = PacketSummary.line(for: out[0].bytes)
        #expect(line.hasPrefix(v6 ? "IP6 2001:db8:1::10 > fd00:1::2: ICMP6, echo reply" : "IP 203.0.113.10 > 10.0.1.2: ICMP echo reply"),
                "from the address the client pinged: \(line)")
        #expect(try Packet(parsing: out[0].bytes).encoded() == out[0].bytes, "checksums valid: \(line)")
    }
}

extension GeneratedPacketNATTests {
    /// `type nat hook input` chains translate connections to the firewall
    /// (snat at LOCAL_IN, after the filter chains), and the firewall's answer
    /// goes back through the same translation to the client.
    @Test func snatAtTheInputHookAppliesToPingsOfTheFirewall() throws {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse("""
            table ip nat {
                chain input { type nat hook input priority 100; ip saddr 10.0.1.2 snat to 10.0.1.99; }
            }
            """, file: "input-snat.nft"))
        let ping = Packet.icmp(client4, IPv4Address(10, 0, 1, 1), .echoRequest(identifier: 6, sequence: 1))
        #expect(h.send(ping, on: h.lan).verdict == .consumed)
        let out = h.generated()
        try #require(out.count == 1, "one echo reply")
        let line = PacketSummary.line(for: out[0].bytes)
        #expect(line.hasPrefix("IP 10.0.1.1 > 10.0.1.2: ICMP echo reply"), "back to the client as it sent the ping: \(line)")
        #expect(try Packet(parsing: out[0].bytes).encoded() == out[0].bytes, "checksums valid: \(line)")
        let listing = h.engine.conntrack.listing(now: h.now).joined(separator: "\n")
        #expect(listing.contains("src=10.0.1.1 dst=10.0.1.99"), "the reply tuple names the translated source: \(listing)")
    }
}

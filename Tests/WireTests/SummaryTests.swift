// tcpdump-style one-line summaries of packets built here; the fixture test
// checks the same function over real captured packets.

import Testing
@testable import Wire

@Suite struct SummaryTests {
    @Test func tcp() {
        #expect(PacketSummary.line(for: Packet.tcp(client4, 40000, server4, 21, flags: .syn,
                                                   sequenceNumber: SeqNumber(1)).encoded())
                == "IP 10.0.1.2.40000 > 203.0.113.10.21: Flags [S], seq 1, win 64240, length 0")
        #expect(PacketSummary.line(for: Packet.tcp(server4, 21, client4, 40000, flags: [.syn, .ack],
                                                   sequenceNumber: SeqNumber(7), acknowledgmentNumber: SeqNumber(2),
                                                   window: 65160, options: TCPTests.synOptions).encoded())
                == "IP 203.0.113.10.21 > 10.0.1.2.40000: Flags [S.], seq 7, ack 2, win 65160, "
                + "options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0")
        #expect(PacketSummary.line(for: Packet.tcp(client6, 40000, server6, 21, flags: [.psh, .ack],
                                                   sequenceNumber: SeqNumber(0xffff_fffe),
                                                   acknowledgmentNumber: SeqNumber(9), window: 502,
                                                   payload: Array("PORT 1,2\r\n".utf8)).encoded())
                == "IP6 fd00:1::2.40000 > 2001:db8:1::10.21: Flags [P.], seq 4294967294:8, ack 9, win 502, length 10")
        #expect(PacketSummary.line(for: Packet.tcp(client4, 1, server4, 2, flags: .ack,
                                                   acknowledgmentNumber: SeqNumber(1), window: 502).encoded())
                == "IP 10.0.1.2.1 > 203.0.113.10.2: Flags [.], ack 1, win 502, length 0")
    }

    @Test func udpAndICMP() {
        #expect(PacketSummary.line(for: Packet.udp(client4, 5000, server4, 53, payload: [UInt8](repeating: 0, count: 12)).encoded())
                == "IP 10.0.1.2.5000 > 203.0.113.10.53: UDP, length 12")
        #expect(PacketSummary.line(for: Packet.icmp(client4, server4, .echoRequest(identifier: 1, sequence: 1),
                                                    payload: [UInt8](repeating: 0, count: 56)).encoded())
                == "IP 10.0.1.2 > 203.0.113.10: ICMP echo request, id 1, seq 1, length 64")
        let probe = Packet.udp(client4, 40000, server4, 33434, payload: [0, 0, 0, 0]).encoded()
        #expect(PacketSummary.line(for: Packet.icmp(server4, client4, .destinationUnreachable(code: 3),
                                                    payload: Array(probe.prefix(28))).encoded())
                == "IP 203.0.113.10 > 10.0.1.2: ICMP 203.0.113.10 udp port 33434 unreachable, length 36")
        #expect(PacketSummary.line(for: Packet.icmp(IPv4Address(10, 0, 1, 1), client4, .timeExceeded(),
                                                    payload: Array(probe.prefix(28))).encoded())
                == "IP 10.0.1.1 > 10.0.1.2: ICMP time exceeded in-transit, length 36")
        #expect(PacketSummary.line(for: Packet.icmp(client6, server6, .echoRequest(identifier: 7, sequence: 2),
                                                    payload: [UInt8](repeating: 0, count: 56)).encoded())
                == "IP6 fd00:1::2 > 2001:db8:1::10: ICMP6, echo request, id 7, seq 2, length 64")
        let probe6 = Packet.udp(client6, 40000, server6, 9, payload: [1]).encoded()
        #expect(PacketSummary.line(for: Packet.icmp(server6, client6, .destinationUnreachable(code: 4),
                                                    payload: probe6).encoded())
                == "IP6 2001:db8:1::10 > fd00:1::2: ICMP6, destination unreachable, unreachable port, 2001:db8:1::10 udp port 9, length 57")
        #expect(PacketSummary.line(for: Packet.icmp(server6, client6, .packetTooBig(mtu: 1300), payload: probe6).encoded())
                == "IP6 2001:db8:1::10 > fd00:1::2: ICMP6, packet too big, mtu 1300, length 57")
    }

    @Test func fragments() {
        var first = IPv4Header(source: client4, destination: IPv4Address(10, 0, 1, 1), protocol: .icmp)
        first.identification = 4660
        first.dontFragment = false
        first.moreFragments = true
        let firstBytes = Packet(network: .v4(first), transport: .icmpv4(.echoRequest(identifier: 5, sequence: 1)),
                                payload: [UInt8](repeating: 0, count: 1472)).encoded()
        #expect(PacketSummary.line(for: firstBytes)
                == "IP 10.0.1.2 > 10.0.1.1: ICMP echo request, id 5, seq 1, length 1480 (frag 4660:1480@0+)")
        var later = first
        later.moreFragments = false
        later.fragmentOffset = 185
        #expect(PacketSummary.line(for: Packet(network: .v4(later), transport: .none,
                                               payload: [UInt8](repeating: 0, count: 1528)).encoded())
                == "IP 10.0.1.2 > 10.0.1.1: ip-proto-1 (frag 4660:1528@1480)")
        var v6 = IPv6Header(source: client6, destination: IPv6Address("fd00:1::1")!, upperLayerProtocol: .icmpv6)
        v6.extensionHeaders = [IPv6ExtensionHeader(fragment: IPv6FragmentHeader(offset: 181, moreFragments: false,
                                                                                identification: 9))]
        #expect(PacketSummary.line(for: Packet(network: .v6(v6), transport: .none,
                                               payload: [UInt8](repeating: 0, count: 1560)).encoded())
                == "IP6 fd00:1::2 > fd00:1::1: frag (1448|1560)")
    }

    @Test func invalidPacketsAreNamedNotFatal() {
        #expect(PacketSummary.line(for: []) == "empty packet")
        #expect(PacketSummary.line(for: [0x45, 0, 0]) == "IP [invalid: IPv4 truncated: needs 20 bytes, has 3]")
        #expect(PacketSummary.line(for: [0x75]) == "IP [invalid: bad IP version 7]")
        var bytes = Packet.tcp(client4, 40000, server4, 21, flags: .syn).encoded()
        bytes[32] = 0xf0  // data offset 15: 60 bytes of header in a 20-byte segment
        #expect(PacketSummary.line(for: bytes) == "IP 10.0.1.2.40000 > 203.0.113.10.21: [|tcp]")
    }
}

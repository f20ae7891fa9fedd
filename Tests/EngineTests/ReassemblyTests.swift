// Reassembly before conntrack and refragmentation on output (issue 13 items
// 1 and 2), each test naming the Linux function or RFC it mirrors:
// ip_defrag / nf_ct_frag6_gather (queues, duplicates, overlaps, timeouts,
// memory), RFC 1858 / RFC 7112 (tiny first fragments), ip_do_fragment /
// ip6_fragment with frag_max_size (refragmentation), and GSO packets that
// are never fragmented.

@testable import Conntrack
@testable import Engine
import Rules
import Testing
import Wire

@Suite struct ReassemblyTests {
    // MARK: Building fragments

    /// One IPv4 fragment of `whole` (a datagram with a 20-byte header): data
    /// bytes `from..<to` of its payload.
    static func v4Fragment(_ whole: [UInt8], _ from: Int, _ to: Int, more: Bool) -> [UInt8] {
        var bytes = Array(whole[0..<20]) + Array(whole[20 + from..<20 + to])
        bytes.withPacketBytes { raw in
            let ip = IPv4Packet(parsed: raw)
            ip.totalLength = raw.count
            ip.flagsAndFragmentOffset = UInt16(from / 8) | (more ? 0x2000 : 0)
            ip.updateHeaderChecksum()
        }
        return bytes
    }

    /// `whole` cut as a sender with an MTU of `size` cuts it (ip_do_fragment).
    static func v4Fragments(_ whole: [UInt8], size: Int) -> [[UInt8]] {
        let room = (size - 20) & ~7
        let data = whole.count - 20
        return stride(from: 0, to: data, by: room).map { v4Fragment(whole, $0, min($0 + room, data), more: $0 + room < data) }
    }

    /// One IPv6 fragment of `whole` (40-byte header, no extension headers).
    static func v6Fragment(_ whole: [UInt8], _ from: Int, _ to: Int, more: Bool, id: UInt32 = 0x1234_5678) -> [UInt8] {
        let next = IPProtocol(whole[6])
        var bytes = Array(whole[0..<40])
            + IPv6FragmentHeader(offset: UInt16(from / 8), moreFragments: more, identification: id).encoded(nextHeader: next)
            + Array(whole[40 + from..<40 + to])
        bytes.withPacketBytes { raw in
            let ip = IPv6Packet(parsed: raw)
            ip.payloadLength = raw.count - 40
            ip.setNextHeader(.ipv6Fragment, at: 6)
        }
        return bytes
    }

    static func v6Fragments(_ whole: [UInt8], size: Int) -> [[UInt8]] {
        let room = (size - 48) & ~7
        let data = whole.count - 40
        return stride(from: 0, to: data, by: room).map { v6Fragment(whole, $0, min($0 + room, data), more: $0 + room < data) }
    }

    static func udp4(_ count: Int, from source: IPv4Address = client4, to destination: IPv4Address = server4,
                     sport: UInt16 = 5000, dport: UInt16 = 7, id: UInt16 = 0x4242) -> [UInt8] {
        var header = IPv4Header(source: source, destination: destination, protocol: .udp)
        header.dontFragment = false
        header.identification = id
        return Packet(network: .v4(header), transport: .udp(UDPHeader(sourcePort: sport, destinationPort: dport)),
                      payload: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) }).encoded()
    }

    static func udp6(_ count: Int, from source: IPv6Address = client6, to destination: IPv6Address = server6,
                     sport: UInt16 = 5000, dport: UInt16 = 7) -> [UInt8] {
        Packet.udp(source, sport, destination, dport, payload: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) }).encoded()
    }

    /// The fragments put back together (IPv4): header of the first, data in order.
    static func joinV4(_ fragments: [[UInt8]]) throws -> [UInt8] {
        var data: [UInt8] = []
        var header: [UInt8] = []
        for var fragment in fragments {
            try fragment.withPacketBytes { (raw) throws(WireError) in
                let ip = try IPv4Packet(validating: raw)
                #expect(ip.isHeaderChecksumValid)
                #expect(Int(ip.fragmentOffset) * 8 == data.count)
                if header.isEmpty { header = Array(raw[0..<ip.headerLength]) }
                data += Array(ip.payload)
            }
        }
        var whole = header + data
        whole.withPacketBytes { raw in
            let ip = IPv4Packet(parsed: raw)
            ip.totalLength = raw.count
            ip.flagsAndFragmentOffset = 0
            ip.updateHeaderChecksum()
        }
        return whole
    }

    static func joinV6(_ fragments: [[UInt8]], id: UInt32? = nil) throws -> [UInt8] {
        var data: [UInt8] = []
        var header: [UInt8] = []
        var next = IPProtocol(0)
        for var fragment in fragments {
            try fragment.withPacketBytes { (raw) throws(WireError) in
                let ip = try IPv6Packet(validating: raw)
                let chain = try ip.extensionChain()
                guard let fragmentHeader = chain.fragment else { Issue.record("not a fragment"); return }
                if let id { #expect(fragmentHeader.identification == id) }
                #expect(Int(fragmentHeader.offset) * 8 == data.count)
                if header.isEmpty { header = Array(raw[0..<40]); next = chain.fragmentNextHeader ?? next }
                data += Array(raw[48...])
            }
        }
        var whole = header + data
        whole.withPacketBytes { raw in
            let ip = IPv6Packet(parsed: raw)
            ip.payloadLength = raw.count - 40
            ip.setNextHeader(next, at: 6)
        }
        return whole
    }

    // MARK: ip_defrag: in order, out of order, duplicates, overlaps

    /// In order: held until the last, then forwarded whole-as-fragments no
    /// bigger than they came (ip_defrag, then ip_do_fragment with frag_max_size).
    @Test func inOrderIPv4() throws {
        let h = try Harness()
        let whole = Self.udp4(4096)
        let fragments = Self.v4Fragments(whole, size: 1500)
        #expect(fragments.count == 3)
        #expect(h.send(fragments[0], on: h.lan).verdict == .consumed)
        #expect(h.send(fragments[1], on: h.lan).verdict == .consumed)
        #expect(h.generated().isEmpty)
        #expect(h.send(fragments[2], on: h.lan).verdict == .consumed)
        let out = h.generated()
        #expect(out.map(\.bytes.count) == fragments.map(\.count))
        #expect(out.allSatisfy { $0.interface == h.wan })
        var expected = whole
        expected.withPacketBytes { raw in IPv4Packet(parsed: raw).decrementTTL() }
        #expect(try Self.joinV4(out.map(\.bytes)) == expected)
        // The connection is tracked with its real ports.
        #expect(h.entry(ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: 5000,
                                  destinationPort: 7, protocol: .udp)) != nil)
        #expect(h.engine.reassembly.isEmpty && h.engine.reassembly.memory == 0)
    }

    /// Out of order and with a duplicate (inet_frag_queue_insert: IPFRAG_DUP
    /// is dropped, the queue kept).
    @Test func outOfOrderAndDuplicates() throws {
        let h = try Harness()
        let whole = Self.udp4(4096)
        let f = Self.v4Fragments(whole, size: 1500)
        #expect(h.send(f[2], on: h.lan).verdict == .consumed)
        #expect(h.send(f[0], on: h.lan).verdict == .consumed)
        #expect(h.send(f[0], on: h.lan).verdict == .drop(.fragmentDuplicate))
        #expect(h.send(f[1], on: h.lan).verdict == .consumed)
        #expect(h.generated().count == 3)
        #expect(h.engine.statistics.dropCount(.fragmentDuplicate) == 1)
        // IPv6 the same (nf_ct_frag6_queue).
        let whole6 = Self.udp6(3000)
        let f6 = Self.v6Fragments(whole6, size: 1280)
        #expect(f6.count == 3)
        #expect(h.send(f6[1], on: h.lan).verdict == .consumed)
        #expect(h.send(f6[2], on: h.lan).verdict == .consumed)
        #expect(h.send(f6[1], on: h.lan).verdict == .drop(.fragmentDuplicate))
        #expect(h.send(f6[0], on: h.lan).verdict == .consumed)
        let out6 = h.generated()
        #expect(out6.map(\.bytes.count) == f6.map(\.count))
        #expect(h.engine.statistics.dropCount(.fragmentDuplicate) == 2)
    }

    /// RFC 5722 / FragmentSmack (CVE-2018-5391): an overlap discards the
    /// whole datagram, every fragment of it counted.
    @Test func overlapDropsTheDatagram() throws {
        let h = try Harness()
        let whole = Self.udp4(4096)
        #expect(h.send(Self.v4Fragment(whole, 0, 1480, more: true), on: h.lan).verdict == .consumed)
        #expect(h.send(Self.v4Fragment(whole, 1480, 2960, more: true), on: h.lan).verdict == .consumed)
        #expect(h.send(Self.v4Fragment(whole, 1472, 1488, more: true), on: h.lan).verdict == .drop(.fragmentOverlap))
        #expect(h.engine.statistics.dropCount(.fragmentOverlap) == 3)
        #expect(h.engine.reassembly.isEmpty)
        // The rest of it starts a new queue that never completes.
        #expect(h.send(Self.v4Fragment(whole, 2960, 4104, more: false), on: h.lan).verdict == .consumed)
        #expect(h.generated().isEmpty)

        let whole6 = Self.udp6(3000)
        #expect(h.send(Self.v6Fragment(whole6, 0, 1232, more: true), on: h.lan).verdict == .consumed)
        #expect(h.send(Self.v6Fragment(whole6, 1224, 2456, more: true), on: h.lan).verdict == .drop(.fragmentOverlap))
        #expect(h.engine.statistics.dropCount(.fragmentOverlap) == 5)
    }

    /// RFC 1858 §3.2 (IPv4) and RFC 7112 §5 (IPv6): a first fragment that
    /// cannot hold the transport header is dropped.
    @Test func tinyFirstFragments() throws {
        let h = try Harness()
        let tcp = Packet.tcp(client4, 40000, server4, 80, flags: .syn, payload: [UInt8](repeating: 1, count: 64)).encoded()
        #expect(h.send(Self.v4Fragment(tcp, 0, 8, more: true), on: h.lan).verdict == .drop(.fragmentTinyFirst))
        let udp6 = Self.udp6(100)
        #expect(h.send(Self.v6Fragment(udp6, 0, 0, more: true), on: h.lan).verdict == .drop(.fragmentTinyFirst))
        #expect(h.engine.statistics.dropCount(.fragmentTinyFirst) == 2)
        #expect(h.engine.reassembly.isEmpty)
    }

    // MARK: ip_expire, ip6frag_expire_frag_queue

    /// 30 s for IPv4, 60 s for IPv6; ICMP "fragment reassembly time
    /// exceeded" (code 1) only when the first fragment came.
    @Test func timeoutsSendICMPOnlyWithTheFirstFragment() throws {
        let h = try Harness()
        let whole = Self.udp4(4096)
        let f = Self.v4Fragments(whole, size: 1500)
        #expect(h.send(f[0], on: h.lan).verdict == .consumed)
        let other = Self.udp4(4096, id: 0x9999)
        #expect(h.send(Self.v4Fragments(other, size: 1500)[1], on: h.lan).verdict == .consumed)
        let whole6 = Self.udp6(3000)
        #expect(h.send(Self.v6Fragments(whole6, size: 1280)[0], on: h.lan).verdict == .consumed)
        h.advance(seconds: 29)
        h.engine.tick(now: h.now)
        #expect(h.generated().isEmpty)
        h.advance(seconds: 1)
        h.engine.tick(now: h.now)
        let icmp = h.generated()
        #expect(icmp.count == 1)
        #expect(icmp.first?.interface == h.lan)
        let summary = PacketSummary.line(for: icmp.first?.bytes ?? [])
        #expect(summary.contains("reassembly"), "\(summary)")
        #expect(h.engine.statistics.dropCount(.fragmentTimeout) == 2)
        h.advance(seconds: 30)
        h.engine.tick(now: h.now)
        let icmp6 = h.generated()
        #expect(icmp6.count == 1)
        var reply = try #require(icmp6.first?.bytes)
        try reply.withPacketBytes { (raw) throws(WireError) in
            let ip = try IPv6Packet(validating: raw)
            #expect(ip.destination == client6)
            let message = try ICMPv6Message(validating: raw.suffix(from: 40))
            #expect(message.type == .timeExceeded && message.code == 1)
        }
        #expect(h.engine.statistics.dropCount(.fragmentTimeout) == 3)
        #expect(h.engine.reassembly.isEmpty)
    }

    // MARK: Memory: ipfrag_high_thresh / ipfrag_low_thresh

    @Test func memoryPressureEvictsOldestFirst() throws {
        let h = try Harness()
        for id in 0..<3000 {
            let whole = Self.udp4(2000, id: UInt16(id))
            #expect(h.send(Self.v4Fragment(whole, 0, 1480, more: true), on: h.lan).verdict == .consumed)
            h.now += 1000
        }
        let r = h.engine.reassembly
        #expect(r.memory <= r.limits.highThreshold)
        #expect(h.engine.statistics.dropCount(.fragmentMemory) > 0)
        // The newest queue survived, the oldest did not.
        let key = { (id: UInt32) in FragmentKey(source: ConnTuple.wide(client4), destination: ConnTuple.wide(server4), identification: id,
                                                 protocolNumber: 17, family: .ipv4) }
        #expect(r.queues[key(2999)] != nil)
        #expect(r.queues[key(0)] == nil)
        // Other traffic keeps flowing.
        #expect(h.send(Packet.udp(client4, 1, server4, 2, payload: [1]), on: h.lan).verdict == .forward(h.wan))
    }

    // MARK: Through NAT, refragmented no bigger than it came

    /// A 4,096-byte UDP datagram sent as 3 fragments through masquerade
    /// leaves translated, as fragments no bigger than it came (frag_max_size),
    /// and the reply comes back the same way.
    @Test func fragmentedDatagramThroughMasquerade() throws {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse(NATTests.masquerade, file: "nat.nft"))
        let whole = Self.udp4(4096)
        let f = Self.v4Fragments(whole, size: 1400)
        #expect(f.count == 3)
        for fragment in f { #expect(h.send(fragment, on: h.lan).verdict == .consumed) }
        let out = h.generated()
        #expect(out.count == 3 && out.allSatisfy { $0.bytes.count <= 1400 && $0.interface == h.wan })
        var joined = try Self.joinV4(out.map(\.bytes))
        var sourcePort: UInt16 = 0
        try joined.withPacketBytes { (raw) throws(WireError) in
            let ip = try IPv4Packet(validating: raw)
            #expect(ip.source == IPv4Address(203, 0, 113, 1))
            let udp = try UDPDatagram(validating: ip.payload)
            #expect(udp.isChecksumValid(pseudoHeaderSum: ip.pseudoHeaderSum(length: ip.payload.count)))
            #expect(udp.payload.count == 4096)
            sourcePort = udp.sourcePort
        }
        // The reply, in fragments of 1000, reaches the client translated back.
        let reply = Self.udp4(4096, from: server4, to: IPv4Address(203, 0, 113, 1), sport: 7, dport: sourcePort, id: 7)
        for fragment in Self.v4Fragments(reply, size: 1000) { #expect(h.send(fragment, on: h.wan).verdict == .consumed) }
        let back = h.generated()
        #expect(back.count == 5 && back.allSatisfy { $0.bytes.count <= 1000 && $0.interface == h.lan })
        var joinedBack = try Self.joinV4(back.map(\.bytes))
        try joinedBack.withPacketBytes { (raw) throws(WireError) in
            let ip = try IPv4Packet(validating: raw)
            #expect(ip.destination == client4)
            let udp = try UDPDatagram(validating: ip.payload)
            #expect(udp.destinationPort == 5000)
            #expect(udp.isChecksumValid(pseudoHeaderSum: ip.pseudoHeaderSum(length: ip.payload.count)))
        }
    }

    /// IPv6 likewise: fragments again with the same identification
    /// (ip6_fragment of a reassembled datagram).
    @Test func fragmentedIPv6DatagramThroughMasquerade() throws {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse(NATTests.masquerade, file: "nat.nft"))
        let whole = Self.udp6(4096)
        let f = Self.v6Fragments(whole, size: 1280)
        #expect(f.count == 4)
        for fragment in f { #expect(h.send(fragment, on: h.lan).verdict == .consumed) }
        let out = h.generated()
        #expect(out.count == 4 && out.allSatisfy { $0.bytes.count <= 1280 && $0.interface == h.wan })
        var joined = try Self.joinV6(out.map(\.bytes), id: 0x1234_5678)
        try joined.withPacketBytes { (raw) throws(WireError) in
            let ip = try IPv6Packet(validating: raw)
            #expect(ip.source == IPv6Address("2001:db8:1::1")!)
            #expect(ip.hopLimit == 63)
            let udp = try UDPDatagram(validating: raw.suffix(from: 40))
            #expect(udp.payload.count == 4096)
            #expect(udp.isChecksumValid(pseudoHeaderSum: ip.pseudoHeaderSum(protocol: .udp, length: udp.bytes.count)))
        }
        // A too-big IPv6 packet that came whole is refused as before.
        let big = Self.udp6(1600)
        #expect(h.send(big, on: h.lan).verdict == .drop(.packetTooBig))
    }

    /// Fragments bigger than the egress MTU: IPv4 (DF clear) is cut to the
    /// MTU; IPv6 may not be, so the sender hears "packet too big" with the
    /// MTU (ip6_pkt_too_big: frag_max_size > mtu).
    @Test func fragmentsLargerThanTheEgressMTU() throws {
        let h = try Harness(wanMTU: 1280)
        for fragment in Self.v4Fragments(Self.udp4(4096), size: 1500) {
            #expect(h.send(fragment, on: h.lan).verdict == .consumed)
        }
        let out = h.generated()
        #expect(out.count == 4 && out.allSatisfy { $0.bytes.count <= 1280 && $0.interface == h.wan })
        let f6 = Self.v6Fragments(Self.udp6(4096), size: 1500)
        for fragment in f6.dropLast() { #expect(h.send(fragment, on: h.lan).verdict == .consumed) }
        #expect(h.send(f6[f6.count - 1], on: h.lan).verdict == .drop(.packetTooBig))
        let icmp = h.generated()
        #expect(icmp.count == 1 && icmp.first?.interface == h.lan)
        let summary = PacketSummary.line(for: icmp.first?.bytes ?? [])
        #expect(summary.contains("packet too big, mtu 1280"), "\(summary)")
    }

    /// Rules see the real ports of a fragmented datagram (they see it whole).
    @Test func rulesSeeRealPorts() throws {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse("""
            table inet filter {
                chain forward { type filter hook forward priority filter; policy accept; udp dport 53 drop; }
            }
            """, file: "f.nft"))
        let dns = Self.v4Fragments(Self.udp4(3000, dport: 53), size: 1500)
        #expect(h.send(dns[0], on: h.lan).verdict == .consumed)
        #expect(h.send(dns[1], on: h.lan).verdict == .consumed)
        #expect(h.send(dns[2], on: h.lan).verdict == .drop(.ruleDrop))
        #expect(h.generated().isEmpty)
        let other = Self.v4Fragments(Self.udp4(3000, dport: 54, id: 2), size: 1500)
        for fragment in other { #expect(h.send(fragment, on: h.lan).verdict == .consumed) }
        #expect(h.generated().count == 3)
    }

    /// GSO super-packets are never fragmented: forwarded whole when their
    /// segments fit, refused otherwise (ip_finish_output_gso).
    @Test func gsoPacketsAreNotFragmented() throws {
        let h = try Harness(wanMTU: 1500)
        var header = IPv4Header(source: client4, destination: server4, protocol: .tcp)
        header.dontFragment = false
        let big = Packet(network: .v4(header), transport: .tcp(TCPHeader(sourcePort: 40000, destinationPort: 80, flags: .ack)),
                         payload: [UInt8](repeating: 1, count: 20_000))
        let gso = VirtioNetHeader(flags: .needsChecksum, gsoType: .tcpv4, headerLength: 40, gsoSize: 1460,
                                  checksumStart: 20, checksumOffset: 16)
        #expect(h.send(big.encoded(), on: h.lan, virtio: gso).verdict == .forward(h.wan))
        #expect(h.generated().isEmpty)
        var tooBig = gso
        tooBig.gsoSize = 1480
        #expect(h.send(big.encoded(), on: h.lan, virtio: tooBig).verdict == .drop(.packetTooBig))
        #expect(h.generated().allSatisfy { $0.interface == h.lan })
    }
}

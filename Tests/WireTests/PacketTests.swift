// Views and values of each protocol: fields read from known bytes, validation
// errors for each way a header can be wrong, and build-then-parse round trips.

import Testing
@testable import Wire

@Suite struct IPv4Tests {
    @Test func readsEveryField() throws {
        var bytes = hex("4500 0073 1c46 4000 4011 0000 c0a8 0001 c0a8 00c7") + [UInt8](repeating: 0xab, count: 95)
        bytes += [0, 0, 0, 0]  // trailing padding beyond total length, ignored
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let ip = try IPv4Packet(validating: raw)
            #expect(ip.headerLength == 20)
            #expect(ip.totalLength == 0x73)
            #expect(ip.bytes.count == 0x73)
            #expect(ip.identification == 0x1c46)
            #expect(ip.dontFragment && !ip.moreFragments && !ip.reservedFlag)
            #expect(ip.fragmentOffset == 0 && !ip.isFragment)
            #expect(ip.ttl == 0x40)
            #expect(ip.protocol == .udp)
            #expect(ip.source == IPv4Address(192, 168, 0, 1))
            #expect(ip.destination == IPv4Address(192, 168, 0, 199))
            #expect(ip.payload.count == 0x73 - 20)
            ip.updateHeaderChecksum()
            #expect(ip.isHeaderChecksumValid)
            #expect(ip.computeHeaderChecksum() == ip.headerChecksum)
            ip.decrementTTL()
            #expect(ip.ttl == 0x3f)
            #expect(ip.isHeaderChecksumValid, "RFC 1624 update after TTL decrement")
        }
    }

    @Test func fragmentFields() throws {
        var bytes = hex("4500 0024 1234 2000 4001 0000 0a00 0102 0a00 0101") + [UInt8](repeating: 0, count: 16)
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let first = try IPv4Packet(validating: raw)
            #expect(first.isFragment && first.moreFragments && !first.isLaterFragment)
            raw[6] = 0x00; raw[7] = 0xb9  // offset 185 × 8 = 1480, last fragment
            let later = try IPv4Packet(validating: raw)
            #expect(later.isFragment && later.isLaterFragment && later.fragmentOffset == 185)
        }
    }

    @Test func options() throws {
        // IHL 6: a Router Alert option (94 04 00 00), RFC 2113.
        let packet = Packet(network: .v4({
            var h = IPv4Header(source: client4, destination: server4, protocol: .udp)
            h.options = [0x94, 0x04, 0x00, 0x00]
            return h
        }()), transport: .udp(UDPHeader(sourcePort: 1, destinationPort: 2)), payload: [1, 2, 3])
        var bytes = packet.encoded()
        #expect(bytes[0] == 0x46)
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let ip = try IPv4Packet(validating: raw)
            #expect(Array(ip.options) == [0x94, 0x04, 0x00, 0x00])
            #expect(ip.isHeaderChecksumValid)
        }
        #expect(try Packet(parsing: bytes) == packet)
    }

    @Test(arguments: [
        ("", WireError.truncated(.ipv4, needed: 20, available: 0)),
        ("4500 0014 0000 0000 4006 0000 0a00 01", WireError.truncated(.ipv4, needed: 20, available: 15)),
        ("5500 0014 0000 0000 4006 0000 0a00 0102 0a00 0101", WireError.badVersion(5)),
        ("4400 0014 0000 0000 4006 0000 0a00 0102 0a00 0101", WireError.badHeaderLength(.ipv4, 16)),
        ("4600 0018 0000 0000 4006 0000 0a00 0102 0a00 0101", WireError.truncated(.ipv4, needed: 24, available: 20)),
        ("4500 0013 0000 0000 4006 0000 0a00 0102 0a00 0101", WireError.badLength(.ipv4, 19)),
        ("4500 0015 0000 0000 4006 0000 0a00 0102 0a00 0101", WireError.truncated(.ipv4, needed: 21, available: 20)),
    ])
    func rejects(text: String, error: WireError) {
        var bytes = hex(text)
        bytes.withPacketBytes { raw in
            #expect(throws: error) { try IPv4Packet(validating: raw) }
        }
    }

    @Test func quotedHeaderMayBeCut() throws {
        var bytes = hex("4500 0100 0000 4000 4011 0000 0a00 0102 cb00 710a 9c40 0035 00ec 0000")
        try bytes.withPacketBytes { (raw) throws(WireError) in
            #expect(throws: WireError.truncated(.ipv4, needed: 256, available: 28)) { try IPv4Packet(validating: raw) }
            let quoted = try IPv4Packet(validatingQuoted: raw)
            #expect(quoted.payload.count == 8)
            #expect(quoted.destination == server4)
        }
    }
}

@Suite struct IPv6Tests {
    @Test func fixedHeaderFields() throws {
        var bytes = Packet.udp(client6, 40000, server6, 53, payload: [1, 2, 3, 4]).encoded()
        bytes[1] |= 0x0b  // flow label 0xb0000
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let ip = try IPv6Packet(validating: raw)
            #expect(ip.payloadLength == 12)
            #expect(ip.flowLabel == 0xb_0000)
            #expect(ip.nextHeader == .udp)
            #expect(ip.hopLimit == 64)
            #expect(ip.source == client6 && ip.destination == server6)
            let chain = try ip.extensionChain()
            #expect(chain.count == 0 && chain.upperLayerProtocol == .udp && chain.upperLayerOffset == 40)
        }
    }

    @Test func walksExtensionHeaders() throws {
        var header = IPv6Header(source: client6, destination: server6, upperLayerProtocol: .tcp)
        header.extensionHeaders = [
            IPv6ExtensionHeader(kind: .hopByHop, body: [0, 5, 2, 0, 0, 1, 0]),      // router alert + PadN
            IPv6ExtensionHeader(kind: .ipv6DestinationOptions, body: [1] + [UInt8](repeating: 0, count: 14)),
            IPv6ExtensionHeader(kind: .ipv6Routing, body: [0, 0, 0, 0, 0, 0, 0]),
            IPv6ExtensionHeader(kind: .authenticationHeader, body: [1] + [UInt8](repeating: 0, count: 10)),
        ]
        let packet = Packet(network: .v6(header),
                            transport: .tcp(TCPHeader(sourcePort: 1, destinationPort: 2, flags: .syn)), payload: [])
        var bytes = packet.encoded()
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let chain = try IPv6Packet(validating: raw).extensionChain()
            #expect(chain.count == 4)
            #expect(chain.upperLayerProtocol == .tcp)
            #expect(chain.upperLayerOffset == 40 + 8 + 16 + 8 + 12)
            #expect(chain.fragment == nil)
        }
        #expect(try Packet(parsing: bytes) == packet)
    }

    @Test func fragmentHeader() throws {
        var header = IPv6Header(source: client6, destination: server6, upperLayerProtocol: .icmpv6)
        header.extensionHeaders = [IPv6ExtensionHeader(fragment: IPv6FragmentHeader(offset: 181, moreFragments: true,
                                                                                    identification: 0xdead_beef))]
        let later = Packet(network: .v6(header), transport: .none, payload: [UInt8](repeating: 7, count: 16))
        var bytes = later.encoded()
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let chain = try IPv6Packet(validating: raw).extensionChain()
            #expect(chain.fragment == IPv6FragmentHeader(offset: 181, moreFragments: true, identification: 0xdead_beef))
            #expect(chain.isLaterFragment)
            #expect(chain.fragmentHeaderOffset == 40)
            #expect(chain.upperLayerOffset == 48)
        }
        #expect(try Packet(parsing: bytes) == later)
    }

    @Test func extensionErrors() {
        // Hop-by-hop second: RFC 8200 §4.1 allows it only first.
        var header = IPv6Header(source: client6, destination: server6, upperLayerProtocol: .udp)
        header.extensionHeaders = [IPv6ExtensionHeader(kind: .ipv6DestinationOptions, body: [0, 1, 4, 0, 0, 0, 0]),
                                   IPv6ExtensionHeader(kind: .hopByHop, body: [0, 1, 4, 0, 0, 0, 0])]
        var bytes = Packet(network: .v6(header), transport: .none, payload: []).encoded()
        bytes.withPacketBytes { raw in
            #expect(throws: WireError.misplacedHopByHop(offset: 48)) { try IPv6Packet(validating: raw).extensionChain() }
        }
        // Nine destination-options headers: more than the walk accepts.
        header.extensionHeaders = Array(repeating: IPv6ExtensionHeader(kind: .ipv6DestinationOptions,
                                                                       body: [0, 1, 4, 0, 0, 0, 0]), count: 9)
        bytes = Packet(network: .v6(header), transport: .none, payload: []).encoded()
        bytes.withPacketBytes { raw in
            #expect(throws: WireError.tooManyExtensionHeaders(8)) { try IPv6Packet(validating: raw).extensionChain() }
        }
        // An extension header whose length runs past the packet.
        header.extensionHeaders = [IPv6ExtensionHeader(kind: .ipv6Routing, body: [4, 0, 0, 0, 0, 0, 0])]
        bytes = Packet(network: .v6(header), transport: .none, payload: []).encoded()
        bytes.withPacketBytes { raw in
            #expect(throws: WireError.truncated(.ipv6Extension, needed: 80, available: 48)) {
                try IPv6Packet(validating: raw).extensionChain()
            }
        }
    }

    @Test func rejects() {
        var short = [UInt8](repeating: 0x60, count: 39)
        short.withPacketBytes { raw in
            #expect(throws: WireError.truncated(.ipv6, needed: 40, available: 39)) { try IPv6Packet(validating: raw) }
        }
        var long = Packet.udp(client6, 1, server6, 2).encoded()
        long[5] = 9  // payload length 9, only 8 present
        long.withPacketBytes { raw in
            #expect(throws: WireError.truncated(.ipv6, needed: 49, available: 48)) { try IPv6Packet(validating: raw) }
        }
    }
}

@Suite struct TCPTests {
    static let synOptions: [TCPOption] = [.maximumSegmentSize(1460), .sackPermitted,
                                          .timestamps(value: 1, echoReply: 0), .noOperation, .windowScale(7)]

    @Test func synWithOptions() throws {
        let syn = Packet.tcp(client4, 40000, server4, 21, flags: .syn, sequenceNumber: SeqNumber(1),
                             options: Self.synOptions)
        var bytes = syn.encoded()
        #expect(bytes.count == 60)
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let ip = try IPv4Packet(validating: raw)
            let tcp = try TCPSegment(validating: ip.payload)
            #expect(tcp.headerLength == 40)
            #expect(tcp.flags == .syn)
            #expect(tcp.sequenceLength == 1)
            #expect(tcp.maximumSegmentSize == 1460)
            #expect(tcp.windowScale == 7)
            #expect(tcp.isSACKPermitted)
            #expect(tcp.timestamps! == (1, 0))
            #expect(tcp.options.isWellFormed)
            #expect(tcp.options.map(\.kind) == [2, 4, 8, 1, 3])
            #expect(tcp.isChecksumValid(pseudoHeaderSum: ip.pseudoHeaderSum(length: tcp.bytes.count)))
            // Option bytes as the RFC lays them out.
            #expect(Array(tcp.optionBytes) == hex("0204 05b4 0402 080a 0000 0001 0000 0000 0103 0307"))
        }
        #expect(try Packet(parsing: bytes) == syn)
    }

    @Test func sackBlocksRewrittenInPlace() throws {
        let blocks = [TCPSACKBlock(left: SeqNumber(1000), right: SeqNumber(2000)),
                      TCPSACKBlock(left: SeqNumber(0xffff_fff0), right: SeqNumber(0x10))]
        let packet = Packet.tcp(client6, 40000, server6, 21, flags: .ack, acknowledgmentNumber: SeqNumber(500),
                                options: [.noOperation, .noOperation, .sack(blocks)])
        var bytes = packet.encoded()
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let ip = try IPv6Packet(validating: raw)
            let tcp = try TCPSegment(validating: ip.payload)
            #expect(tcp.sackBlockCount == 2)
            #expect(tcp.sackBlock(at: 1) == blocks[1])
            #expect(tcp.sackBlock(at: 2) == nil)
            let old = tcp.sackBlock(at: 0)!
            let new = TCPSACKBlock(left: old.left + 5, right: old.right + 5)
            #expect(tcp.setSACKBlock(new, at: 0))
            #expect(!tcp.setSACKBlock(new, at: 5))
            var checksum = tcp.checksum
            checksum = Checksum.update(checksum, old: old.left.rawValue, new: new.left.rawValue)
            checksum = Checksum.update(checksum, old: old.right.rawValue, new: new.right.rawValue)
            tcp.checksum = checksum
            #expect(tcp.isChecksumValid(pseudoHeaderSum: ip.pseudoHeaderSum(protocol: .tcp, length: tcp.bytes.count)))
            #expect(tcp.sackBlock(at: 0) == new)
        }
    }

    @Test func optionDecodingKeepsWhatItCannotRead() {
        func decode(_ text: String) -> [TCPOption] { hex(text).withUnsafeBytes { TCPOption.decode($0) } }
        #expect(decode("0101 0000") == [.noOperation, .noOperation, .endOfList])
        #expect(decode("0000 0000") == [.endOfList])
        #expect(decode("0001 0000") == [.endOfList, .trailing([1, 0, 0])])
        #expect(decode("0000 0000 0000 0000") == [.endOfList, .trailing([0, 0, 0, 0, 0, 0, 0])])
        #expect(decode("0203 0000") == [.unknown(kind: 2, data: [0]), .endOfList])
        #expect(decode("0201") == [.trailing([2, 1])])
        #expect(decode("02") == [.trailing([2])])
        #expect(decode("fe06 0102 0304 0000") == [.unknown(kind: 254, data: [1, 2, 3, 4]), .endOfList])
        #expect(decode("0502 0000") == [.unknown(kind: 5, data: []), .endOfList])
        #expect(decode("0109 0000") == [.noOperation, .trailing([9, 0, 0])])
    }

    @Test func malformedOptionsStopTheInPlaceWalk() throws {
        var bytes = Packet.tcp(client4, 1, server4, 2, flags: .ack,
                               options: [.noOperation, .trailing([8, 40, 0])]).encoded()
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let tcp = try TCPSegment(validating: try IPv4Packet(validating: raw).payload)
            #expect(!tcp.options.isWellFormed)
            #expect(tcp.timestamps == nil)
            #expect(tcp.sackBlockCount == 0)
        }
    }

    @Test func rejects() {
        var bytes = hex("9c40 0015 0000 0001 0000 0000 4002 faf0 0000 0000")  // data offset 4
        bytes.withPacketBytes { raw in
            #expect(throws: WireError.badHeaderLength(.tcp, 16)) { try TCPSegment(validating: raw) }
        }
        bytes = hex("9c40 0015 0000 0001 0000 0000 6002 faf0 0000 0000")  // data offset 6, only 20 bytes
        bytes.withPacketBytes { raw in
            #expect(throws: WireError.truncated(.tcp, needed: 24, available: 20)) { try TCPSegment(validating: raw) }
        }
    }

    @Test func flagsPrintLikeTcpdump() {
        #expect(TCPFlags.syn.description == "S")
        #expect(TCPFlags([.syn, .ack]).description == "S.")
        #expect(TCPFlags([.fin, .psh, .ack]).description == "FP.")
        #expect(TCPFlags([.syn, .ece, .cwr]).description == "SEW")
        #expect(TCPFlags([.rst, .ack]).description == "R.")
        #expect(TCPFlags().description == "none")
    }
}

@Suite struct SeqNumberTests {
    @Test func wrapsAndCompares() {
        let high = SeqNumber(0xffff_fff0)
        #expect(high + 0x20 == SeqNumber(0x10))
        #expect(SeqNumber(0x10) - 0x20 == high)
        #expect(high < SeqNumber(0x10))
        #expect(SeqNumber(0x10) > high)
        #expect(SeqNumber(0x10) - high == 0x20)
        #expect(high - SeqNumber(0x10) == -0x20)
        #expect(SeqNumber(5) <= SeqNumber(5) && SeqNumber(5) >= SeqNumber(5))
        #expect(SeqNumber(0x10).isIn(windowStart: high, length: 0x21))
        #expect(!SeqNumber(0x10).isIn(windowStart: high, length: 0x20))
        var s = SeqNumber(1)
        s += -2
        #expect(s == SeqNumber(0xffff_ffff))
    }
}

@Suite struct UDPTests {
    @Test func fieldsAndChecksum() throws {
        var bytes = Packet.udp(client4, 5000, server4, 53, payload: Array("hello".utf8)).encoded()
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let ip = try IPv4Packet(validating: raw)
            let udp = try UDPDatagram(validating: ip.payload)
            #expect(udp.sourcePort == 5000 && udp.destinationPort == 53 && udp.length == 13)
            #expect(Array(udp.payload) == Array("hello".utf8))
            #expect(udp.isChecksumValid(pseudoHeaderSum: ip.pseudoHeaderSum(length: 13)))
            udp.checksum = 0
            #expect(udp.isChecksumValid(pseudoHeaderSum: 0), "0 means no checksum over IPv4")
        }
    }

    @Test func checksumZeroIsSentAsAllOnes() throws {
        // Find a payload whose checksum computes to zero; it must go out as 0xffff.
        for value in UInt16.min...UInt16.max {
            let packet = Packet.udp(client4, 1, server4, 2, payload: [UInt8(value >> 8), UInt8(value & 0xff)])
            var bytes = packet.encoded()
            let sum = bytes.withPacketBytes { raw -> UInt16 in
                let ip = try! IPv4Packet(validating: raw)
                return Checksum.sum(ip.payload, initial: ip.pseudoHeaderSum(length: 10))
            }
            if bytes[26] == 0xff && bytes[27] == 0xff {
                #expect(sum == 0xffff)
                return
            }
        }
        Issue.record("no payload produced a zero checksum")
    }

    @Test func rejects() {
        var bytes = hex("1388 0035 0007 0000")
        bytes.withPacketBytes { raw in
            #expect(throws: WireError.badLength(.udp, 7)) { try UDPDatagram(validating: raw) }
        }
        bytes = hex("1388 0035 0010 0000 0102")
        bytes.withPacketBytes { raw in
            #expect(throws: WireError.truncated(.udp, needed: 16, available: 10)) { try UDPDatagram(validating: raw) }
        }
        bytes = hex("1388 0035 0008")
        bytes.withPacketBytes { raw in
            #expect(throws: WireError.truncated(.udp, needed: 8, available: 6)) { try UDPDatagram(validating: raw) }
        }
    }
}

@Suite struct ICMPTests {
    @Test func echoV4() throws {
        var bytes = Packet.icmp(client4, server4, .echoRequest(identifier: 0x1234, sequence: 7),
                                payload: [UInt8](repeating: 0x61, count: 56)).encoded()
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let icmp = try ICMPv4Message(validating: try IPv4Packet(validating: raw).payload)
            #expect(icmp.type == .echoRequest && icmp.code == 0 && !icmp.isError)
            #expect(icmp.identifier == 0x1234 && icmp.sequenceNumber == 7)
            #expect(icmp.isChecksumValid)
        }
    }

    @Test func fragmentationNeededQuotesTheDatagram() throws {
        let offending = Packet.tcp(client4, 40000, server4, 80, flags: [.ack, .psh],
                                   payload: [UInt8](repeating: 1, count: 1400)).encoded()
        let error = Packet.icmp(IPv4Address(10, 0, 1, 1), client4, .fragmentationNeeded(nextHopMTU: 1300),
                                payload: Array(offending.prefix(28)))
        var bytes = error.encoded()
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let icmp = try ICMPv4Message(validating: try IPv4Packet(validating: raw).payload)
            #expect(icmp.isError && icmp.code == ICMPv4UnreachableCode.fragmentationNeeded)
            #expect(icmp.nextHopMTU == 1300)
            let inner = try icmp.quotedPacket()
            #expect(inner.source == client4 && inner.destination == server4 && inner.protocol == .tcp)
            #expect(inner.totalLength == 1440 && inner.payload.count == 8)
            #expect(inner.payload.be16(0) == 40000 && inner.payload.be16(2) == 80)
            #expect(icmp.isChecksumValid)
        }
        #expect(PacketSummary.line(for: bytes)
                == "IP 10.0.1.1 > 10.0.1.2: ICMP 203.0.113.10 unreachable - need to frag (mtu 1300), length 36")
    }

    @Test func packetTooBigQuotesThePacket() throws {
        let offending = Packet.udp(client6, 5000, server6, 9, payload: [UInt8](repeating: 2, count: 1400)).encoded()
        let error = Packet.icmp(IPv6Address("fd00:1::1")!, client6, .packetTooBig(mtu: 1300),
                                payload: Array(offending.prefix(1232)))
        var bytes = error.encoded()
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let ip = try IPv6Packet(validating: raw)
            let icmp = try ICMPv6Message(validating: ip.payload)
            #expect(icmp.type == .packetTooBig && icmp.mtu == 1300 && icmp.isError)
            #expect(icmp.isChecksumValid(pseudoHeaderSum: ip.pseudoHeaderSum(protocol: .icmpv6, length: icmp.bytes.count)))
            let inner = try icmp.quotedPacket()
            #expect(inner.payloadLength == 1408 && inner.bytes.count == 1232)
            #expect(inner.destination == server6)
        }
    }

    @Test func truncatedMessagesAreErrors() {
        var bytes: [UInt8] = [8, 0, 0, 0, 0, 0, 0]
        bytes.withPacketBytes { raw in
            #expect(throws: WireError.truncated(.icmpv4, needed: 8, available: 7)) { try ICMPv4Message(validating: raw) }
            #expect(throws: WireError.truncated(.icmpv6, needed: 8, available: 7)) { try ICMPv6Message(validating: raw) }
        }
        // An error whose quoted header is cut short.
        var error = Packet.icmp(server4, client4, .timeExceeded(), payload: [0x45, 0, 0, 20]).encoded()
        error.withPacketBytes { raw in
            let icmp = try! ICMPv4Message(validating: try! IPv4Packet(validating: raw).payload)
            #expect(throws: WireError.truncated(.ipv4, needed: 20, available: 4)) { try icmp.quotedPacket() }
        }
    }
}

@Suite struct VirtioNetHeaderTests {
    @Test func roundTripsLittleEndian() throws {
        let header = VirtioNetHeader(flags: .needsChecksum, gsoType: .tcpv4, headerLength: 66, gsoSize: 1448,
                                     checksumStart: 20, checksumOffset: 16)
        var bytes = [UInt8](repeating: 0, count: 10)
        bytes.withPacketBytes { header.store(to: $0) }
        #expect(bytes == hex("0101 4200 a805 1400 1000"))
        let read = try bytes.withUnsafeBytes { (raw) throws(WireError) in try VirtioNetHeader(loadingFrom: raw) }
        #expect(read == header)
        #expect(read.needsChecksum)
        #expect(VirtioNetHeader.GSOType(rawValue: 0x84).base == .tcpv6)
        #expect(VirtioNetHeader.GSOType(rawValue: 0x84).description == "tcpv6|ecn")
        #expect(throws: WireError.truncated(.virtio, needed: 10, available: 9)) {
            try [UInt8](repeating: 0, count: 9).withUnsafeBytes { (raw) throws(WireError) in
                try VirtioNetHeader(loadingFrom: raw)
            }
        }
    }
}

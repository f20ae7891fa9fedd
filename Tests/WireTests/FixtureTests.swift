// Real packets, captured with tcpdump inside namespaces by
// Scripts/capture-fixtures.sh (Fixtures/README.md lists every one): each
// parses, has valid checksums, and re-emits to identical bytes; and the
// interesting ones read back what the kernel put in them.

import Testing
@testable import Wire

@Suite struct FixtureTests {
    let packets: [[UInt8]]

    init() throws {
        packets = try Fixtures.capturedPackets()
    }

    @Test func everyPacketParsesAndReEmitsIdentically() throws {
        #expect(packets.count >= 90)
        for (index, bytes) in packets.enumerated() {
            let packet = try Packet(parsing: bytes)
            #expect(packet.encoded() == bytes, "packet \(index): \(PacketSummary.line(for: bytes))")
        }
    }

    @Test func everyChecksumIsValid() throws {
        for (index, original) in packets.enumerated() {
            var bytes = original
            try bytes.withPacketBytes { (raw) throws(WireError) in
                if raw[0] >> 4 == 4 {
                    let ip = try IPv4Packet(validating: raw)
                    #expect(ip.isHeaderChecksumValid, "packet \(index)")
                    guard !ip.isFragment else { return }
                    let l4 = ip.payload
                    let pseudo = ip.pseudoHeaderSum(length: l4.count)
                    switch ip.protocol {
                    case .tcp: #expect(try TCPSegment(validating: l4).isChecksumValid(pseudoHeaderSum: pseudo), "packet \(index)")
                    case .udp: #expect(try UDPDatagram(validating: l4).isChecksumValid(pseudoHeaderSum: pseudo), "packet \(index)")
                    case .icmp: #expect(try ICMPv4Message(validating: l4).isChecksumValid, "packet \(index)")
                    default: break
                    }
                } else {
                    let ip = try IPv6Packet(validating: raw)
                    let chain = try ip.extensionChain()
                    guard chain.fragment == nil else { return }
                    let l4 = ip.bytes.suffix(from: chain.upperLayerOffset)
                    let pseudo = ip.pseudoHeaderSum(protocol: chain.upperLayerProtocol, length: l4.count)
                    switch chain.upperLayerProtocol {
                    case .tcp: #expect(try TCPSegment(validating: l4).isChecksumValid(pseudoHeaderSum: pseudo), "packet \(index)")
                    case .udp:
                        let udp = try UDPDatagram(validating: l4)
                        #expect(udp.checksum != 0 && udp.isChecksumValid(pseudoHeaderSum: pseudo), "packet \(index)")
                    case .icmpv6: #expect(try ICMPv6Message(validating: l4).isChecksumValid(pseudoHeaderSum: pseudo), "packet \(index)")
                    default: break
                    }
                }
            }
        }
    }

    /// The first packet matching `predicate`, by its parsed value.
    func first(_ predicate: (Packet) -> Bool) throws -> (index: Int, packet: Packet) {
        for (index, bytes) in packets.enumerated() {
            let packet = try Packet(parsing: bytes)
            if predicate(packet) { return (index, packet) }
        }
        throw FixtureMissing()
    }

    struct FixtureMissing: Error {}

    @Test func tcpSynOptionsV4AndV6() throws {
        for wantV6 in [false, true] {
            let (_, syn) = try first {
                guard case .tcp(let tcp) = $0.transport, tcp.flags == .syn else { return false }
                if case .v6 = $0.network { return wantV6 }
                return !wantV6
            }
            guard case .tcp(let tcp) = syn.transport else { return }
            let kinds = tcp.options.map { option -> String in
                switch option {
                case .maximumSegmentSize: return "mss"
                case .sackPermitted: return "sackOK"
                case .timestamps(_, let echo): return echo == 0 ? "TS" : "TS?"
                case .noOperation: return "nop"
                case .windowScale: return "wscale"
                default: return "other"
                }
            }
            // Linux's SYN: tcp_options_write() order.
            #expect(kinds == ["mss", "sackOK", "TS", "nop", "wscale"])
        }
    }

    @Test func sackBlocksInPlace() throws {
        var found = false
        for original in packets {
            var bytes = original
            try bytes.withPacketBytes { (raw) throws(WireError) in
                guard raw[0] >> 4 == 4, let ip = try? IPv4Packet(validating: raw), ip.protocol == .tcp else { return }
                let tcp = try TCPSegment(validating: ip.payload)
                guard tcp.sackBlockCount > 0, let block = tcp.sackBlock(at: 0) else { return }
                found = true
                // A SACK block lies ahead of the cumulative ack it accompanies.
                #expect(block.left > tcp.acknowledgmentNumber && block.right > block.left)
            }
        }
        #expect(found, "the capture has an ACK with a SACK block")
    }

    @Test func icmpErrorsQuoteTheOffendingPacket() throws {
        var seen: Set<String> = []
        for original in packets {
            var bytes = original
            try bytes.withPacketBytes { (raw) throws(WireError) in
                if raw[0] >> 4 == 4 {
                    let ip = try IPv4Packet(validating: raw)
                    guard ip.protocol == .icmp, !ip.isFragment else { return }
                    let icmp = try ICMPv4Message(validating: ip.payload)
                    guard icmp.isError else { return }
                    let inner = try icmp.quotedPacket()
                    // The quoted datagram was sent by the host the error came back to.
                    #expect(inner.source == ip.destination)
                    switch (icmp.type, icmp.code) {
                    case (.destinationUnreachable, ICMPv4UnreachableCode.port):
                        #expect(inner.protocol == .udp && inner.payload.be16(2) == 9)
                        seen.insert("port4")
                    case (.destinationUnreachable, ICMPv4UnreachableCode.fragmentationNeeded):
                        #expect(icmp.nextHopMTU == 1300 && inner.dontFragment && inner.totalLength > 1300)
                        seen.insert("frag4")
                    case (.timeExceeded, 0):
                        #expect(inner.ttl <= 1)
                        seen.insert("time4")
                    default: break
                    }
                } else {
                    let ip = try IPv6Packet(validating: raw)
                    let chain = try ip.extensionChain()
                    guard chain.upperLayerProtocol == .icmpv6, chain.fragment == nil else { return }
                    let icmp = try ICMPv6Message(validating: ip.bytes.suffix(from: chain.upperLayerOffset))
                    guard icmp.isError else { return }
                    let inner = try icmp.quotedPacket()
                    #expect(inner.source == ip.destination)
                    switch icmp.type {
                    case .destinationUnreachable:
                        #expect(icmp.code == ICMPv6UnreachableCode.port)
                        seen.insert("port6")
                    case .packetTooBig:
                        #expect(icmp.mtu == 1300 && inner.payloadLength + 40 > 1300)
                        seen.insert("ptb6")
                    case .timeExceeded:
                        #expect(inner.hopLimit <= 1)
                        seen.insert("time6")
                    default: break
                    }
                }
            }
        }
        #expect(seen == ["port4", "frag4", "time4", "port6", "ptb6", "time6"])
    }

    @Test func fragmentsAndExtensionHeaders() throws {
        var v4Offsets: [Int] = [], v6Offsets: [Int] = [], hopByHop = 0
        for original in packets {
            var bytes = original
            try bytes.withPacketBytes { (raw) throws(WireError) in
                if raw[0] >> 4 == 4 {
                    let ip = try IPv4Packet(validating: raw)
                    if ip.isFragment && ip.protocol == .icmp { v4Offsets.append(Int(ip.fragmentOffset) * 8) }
                } else {
                    let ip = try IPv6Packet(validating: raw)
                    let chain = try ip.extensionChain()
                    if let fragment = chain.fragment { v6Offsets.append(Int(fragment.offset) * 8) }
                    if ip.nextHeader == .hopByHop {
                        hopByHop += 1
                        // MLDv2 report behind a router-alert hop-by-hop header (RFC 3810 §5).
                        #expect(chain.upperLayerProtocol == .icmpv6 && chain.count == 1)
                        #expect(ip.payload[2] == 5, "router alert option")
                    }
                }
            }
        }
        // A 3000-byte ping and its reply, each in three fragments.
        #expect(v4Offsets == [0, 1480, 2960, 0, 1480, 2960])
        #expect(v6Offsets.count == 6 && v6Offsets.filter { $0 == 0 }.count == 2)
        #expect(hopByHop >= 1)
    }
}

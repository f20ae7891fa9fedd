// Hostile input: 100,000+ random, truncated and bit-flipped variants of real
// packets go through every parser in Wire. Each must return a typed error or
// a result whose invariants hold; none may trap or read out of bounds. (Tests
// run in debug builds, where every out-of-range buffer access traps, so a
// missing length check fails this test instead of reading garbage.)
//
// The seed is fixed: a failure names the round, which replays exactly.

import Testing
@testable import Wire

@Suite struct FuzzTests {
    static let rounds = 120_000

    /// Real captured packets plus built ones that reach the rarer paths
    /// (options, extension headers, ICMP errors, fragments).
    static func seeds() throws -> [[UInt8]] {
        let (c4, s4, c6, s6) = (client4, server4, client6, server6)
        let syn = Packet.tcp(c4, 40000, s4, 21, flags: .syn, options: TCPTests.synOptions).encoded()
        let sack6 = Packet.tcp(c6, 40000, s6, 21, flags: .ack, options: [.noOperation, .noOperation,
            .sack([TCPSACKBlock(left: SeqNumber(1), right: SeqNumber(2))])], payload: Array("PORT 1,2,3,4,5,6\r\n".utf8)).encoded()
        var withHBH = IPv6Header(source: c6, destination: s6, upperLayerProtocol: .udp)
        withHBH.extensionHeaders = [IPv6ExtensionHeader(kind: .hopByHop, body: [0, 5, 2, 0, 0, 1, 0]),
                                    IPv6ExtensionHeader(fragment: IPv6FragmentHeader(offset: 0, moreFragments: true, identification: 1))]
        let hbh = Packet(network: .v6(withHBH), transport: .udp(UDPHeader(sourcePort: 1, destinationPort: 2)), payload: [9]).encoded()
        let quoted = Packet.udp(c4, 5000, s4, 9, payload: [1, 2, 3, 4]).encoded()
        let unreachable = Packet.icmp(s4, c4, .destinationUnreachable(code: 3), payload: quoted).encoded()
        let tooBig = Packet.icmp(s6, c6, .packetTooBig(mtu: 1280), payload: sack6).encoded()
        let built = [syn, sack6, hbh, unreachable, tooBig]
        // The real capture is most of the seeds: a missing or unreadable file
        // fails the test rather than fuzzing five built packets in silence.
        let captured = try Fixtures.capturedPackets()
        guard captured.count >= 90 else { throw SeedError(message: "Fixtures/captured.pcap holds \(captured.count) packets, expected 90 or more") }
        return built + captured
    }

    struct SeedError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    @Test func everyParserSurvivesMutatedPackets() throws {
        let seeds = try Self.seeds()
        var rng = SeededRandom(testSeed: 0x7475_6e77_616c_6c)
        var parsed = 0
        for round in 0..<Self.rounds {
            var bytes = seeds[round % seeds.count]
            Self.mutate(&bytes, &rng)
            if Self.exercise(bytes, round: round) { parsed += 1 }
        }
        // Enough variants must get through validation to reach the deeper
        // parsers, or the test proves little.
        #expect(parsed > Self.rounds / 10, "only \(parsed) variants parsed")
    }

    @Test func pcapReaderSurvivesMutatedFiles() throws {
        var writer = PcapWriter()
        for (i, packet) in try Self.seeds().prefix(40).enumerated() {
            writer.append(packet, seconds: UInt32(i), nanoseconds: 0)
        }
        let file = writer.bytes
        var rng = SeededRandom(testSeed: 101)
        for _ in 0..<3_000 {
            var bytes = file
            Self.mutate(&bytes, &rng)
            if let reader = try? PcapReader(bytes: bytes) {
                var iterator = reader.makeIterator()
                while let record = iterator.next() {
                    #expect(record.data.count <= PcapReader.maximumRecordLength)
                }
            }
        }
    }

    /// One of: truncate, flip bits, overwrite a byte with a boundary value,
    /// overwrite with random bytes, extend with junk; sometimes several.
    static func mutate(_ bytes: inout [UInt8], _ rng: inout SeededRandom) {
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where !bytes.isEmpty:
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            case 1 where !bytes.isEmpty:
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[i] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                }
            case 2 where !bytes.isEmpty:
                // Length and offset fields live in the first 64 bytes.
                let i = Int.random(in: 0..<min(bytes.count, 64), using: &rng)
                bytes[i] = [0x00, 0x01, 0x0f, 0x10, 0x7f, 0x80, 0xf0, 0xff].randomElement(using: &rng)!
            case 3 where !bytes.isEmpty:
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                let n = min(bytes.count - i, Int.random(in: 1...16, using: &rng))
                bytes.replaceSubrange(i..<i + n, with: rng.bytes(n))
            case 4:
                bytes += rng.bytes(Int.random(in: 1...64, using: &rng))
            default:
                bytes = rng.bytes(Int.random(in: 0...80, using: &rng))
                if !bytes.isEmpty { bytes[0] = Bool.random(using: &rng) ? 0x45 : 0x60 }
            }
        }
    }

    /// Runs every parser over `bytes`; true if the whole packet parsed.
    static func exercise(_ original: [UInt8], round: Int) -> Bool {
        var bytes = original
        _ = PacketSummary.line(for: bytes)
        bytes.withUnsafeBytes { _ = try? VirtioNetHeader(loadingFrom: $0) }
        bytes.withPacketBytes { raw in
            if let ip = try? IPv4Packet(validating: raw) {
                #expect(ip.headerLength <= ip.bytes.count && ip.totalLength == ip.bytes.count, "round \(round)")
                _ = (ip.typeOfService, ip.identification, ip.fragmentOffset, ip.ttl, ip.source, ip.destination)
                _ = (ip.isHeaderChecksumValid, ip.options.count)
                transport(ip.protocol, ip.payload, round: round)
            }
            if let ip = try? IPv4Packet(validatingQuoted: raw) {
                #expect(ip.headerLength <= ip.bytes.count, "round \(round)")
                transport(ip.protocol, ip.payload, round: round)
            }
            for quoted in [false, true] {
                guard let ip = quoted ? try? IPv6Packet(validatingQuoted: raw) : try? IPv6Packet(validating: raw) else {
                    continue
                }
                _ = (ip.trafficClass, ip.flowLabel, ip.hopLimit, ip.source, ip.destination)
                if let chain = try? ip.extensionChain() {
                    #expect(chain.upperLayerOffset <= ip.bytes.count, "round \(round)")
                    _ = IPv6Header(ip, chain: chain)
                    if !chain.isLaterFragment {
                        transport(chain.upperLayerProtocol, ip.bytes.suffix(from: chain.upperLayerOffset), round: round)
                    }
                }
            }
        }
        guard let packet = try? Packet(parsing: original) else { return false }
        // A parsed packet re-emits, and what it emits parses back to the same value.
        let again = packet.encoded()
        #expect((try? Packet(parsing: again)) == packet, "round \(round)")
        return true
    }

    static func transport(_ proto: IPProtocol, _ body: UnsafeMutableRawBufferPointer, round: Int) {
        switch proto {
        case .tcp:
            guard let tcp = try? TCPSegment(validating: body) else { return }
            #expect(tcp.headerLength <= tcp.bytes.count, "round \(round)")
            _ = (tcp.sourcePort, tcp.destinationPort, tcp.sequenceNumber, tcp.acknowledgmentNumber, tcp.flags)
            _ = (tcp.maximumSegmentSize, tcp.windowScale, tcp.isSACKPermitted, tcp.timestamps, tcp.options.isWellFormed)
            for slot in tcp.options {
                #expect(slot.offset + slot.length <= tcp.optionBytes.count, "round \(round)")
            }
            for i in 0..<tcp.sackBlockCount { _ = tcp.sackBlock(at: i) }
            _ = TCPHeader(tcp)
        case .udp:
            guard let udp = try? UDPDatagram(validating: body) else { return }
            #expect(udp.length == udp.bytes.count, "round \(round)")
            _ = UDPHeader(udp)
        case .icmp:
            guard let icmp = try? ICMPv4Message(validating: body) else { return }
            _ = (icmp.type, icmp.code, icmp.nextHopMTU, icmp.isChecksumValid)
            if let inner = try? icmp.quotedPacket() {
                _ = (inner.source, inner.destination, inner.protocol, inner.payload.count)
            }
        case .icmpv6:
            guard let icmp = try? ICMPv6Message(validating: body) else { return }
            _ = (icmp.type, icmp.code, icmp.mtu)
            if let inner = try? icmp.quotedPacket() {
                _ = try? inner.extensionChain()
            }
        default:
            break
        }
    }
}

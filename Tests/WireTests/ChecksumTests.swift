// RFC 1071 and RFC 1624 arithmetic: the fast sum against a byte-at-a-time
// reference, and incremental updates against full recomputation.

import Testing
@testable import Wire

@Suite struct ChecksumTests {
    @Test func rfc1071WorkedExample() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        #expect(hex("0001 f203 f4f5 f6f7").sum() == 0xddf2)
    }

    @Test func ipv4HeaderExample() {
        // The classic header from Wikipedia's "IPv4 header checksum": checksum b861.
        var header = hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7")
        #expect(~header.sum() == 0xb861)
        header[10] = 0xb8
        header[11] = 0x61
        #expect(header.sum() == 0xffff)
    }

    @Test func wideSumMatchesReferenceAtEveryLengthAndAlignment() {
        var rng = SeededRandom(testSeed: 1071)
        for length in 0...300 {
            let data = rng.bytes(length + 7)
            for start in 0..<8 where start <= data.count - length {
                let slice = Array(data[start..<start + length])
                let fast = data.withUnsafeBytes { Checksum.sum(UnsafeRawBufferPointer(rebasing: $0[start..<start + length])) }
                #expect(fast == referenceSum(slice), "length \(length) start \(start)")
            }
        }
        // All-ones data exercises every carry.
        let ones = [UInt8](repeating: 0xff, count: 4096)
        #expect(ones.sum() == referenceSum(ones))
    }

    @Test func initialValueChains() {
        var rng = SeededRandom(testSeed: 7)
        for _ in 0..<1000 {
            let a = rng.bytes(Int.random(in: 0...40, using: &rng) * 2)
            let b = rng.bytes(Int.random(in: 0...41, using: &rng))
            let chained = b.withUnsafeBytes { Checksum.sum($0, initial: a.sum()) }
            #expect(chained == referenceSum(a + b))
        }
    }

    /// 10,000+ random field changes: RFC 1624 eqn. 3 agrees with a full
    /// recomputation, for 16-bit and 32-bit fields and for addresses.
    @Test func incrementalAgreesWithFull() {
        var rng = SeededRandom(testSeed: 1624)
        var checked = 0
        for round in 0..<12_000 {
            var data = rng.bytes(2 * Int.random(in: 10...60, using: &rng))
            // Some rounds use degenerate data (all zero, all ones) where the
            // two zeros of one's complement meet.
            if round % 50 == 0 { data = [UInt8](repeating: 0, count: data.count) }
            if round % 50 == 1 { data = [UInt8](repeating: 0xff, count: data.count) }
            let before = ~data.sum()
            let kind = round % 4
            let width = [2, 4, 4, 16][kind]
            let offset = 2 * Int.random(in: 0...(data.count - width) / 2, using: &rng)
            let old = Array(data[offset..<offset + width])
            let new = round % 7 == 0 ? [UInt8](repeating: 0, count: width) : rng.bytes(width)
            data.replaceSubrange(offset..<offset + width, with: new)
            let full = ~data.sum()
            let incremental: UInt16
            switch kind {
            case 0:
                incremental = Checksum.update(before, old: be16(old, 0), new: be16(new, 0))
            case 1:
                incremental = Checksum.update(before, old: be32(old), new: be32(new))
            case 2:
                incremental = Checksum.update(before, old: IPv4Address(be32(old)), new: IPv4Address(be32(new)))
            default:
                incremental = Checksum.update(before, old: v6(old), new: v6(new))
            }
            // RFC 1624 §3: eqn. 3 yields exactly what a full recomputation
            // yields, with one exception: all-zero data, whose full checksum
            // is 0xffff while eqn. 3 may produce the other zero, 0x0000.
            if data.allSatisfy({ $0 == 0 }) {
                #expect(incremental == 0xffff || incremental == 0, "round \(round)")
            } else {
                #expect(incremental == full, "round \(round)")
            }
            checked += 1
        }
        #expect(checked >= 10_000)
    }

    /// A partial (pseudo-header only) checksum, updated for a NAT address change
    /// and then finished as a NIC would, equals the full checksum of the result.
    @Test func partialChecksumThroughNAT() {
        var rng = SeededRandom(testSeed: 99)
        for _ in 0..<2000 {
            let src = IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng))
            let dst = IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng))
            let newSrc = IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng))
            let payload = rng.bytes(Int.random(in: 0...300, using: &rng))
            let packet = Packet.tcp(src, UInt16.random(in: 1...65535, using: &rng), dst, 80,
                                    flags: [.ack, .psh], sequenceNumber: SeqNumber(7), payload: payload)
            var bytes = packet.encoded()
            let l4Length = bytes.count - 20
            // Turn it into what a sender with checksum offload hands over.
            let partial = Checksum.pseudoHeaderSum(source: src, destination: dst, protocol: .tcp, length: l4Length)
            bytes[36] = UInt8(partial >> 8)
            bytes[37] = UInt8(partial & 0xff)
            // NAT rewrites the source address and patches the partial sum.
            let patched = Checksum.updatePartial(partial, old: src, new: newSrc)
            bytes[36] = UInt8(patched >> 8)
            bytes[37] = UInt8(patched & 0xff)
            bytes.withPacketBytes { raw in
                newSrc.store(to: raw, at: 12)
                _ = Checksum.completePartial(raw, start: 20, offset: 16)
            }
            var expected = packet
            if case .v4(var header) = expected.network {
                header.source = newSrc
                expected.network = .v4(header)
            }
            var want = expected.encoded()
            // Completing a partial checksum sends a computed 0 as 0xffff, the
            // other zero of one's complement (Linux's skb_checksum_help:
            // CSUM_MANGLED_0); a receiver's sum is the same either way.
            if want[36] == 0 && want[37] == 0 { (want[36], want[37]) = (0xff, 0xff) }
            // The IP header checksum was not patched here; compare the TCP part.
            #expect(Array(bytes[20...]) == Array(want[20...]))
        }
    }

    @Test func completePartialRejectsFieldOutsidePacket() {
        var bytes = [UInt8](repeating: 0, count: 20)
        bytes.withPacketBytes { raw in
            #expect(!Checksum.completePartial(raw, start: 10, offset: 16))
            #expect(!Checksum.completePartial(raw, start: -1, offset: 0))
            #expect(Checksum.completePartial(raw, start: 2, offset: 16))
        }
    }

    private func be16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i + 1]) }
    private func be32(_ b: [UInt8]) -> UInt32 { UInt32(be16(b, 0)) << 16 | UInt32(be16(b, 2)) }
    private func v6(_ b: [UInt8]) -> IPv6Address {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<8 { high = high << 8 | UInt64(b[i]) }
        for i in 8..<16 { low = low << 8 | UInt64(b[i]) }
        return IPv6Address(high: high, low: low)
    }
}

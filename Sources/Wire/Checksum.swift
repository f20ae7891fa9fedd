// The Internet checksum: RFC 1071 full sums, RFC 1624 incremental updates, the
// IPv4/IPv6 pseudo-headers of TCP, UDP and ICMPv6, and the "partial" checksum
// of offloaded packets.
//
// Every value here is a 16-bit number in network byte order, the way it sits in
// the checksum field. A "sum" is the one's-complement sum, not yet complemented;
// a "checksum" is the complement of a sum, the value a sender writes.
//
// Example: the IPv4 header 4500 0073 0000 4000 4011 ---- c0a8 0001 c0a8 00c7
// sums to 0x479e (with the checksum field as zero), so its checksum is 0xb861
// (RFC 1071 §3's worked example uses the same arithmetic).

public enum Checksum {
    /// One's-complement addition of two 16-bit values (end-around carry).
    @inline(__always)
    public static func add(_ a: UInt16, _ b: UInt16) -> UInt16 {
        let (sum, carry) = a.addingReportingOverflow(b)
        return sum &+ (carry ? 1 : 0)
    }

    /// Folds a wide accumulator of 16-bit words down to 16 bits.
    @inline(__always)
    static func fold(_ wide: UInt64) -> UInt16 {
        var x = (wide & 0xffff_ffff) &+ (wide >> 32)          // ≤ 33 bits
        x = (x & 0xffff) &+ ((x >> 16) & 0xffff) &+ (x >> 32)  // ≤ 18 bits
        x = (x & 0xffff) &+ (x >> 16)                        // ≤ 17 bits
        x = (x & 0xffff) &+ (x >> 16)
        return UInt16(truncatingIfNeeded: x)
    }

    /// RFC 1071 sum of `bytes`, added to `initial`. Reads eight bytes at a time:
    /// the one's-complement sum is independent of word size and byte order
    /// (RFC 1071 §2 (A), (B)), so native 64-bit words are summed with
    /// end-around carry and the folded result is byte-swapped to network order
    /// once at the end. An odd final byte is padded with a zero byte after it.
    /// Only the last piece of a multi-part sum may have an odd length.
    public static func sum(_ bytes: UnsafeRawBufferPointer, initial: UInt16 = 0) -> UInt16 {
        var acc: UInt64 = UInt64(UInt16(bigEndian: initial))
        var i = 0
        let n = bytes.count
        // Four independent carry chains would be faster still; one chain of
        // 64-bit adds is already ~8x the byte-at-a-time loop.
        while i + 8 <= n {
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let (s, carry) = acc.addingReportingOverflow(word)
            acc = s &+ (carry ? 1 : 0)
            i += 8
        }
        if i + 4 <= n {
            let (s, carry) = acc.addingReportingOverflow(UInt64(bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            acc = s &+ (carry ? 1 : 0)
            i += 4
        }
        if i + 2 <= n {
            let (s, carry) = acc.addingReportingOverflow(UInt64(bytes.loadUnaligned(fromByteOffset: i, as: UInt16.self)))
            acc = s &+ (carry ? 1 : 0)
            i += 2
        }
        if i < n {
            // The byte is the high half of a big-endian word whose low half is zero.
            let padded = UInt16(bigEndian: UInt16(bytes[i]) << 8)
            let (s, carry) = acc.addingReportingOverflow(UInt64(padded))
            acc = s &+ (carry ? 1 : 0)
        }
        return UInt16(bigEndian: fold(acc))
    }

    public static func sum(_ bytes: UnsafeMutableRawBufferPointer, initial: UInt16 = 0) -> UInt16 {
        sum(UnsafeRawBufferPointer(bytes), initial: initial)
    }

    /// The checksum a sender writes for `bytes` (the checksum field counted as zero).
    public static func compute(_ bytes: UnsafeRawBufferPointer, initial: UInt16 = 0) -> UInt16 {
        ~sum(bytes, initial: initial)
    }

    // MARK: Pseudo-headers

    /// RFC 793 §3.1 / RFC 768: source, destination, zero, protocol, L4 length.
    public static func pseudoHeaderSum(
        source: IPv4Address, destination: IPv4Address, protocol proto: IPProtocol, length: Int
    ) -> UInt16 {
        var acc: UInt64 = UInt64(source.value >> 16) + UInt64(source.value & 0xffff)
        acc += UInt64(destination.value >> 16) + UInt64(destination.value & 0xffff)
        acc += UInt64(proto.rawValue) + UInt64(UInt16(truncatingIfNeeded: length))
        return fold(acc)
    }

    /// RFC 8200 §8.1: source, destination, 32-bit upper-layer length, zero, next header.
    public static func pseudoHeaderSum(
        source: IPv6Address, destination: IPv6Address, protocol proto: IPProtocol, length: Int
    ) -> UInt16 {
        var acc = wordSum(source) + wordSum(destination)
        let len = UInt32(truncatingIfNeeded: length)
        acc += UInt64(len >> 16) + UInt64(len & 0xffff) + UInt64(proto.rawValue)
        return fold(acc)
    }

    @inline(__always)
    static func wordSum(_ a: IPv6Address) -> UInt64 {
        wordSum(a.high) + wordSum(a.low)
    }

    @inline(__always)
    static func wordSum(_ x: UInt64) -> UInt64 {
        (x >> 48) + ((x >> 32) & 0xffff) + ((x >> 16) & 0xffff) + (x & 0xffff)
    }

    // MARK: RFC 1624 incremental update

    /// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field that changed
    /// from `old` to `new` under a checksum `checksum` (as written in the packet).
    /// Unlike eqn. 2 it never produces 0x0000 where a full recomputation gives
    /// 0xffff (RFC 1624 §3).
    @inline(__always)
    public static func update(_ checksum: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        ~add(add(~checksum, ~old), new)
    }

    @inline(__always)
    public static func update(_ checksum: UInt16, old: UInt32, new: UInt32) -> UInt16 {
        let acc = UInt64(~checksum) + UInt64(~old >> 16) + UInt64(~old & 0xffff)
            + UInt64(new >> 16) + UInt64(new & 0xffff)
        return ~fold(acc)
    }

    @inline(__always)
    public static func update(_ checksum: UInt16, old: IPv4Address, new: IPv4Address) -> UInt16 {
        update(checksum, old: old.value, new: new.value)
    }

    @inline(__always)
    public static func update(_ checksum: UInt16, old: IPv6Address, new: IPv6Address) -> UInt16 {
        let acc = UInt64(~checksum) + wordSum(~old.high) + wordSum(~old.low) + wordSum(new)
        return ~fold(acc)
    }

    // MARK: Partial (offloaded) checksums

    /// With CHECKSUM_PARTIAL (virtio NEEDS_CSUM) the L4 checksum field holds the
    /// pseudo-header *sum*, not complemented (Linux: `th->check =
    /// ~tcp_v4_check(len, saddr, daddr, 0)`), and whoever transmits adds the
    /// rest. A field inside the pseudo-header that changes therefore moves the
    /// stored sum the other way round from eqn. 3: sum' = sum + ~m + m'.
    @inline(__always)
    public static func updatePartial(_ partial: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        add(add(partial, ~old), new)
    }

    @inline(__always)
    public static func updatePartial(_ partial: UInt16, old: UInt32, new: UInt32) -> UInt16 {
        ~update(~partial, old: old, new: new)
    }

    @inline(__always)
    public static func updatePartial(_ partial: UInt16, old: IPv4Address, new: IPv4Address) -> UInt16 {
        ~update(~partial, old: old.value, new: new.value)
    }

    @inline(__always)
    public static func updatePartial(_ partial: UInt16, old: IPv6Address, new: IPv6Address) -> UInt16 {
        ~update(~partial, old: old, new: new)
    }

    /// Finishes a partial checksum as a NIC would: sums the bytes from
    /// `start` to the end of `packet` (the field at `start + offset` holding
    /// the pseudo-header sum) and writes the complement into that field.
    /// Returns false, changing nothing, if the field lies outside the packet.
    @discardableResult
    public static func completePartial(
        _ packet: UnsafeMutableRawBufferPointer, start: Int, offset: Int
    ) -> Bool {
        guard start >= 0, offset >= 0, start <= packet.count, start + offset + 2 <= packet.count else {
            return false
        }
        let total = sum(UnsafeRawBufferPointer(rebasing: packet[start...]))
        // As Linux's skb_checksum_help: a result of 0 is sent as 0xffff (the
        // other zero of one's complement), which UDP needs (0 means "none").
        let checksum = ~total
        packet.setBE16(checksum == 0 ? 0xffff : checksum, at: start + offset)
        return true
    }
}

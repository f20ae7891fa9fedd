// IPv4Address: a 32-bit IPv4 address (RFC 791 §3.1) as one integer in host
// byte order, with strict dotted-quad text (the form glibc inet_pton(AF_INET)
// accepts) and network-order load/store for packet headers. Special ranges
// follow RFC 1122 §3.2.1.3 (0.0.0.0, 127/8, 255.255.255.255) and RFC 5771
// (224/4 multicast).

/// An IPv4 address. `value` is in host byte order so that comparisons,
/// masks and arithmetic work directly: 10.0.1.2 is `0x0A00_0102`.
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    public var value: UInt32

    @inlinable
    public init(_ value: UInt32) {
        self.value = value
    }

    @inlinable
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses a strict dotted quad: exactly four decimal parts 0...255, no
    /// leading zeros, nothing else. Leading zeros are refused because other
    /// tools (inet_aton, many shells' ping) read "010" as octal 8; accepting it
    /// here would make a rule mean something different from what its author saw.
    public init?(_ text: String) {
        var text = text
        // withUTF8 gives contiguous bytes; for native strings it does not copy.
        guard let value = text.withUTF8({ IPv4Address.parse($0) }) else { return nil }
        self.value = value
    }

    /// Reads 4 bytes in network order at `offset`. The caller guarantees that
    /// `offset...offset+3` is inside `bytes` (header views check lengths once).
    @inlinable
    public init(loadingFrom bytes: UnsafeRawBufferPointer, at offset: Int) {
        value = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Writes 4 bytes in network order at `offset`; the caller guarantees bounds.
    @inlinable
    public func store(to bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        bytes.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(15)
        IPv4Address.appendDottedQuad(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// 0.0.0.0: "this host" as a source, "any" in bind and rules.
    public static let any = IPv4Address(0)
    /// 255.255.255.255: limited broadcast.
    public static let broadcast = IPv4Address(0xFFFF_FFFF)

    /// 224.0.0.0/4 (RFC 5771).
    @inlinable public var isMulticast: Bool { value & 0xF000_0000 == 0xE000_0000 }
    /// 127.0.0.0/8: the whole block is loopback, not only 127.0.0.1.
    @inlinable public var isLoopback: Bool { value & 0xFF00_0000 == 0x7F00_0000 }
    @inlinable public var isUnspecified: Bool { value == 0 }
    @inlinable public var isBroadcast: Bool { value == 0xFFFF_FFFF }

    /// The four bytes in network (text) order.
    @inlinable
    public var octets: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value))
    }

    @inlinable
    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool {
        lhs.value < rhs.value
    }

    // MARK: - Text helpers shared with IPv6Address and the prefix types

    /// Parses exactly a dotted quad filling all of `s`; nil otherwise. Works on
    /// raw bytes so IPv6 can hand over the tail of its own text without copying.
    static func parse(_ s: UnsafeBufferPointer<UInt8>) -> UInt32? {
        let n = s.count
        var result: UInt32 = 0
        var parts = 0
        var i = 0
        while true {
            let start = i
            var part: UInt32 = 0
            while i < n, s[i] >= UInt8(ascii: "0"), s[i] <= UInt8(ascii: "9") {
                // Four or more digits can never be a valid part; stopping here
                // also keeps `part` far from overflow on long digit runs.
                if i - start == 3 { return nil }
                part = part * 10 + UInt32(s[i] &- UInt8(ascii: "0"))
                i += 1
            }
            let digits = i - start
            if digits == 0 || part > 255 { return nil }
            if digits > 1 && s[start] == UInt8(ascii: "0") { return nil }
            result = result << 8 | part
            parts += 1
            if parts == 4 { return i == n ? result : nil }
            if i == n || s[i] != UInt8(ascii: ".") { return nil }
            i += 1
        }
    }

    static func appendDottedQuad(_ value: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) {
            if shift != 24 { out.append(UInt8(ascii: ".")) }
            let byte = UInt8(truncatingIfNeeded: value >> UInt32(shift))
            if byte >= 100 { out.append(UInt8(ascii: "0") + byte / 100) }
            if byte >= 10 { out.append(UInt8(ascii: "0") + byte / 10 % 10) }
            out.append(UInt8(ascii: "0") + byte % 10)
        }
    }
}

// IPv6Address: a 128-bit IPv6 address (RFC 4291) as two 64-bit halves in host
// byte order. Parsing accepts the RFC 4291 §2.2 text forms; printing follows the
// RFC 5952 canonical form so that the same address always prints the same way
// in logs and rule listings. Special ranges: RFC 4291 §2.5.2-2.5.6 and §2.7.

/// An IPv6 address. `high` holds groups 0-3 and `low` groups 4-7, each in
/// host order, so 2001:db8:: has `high == 0x2001_0db8_0000_0000`.
/// Two integers rather than 16 bytes keep masks and comparisons to a few
/// instructions and the type free of any heap storage.
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    public var high: UInt64
    public var low: UInt64

    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Builds an address from its eight 16-bit groups, in text order.
    @inlinable
    public init(_ g0: UInt16, _ g1: UInt16, _ g2: UInt16, _ g3: UInt16,
                _ g4: UInt16, _ g5: UInt16, _ g6: UInt16, _ g7: UInt16) {
        high = UInt64(g0) << 48 | UInt64(g1) << 32 | UInt64(g2) << 16 | UInt64(g3)
        low = UInt64(g4) << 48 | UInt64(g5) << 32 | UInt64(g6) << 16 | UInt64(g7)
    }

    /// The IPv4-mapped address ::ffff:a.b.c.d (RFC 4291 §2.5.5.2).
    @inlinable
    public init(ipv4Mapped v4: IPv4Address) {
        high = 0
        low = 0x0000_FFFF_0000_0000 | UInt64(v4.value)
    }

    /// Parses the RFC 4291 §2.2 text forms: eight hex groups of 1-4 digits in
    /// any case, "::" at most once for one or more zero groups, and a dotted
    /// quad as the last 32 bits. Zone ids ("%eth0") are refused: a zone is not
    /// part of the address and a rule must not silently drop it.
    public init?(_ text: String) {
        var text = text
        guard let address = text.withUTF8({ IPv6Address.parse($0) }) else { return nil }
        self = address
    }

    /// Reads 16 bytes in network order at `offset`; the caller guarantees bounds.
    @inlinable
    public init(loadingFrom bytes: UnsafeRawBufferPointer, at offset: Int) {
        high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
    }

    /// Writes 16 bytes in network order at `offset`; the caller guarantees bounds.
    @inlinable
    public func store(to bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        bytes.storeBytes(of: high.bigEndian, toByteOffset: offset, as: UInt64.self)
        bytes.storeBytes(of: low.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
    }

    /// Group `index` (0...7, text order). Any other index returns 0 rather than
    /// trapping, so a bad index from computed input cannot take the firewall down.
    @inlinable
    public func group(_ index: Int) -> UInt16 {
        switch index {
        case 0...3: return UInt16(truncatingIfNeeded: high >> UInt64(48 - 16 * index))
        case 4...7: return UInt16(truncatingIfNeeded: low >> UInt64(112 - 16 * index))
        default: return 0
        }
    }

    /// RFC 5952 §4 canonical text; IPv4-mapped addresses use the §5 mixed form.
    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(39)
        if isIPv4Mapped {
            out.append(contentsOf: "::ffff:".utf8)
            IPv4Address.appendDottedQuad(UInt32(truncatingIfNeeded: low), to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        // §4.2.1-4.2.3: compress the longest run of two or more zero groups,
        // the first one if two runs tie; a lone zero group stays "0".
        var bestStart = -1, bestLength = 1
        var runStart = -1
        for k in 0...8 {
            if k < 8 && group(k) == 0 {
                if runStart < 0 { runStart = k }
            } else if runStart >= 0 {
                if k - runStart > bestLength {
                    bestStart = runStart
                    bestLength = k - runStart
                }
                runStart = -1
            }
        }
        var k = 0
        var needColon = false
        while k < 8 {
            if k == bestStart {
                out.append(UInt8(ascii: ":"))
                out.append(UInt8(ascii: ":"))
                k += bestLength
                needColon = false
                continue
            }
            if needColon { out.append(UInt8(ascii: ":")) }
            IPv6Address.appendHex(group(k), to: &out)
            needColon = true
            k += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// :: (RFC 4291 §2.5.2).
    public static let any = IPv6Address(high: 0, low: 0)
    /// ::1 (RFC 4291 §2.5.3).
    public static let loopback = IPv6Address(high: 0, low: 1)

    /// ff00::/8 (RFC 4291 §2.7).
    @inlinable public var isMulticast: Bool { high >> 56 == 0xFF }
    /// fe80::/10 (RFC 4291 §2.5.6).
    @inlinable public var isLinkLocal: Bool { high >> 54 == 0xFE80 >> 6 }
    @inlinable public var isLoopback: Bool { high == 0 && low == 1 }
    @inlinable public var isUnspecified: Bool { high == 0 && low == 0 }
    /// ::ffff:0:0/96 (RFC 4291 §2.5.5.2).
    @inlinable public var isIPv4Mapped: Bool { high == 0 && low >> 32 == 0xFFFF }

    /// The embedded IPv4 address if this is IPv4-mapped, else nil.
    @inlinable
    public var ipv4Mapped: IPv4Address? {
        isIPv4Mapped ? IPv4Address(UInt32(truncatingIfNeeded: low)) : nil
    }

    /// The last 32 bits as an IPv4 address, unchecked: what an address held
    /// IPv4-mapped (as tuples hold an IPv4 packet's) stands for. The one
    /// place that conversion is written.
    @inlinable
    public var lowIPv4: IPv4Address { IPv4Address(UInt32(truncatingIfNeeded: low)) }

    @inlinable
    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        lhs.high != rhs.high ? lhs.high < rhs.high : lhs.low < rhs.low
    }

    // MARK: - Text helpers

    /// Parses all of `s` as an IPv6 address. Mirrors glibc inet_pton6: groups
    /// are collected left to right and, if "::" was seen, the groups after it
    /// are moved to the end; "::" must stand for at least one zero group.
    static func parse(_ s: UnsafeBufferPointer<UInt8>) -> IPv6Address? {
        let colon = UInt8(ascii: ":")
        let n = s.count
        if n == 0 { return nil }
        var groups = SIMD8<UInt16>()   // fixed-size, no heap
        var count = 0
        var gap = -1                   // group index where "::" stands
        var i = 0
        if s[0] == colon {
            // A leading colon is only valid as the start of "::".
            if n < 2 || s[1] != colon { return nil }
            gap = 0
            i = 2
        }
        while i < n {
            let start = i
            var value: UInt16 = 0
            while i < n, let digit = hexValue(s[i]) {
                if i - start == 4 { return nil }
                value = value << 4 | UInt16(digit)
                i += 1
            }
            if i < n && s[i] == UInt8(ascii: ".") {
                // A dotted quad can only be the final 32 bits (§2.2 form 3),
                // so it must run to the end and leave room for two groups.
                if count > 6 { return nil }
                guard let v4 = IPv4Address.parse(UnsafeBufferPointer(rebasing: s[start..<n])) else {
                    return nil
                }
                groups[count] = UInt16(truncatingIfNeeded: v4 >> 16)
                groups[count + 1] = UInt16(truncatingIfNeeded: v4)
                count += 2
                break
            }
            if i == start || count == 8 { return nil }
            groups[count] = value
            count += 1
            if i == n { break }
            if s[i] != colon { return nil }
            i += 1
            if i == n { return nil }   // trailing single colon
            if s[i] == colon {
                if gap >= 0 { return nil }   // "::" at most once
                gap = count
                i += 1
            }
        }
        if gap >= 0 {
            if count == 8 { return nil }
            var expanded = SIMD8<UInt16>()
            for k in 0..<gap { expanded[k] = groups[k] }
            let tail = count - gap
            for k in 0..<tail { expanded[8 - tail + k] = groups[gap + k] }
            groups = expanded
        } else if count != 8 {
            return nil
        }
        return IPv6Address(groups[0], groups[1], groups[2], groups[3],
                           groups[4], groups[5], groups[6], groups[7])
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }

    /// Lowercase hex without leading zeros (RFC 5952 §4.1, §4.3).
    static func appendHex(_ value: UInt16, to out: inout [UInt8]) {
        var shift = 12
        while shift > 0 && value >> UInt16(shift) == 0 { shift -= 4 }
        while shift >= 0 {
            let digit = UInt8(truncatingIfNeeded: value >> UInt16(shift) & 0xF)
            out.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10)
            shift -= 4
        }
    }
}

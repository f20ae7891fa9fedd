// IPv4Prefix, IPv6Prefix, IPPrefix: CIDR address blocks written as
// "address/length" (RFC 4632 §3.1 for IPv4, RFC 4291 §2.3 for IPv6), used by
// rules and NAT to match addresses. The network is stored with host bits
// cleared so that equal blocks compare and hash equal.

/// Parses the decimal prefix length after the "/": digits only, no sign, no
/// leading zeros ("08" might be read as octal elsewhere), at most `maximum`.
private func parsePrefixLength(_ s: UnsafeBufferPointer<UInt8>, maximum: Int) -> Int? {
    if s.isEmpty || s.count > 3 { return nil }
    if s.count > 1 && s[0] == UInt8(ascii: "0") { return nil }
    var value = 0
    for c in s {
        guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + Int(c &- UInt8(ascii: "0"))
    }
    return value <= maximum ? value : nil
}

/// Splits "address/length" into its two parts; a bare address means the full
/// host length. Returns nil for more than one "/".
private func splitPrefix(
    _ s: UnsafeBufferPointer<UInt8>
) -> (address: UnsafeBufferPointer<UInt8>, length: UnsafeBufferPointer<UInt8>?)? {
    guard let slash = s.firstIndex(of: UInt8(ascii: "/")) else { return (s, nil) }
    let address = UnsafeBufferPointer(rebasing: s[..<slash])
    let length = UnsafeBufferPointer(rebasing: s[(slash + 1)...])
    if length.contains(UInt8(ascii: "/")) { return nil }
    return (address, length)
}

public struct IPv4Prefix: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// The first address of the block (host bits are always clear).
    public let network: IPv4Address
    /// Number of leading network bits, 0...32.
    public let length: Int

    /// Nil if `length` is outside 0...32. Host bits of `address` are cleared,
    /// so 10.0.1.7 with length 24 gives 10.0.1.0/24.
    @inlinable
    public init?(address: IPv4Address, length: Int) {
        guard length >= 0 && length <= 32 else { return nil }
        self.length = length
        network = IPv4Address(address.value & IPv4Prefix.mask(length: length))
    }

    /// "10.0.1.0/24", or a bare address meaning /32. Host bits in the text
    /// are cleared like the memberwise initializer does.
    public init?(_ text: String) {
        var text = text
        guard let prefix = text.withUTF8({ buffer -> IPv4Prefix? in
            guard let (addressText, lengthText) = splitPrefix(buffer),
                  let value = IPv4Address.parse(addressText) else { return nil }
            var length = 32
            if let lengthText {
                guard let parsed = parsePrefixLength(lengthText, maximum: 32) else { return nil }
                length = parsed
            }
            return IPv4Prefix(address: IPv4Address(value), length: length)
        }) else { return nil }
        self = prefix
    }

    /// The network mask in host order: /24 is 0xFFFF_FF00.
    @inlinable public var mask: UInt32 { IPv4Prefix.mask(length: length) }

    /// The last address of the block (the directed broadcast for /0.../30).
    @inlinable public var lastAddress: IPv4Address { IPv4Address(network.value | ~mask) }

    @inlinable
    public func contains(_ address: IPv4Address) -> Bool {
        address.value & mask == network.value
    }

    /// True if every address of `other` is in this block.
    @inlinable
    public func contains(_ other: IPv4Prefix) -> Bool {
        other.length >= length && contains(other.network)
    }

    public var description: String { "\(network)/\(length)" }

    /// Mask for `length`; lengths outside 0...32 are clamped rather than trapping.
    @inlinable
    public static func mask(length: Int) -> UInt32 {
        if length <= 0 { return 0 }
        if length >= 32 { return .max }
        return .max << UInt32(32 - length)
    }
}

public struct IPv6Prefix: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// The first address of the block (host bits are always clear).
    public let network: IPv6Address
    /// Number of leading network bits, 0...128.
    public let length: Int

    /// Nil if `length` is outside 0...128. Host bits of `address` are cleared.
    @inlinable
    public init?(address: IPv6Address, length: Int) {
        guard length >= 0 && length <= 128 else { return nil }
        self.length = length
        let m = IPv6Prefix.mask(length: length)
        network = IPv6Address(high: address.high & m.high, low: address.low & m.low)
    }

    /// "2001:db8::/32", or a bare address meaning /128. Host bits are cleared.
    public init?(_ text: String) {
        var text = text
        guard let prefix = text.withUTF8({ buffer -> IPv6Prefix? in
            guard let (addressText, lengthText) = splitPrefix(buffer),
                  let address = IPv6Address.parse(addressText) else { return nil }
            var length = 128
            if let lengthText {
                guard let parsed = parsePrefixLength(lengthText, maximum: 128) else { return nil }
                length = parsed
            }
            return IPv6Prefix(address: address, length: length)
        }) else { return nil }
        self = prefix
    }

    /// The network mask as an address: /32 is ffff:ffff::.
    @inlinable public var mask: IPv6Address { IPv6Prefix.mask(length: length) }

    /// The last address of the block.
    @inlinable
    public var lastAddress: IPv6Address {
        let m = mask
        return IPv6Address(high: network.high | ~m.high, low: network.low | ~m.low)
    }

    @inlinable
    public func contains(_ address: IPv6Address) -> Bool {
        let m = mask
        return address.high & m.high == network.high && address.low & m.low == network.low
    }

    /// True if every address of `other` is in this block.
    @inlinable
    public func contains(_ other: IPv6Prefix) -> Bool {
        other.length >= length && contains(other.network)
    }

    public var description: String { "\(network)/\(length)" }

    /// Mask for `length`; lengths outside 0...128 are clamped rather than trapping.
    @inlinable
    public static func mask(length: Int) -> IPv6Address {
        func half(_ bits: Int) -> UInt64 {
            if bits <= 0 { return 0 }
            if bits >= 64 { return .max }
            return .max << UInt64(64 - bits)
        }
        return IPv6Address(high: half(length), low: half(length - 64))
    }
}

public enum IPPrefix: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    case v4(IPv4Prefix)
    case v6(IPv6Prefix)

    /// Tries IPv4 then IPv6, as IPAddress does.
    public init?(_ text: String) {
        if let v4 = IPv4Prefix(text) {
            self = .v4(v4)
        } else if let v6 = IPv6Prefix(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    /// The whole block of `address` and `length`; nil if the length is out
    /// of range for the address family.
    @inlinable
    public init?(address: IPAddress, length: Int) {
        switch address {
        case .v4(let a):
            guard let p = IPv4Prefix(address: a, length: length) else { return nil }
            self = .v4(p)
        case .v6(let a):
            guard let p = IPv6Prefix(address: a, length: length) else { return nil }
            self = .v6(p)
        }
    }

    /// False across families: an IPv4 block never matches an IPv6 address,
    /// not even an IPv4-mapped one. Translating mapped addresses is the
    /// caller's decision, not something a match should do silently.
    @inlinable
    public func contains(_ address: IPAddress) -> Bool {
        switch (self, address) {
        case (.v4(let p), .v4(let a)): return p.contains(a)
        case (.v6(let p), .v6(let a)): return p.contains(a)
        default: return false
        }
    }

    /// True if every address of `other` is in this block; false across families.
    @inlinable
    public func contains(_ other: IPPrefix) -> Bool {
        switch (self, other) {
        case (.v4(let p), .v4(let q)): return p.contains(q)
        case (.v6(let p), .v6(let q)): return p.contains(q)
        default: return false
        }
    }

    @inlinable
    public var length: Int {
        switch self {
        case .v4(let p): return p.length
        case .v6(let p): return p.length
        }
    }

    public var description: String {
        switch self {
        case .v4(let p): return p.description
        case .v6(let p): return p.description
        }
    }
}

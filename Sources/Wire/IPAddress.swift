// IPAddress: either an IPv4 (RFC 791) or an IPv6 (RFC 4291) address, for
// places such as rules and configuration that accept both families.

public enum IPAddress: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Tries IPv4 first, then IPv6. The two text forms cannot overlap (a v4
    /// string has no colon, a v6 one always has one), so the order only
    /// saves work for the common case.
    public init?(_ text: String) {
        if let v4 = IPv4Address(text) {
            self = .v4(v4)
        } else if let v6 = IPv6Address(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): return a.description
        case .v6(let a): return a.description
        }
    }

    @inlinable public var isV4: Bool { if case .v4 = self { true } else { false } }
    @inlinable public var isV6: Bool { if case .v6 = self { true } else { false } }
}

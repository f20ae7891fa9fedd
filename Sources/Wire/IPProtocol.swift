// IANA "Assigned Internet Protocol Numbers": the IPv4 Protocol field and the
// IPv6 Next Header field. A struct over the raw byte rather than a closed enum,
// so that a number we have no name for is kept as it is and still prints.

public struct IPProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    public static let hopByHop = IPProtocol(0)
    public static let icmp = IPProtocol(1)
    public static let tcp = IPProtocol(6)
    public static let udp = IPProtocol(17)
    public static let ipv6Routing = IPProtocol(43)
    public static let ipv6Fragment = IPProtocol(44)
    public static let gre = IPProtocol(47)
    public static let esp = IPProtocol(50)
    public static let authenticationHeader = IPProtocol(51)
    public static let icmpv6 = IPProtocol(58)
    public static let ipv6NoNextHeader = IPProtocol(59)
    public static let ipv6DestinationOptions = IPProtocol(60)
    public static let sctp = IPProtocol(132)

    /// The name nft and /etc/protocols use (`tcp`, `ipv6-icmp` is printed `icmpv6` by nft).
    public var description: String {
        switch self {
        case .hopByHop: return "hopopts"
        case .icmp: return "icmp"
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .ipv6Routing: return "routing"
        case .ipv6Fragment: return "frag"
        case .gre: return "gre"
        case .esp: return "esp"
        case .authenticationHeader: return "ah"
        case .icmpv6: return "icmpv6"
        case .ipv6NoNextHeader: return "none"
        case .ipv6DestinationOptions: return "dstopts"
        case .sctp: return "sctp"
        default: return "ip-proto-\(rawValue)"
        }
    }
}

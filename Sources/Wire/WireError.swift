// Why a run of bytes is not a valid packet: one typed error for every parser
// in Wire, each case naming the layer and the number that was wrong, so a drop
// counter or a test failure can say exactly what was seen.

/// The protocol layer a `WireError` is about.
public enum Layer: String, Sendable, Hashable {
    case ipv4 = "IPv4"
    case ipv6 = "IPv6"
    case ipv6Extension = "IPv6 extension header"
    case tcp = "TCP"
    case tcpOptions = "TCP options"
    case udp = "UDP"
    case icmpv4 = "ICMP"
    case icmpv6 = "ICMPv6"
    case virtio = "virtio_net_hdr"
}

public enum WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Fewer bytes than the header (or a length field) requires.
    case truncated(Layer, needed: Int, available: Int)
    /// The IP version nibble is neither 4 nor 6 (or not the one expected).
    case badVersion(UInt8)
    /// A header-length field below the minimum (IPv4 IHL < 5, TCP data offset < 5).
    case badHeaderLength(Layer, Int)
    /// A total/payload length field that contradicts the header or the buffer.
    case badLength(Layer, Int)
    /// A malformed option or extension header at this byte offset.
    case badOption(Layer, offset: Int)
    /// More IPv6 extension headers than we are willing to walk.
    case tooManyExtensionHeaders(Int)
    /// RFC 8200 §4.1: a hop-by-hop options header anywhere but first.
    case misplacedHopByHop(offset: Int)

    public var description: String {
        switch self {
        case let .truncated(layer, needed, available):
            return "\(layer.rawValue) truncated: needs \(needed) bytes, has \(available)"
        case let .badVersion(version):
            return "bad IP version \(version)"
        case let .badHeaderLength(layer, length):
            return "\(layer.rawValue) header length \(length) is too small"
        case let .badLength(layer, length):
            return "\(layer.rawValue) length field \(length) does not fit the packet"
        case let .badOption(layer, offset):
            return "malformed \(layer.rawValue) at byte \(offset)"
        case let .tooManyExtensionHeaders(count):
            return "more than \(count) IPv6 extension headers"
        case let .misplacedHopByHop(offset):
            return "IPv6 hop-by-hop header not first (at byte \(offset))"
        }
    }
}

// The tuple that names one direction of a connection, as Linux's struct
// nf_conntrack_tuple does: addresses, layer-4 protocol, and the two 16-bit
// values that tell flows apart (ports for TCP/UDP; for ICMP echo the
// identifier and the type/code). Every connection has two: the original
// tuple (as its first packet was seen) and the reply tuple (what a packet in
// the other direction carries).
//
// Example: a ping from 10.0.1.2 with id 7 has original tuple
// `src=10.0.1.2 dst=203.0.113.10 type=8 code=0 id=7` and reply tuple
// `src=203.0.113.10 dst=10.0.1.2 type=0 code=0 id=7`.

import Wire

/// Which way a packet travels relative to its connection (`IP_CT_DIR_*`).
public enum Direction: Int, Sendable, Hashable, CustomStringConvertible {
    case original = 0
    case reply = 1

    public var opposite: Direction { self == .original ? .reply : .original }
    public var description: String { self == .original ? "original" : "reply" }
}

public enum AddressFamily: UInt8, Sendable, Hashable {
    case ipv4 = 4
    case ipv6 = 6
}

public struct ConnTuple: Hashable, Sendable {
    /// IPv4 addresses are held IPv4-mapped (::ffff:a.b.c.d) so that one
    /// 128-bit field serves both families; `family` says which it is.
    public var source: IPv6Address
    public var destination: IPv6Address
    /// TCP/UDP: source port. ICMP echo: the identifier. Others: 0.
    public var sourcePort: UInt16
    /// TCP/UDP: destination port. ICMP: type << 8 | code. Others: 0.
    public var destinationPort: UInt16
    public var `protocol`: IPProtocol
    public var family: AddressFamily

    public init(source: IPv6Address, destination: IPv6Address, sourcePort: UInt16, destinationPort: UInt16,
                protocol proto: IPProtocol, family: AddressFamily) {
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.protocol = proto
        self.family = family
    }

    public init(source: IPAddress, destination: IPAddress, sourcePort: UInt16, destinationPort: UInt16,
                protocol proto: IPProtocol) {
        self.init(source: Self.wide(source), destination: Self.wide(destination), sourcePort: sourcePort,
                  destinationPort: destinationPort, protocol: proto, family: source.isV4 ? .ipv4 : .ipv6)
    }

    @inline(__always)
    public static func wide(_ address: IPv4Address) -> IPv6Address {
        IPv6Address(high: 0, low: 0x0000_ffff_0000_0000 | UInt64(address.value))
    }

    public static func wide(_ address: IPAddress) -> IPv6Address {
        switch address {
        case .v4(let a): return wide(a)
        case .v6(let a): return a
        }
    }

    public var sourceAddress: IPAddress { narrow(source) }
    public var destinationAddress: IPAddress { narrow(destination) }

    private func narrow(_ a: IPv6Address) -> IPAddress {
        family == .ipv4 ? .v4(a.lowIPv4) : .v6(a)
    }

    public var isICMP: Bool { self.protocol == .icmp || self.protocol == .icmpv6 }
    public var icmpType: UInt8 { UInt8(destinationPort >> 8) }
    public var icmpCode: UInt8 { UInt8(destinationPort & 0xff) }

    /// The tuple a packet in the other direction carries (nf_ct_invert_tuple),
    /// or nil for an ICMP type that has no reply (only queries can start a
    /// connection: Linux's icmp_new accepts echo, timestamp, info and address
    /// mask requests; ICMPv6 echo, node information).
    public func inverted() -> ConnTuple? {
        var result = ConnTuple(source: destination, destination: source, sourcePort: destinationPort,
                               destinationPort: sourcePort, protocol: self.protocol, family: family)
        if isICMP {
            guard let reply = ICMPQuery.replyType(of: icmpType, v6: self.protocol == .icmpv6) else { return nil }
            result.sourcePort = sourcePort
            result.destinationPort = UInt16(reply) << 8 | UInt16(icmpCode)
        }
        return result
    }

    /// For Swift's own sets and dictionaries (listings, tests). The flow
    /// table does not use this: it has its own keyed hash (FlowTable.hash).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(source.high)
        hasher.combine(source.low)
        hasher.combine(destination.high)
        hasher.combine(destination.low)
        hasher.combine(UInt32(sourcePort) << 16 | UInt32(destinationPort))
        hasher.combine(self.protocol.rawValue)
    }
}

/// ICMP queries and their replies (nf_conntrack_proto_icmp.c invmap,
/// nf_conntrack_proto_icmpv6.c).
enum ICMPQuery {
    static func replyType(of type: UInt8, v6: Bool) -> UInt8? {
        if v6 {
            switch type {
            case 128: return 129   // echo request -> reply
            case 129: return 128
            case 139: return 140   // node information query -> response
            case 140: return 139
            default: return nil
            }
        }
        switch type {
        case 8: return 0       // echo
        case 0: return 8
        case 13: return 14     // timestamp
        case 14: return 13
        case 15: return 16     // information
        case 16: return 15
        case 17: return 18     // address mask
        case 18: return 17
        default: return nil
        }
    }

    /// Types that may open a connection: the requests.
    static func isRequest(_ type: UInt8, v6: Bool) -> Bool {
        v6 ? (type == 128 || type == 139) : (type == 8 || type == 13 || type == 15 || type == 17)
    }
}

// The first bytes of a transport header, which conntrack and NAT read the
// same way whatever the protocol: TCP, UDP, SCTP and DCCP begin with the
// source and destination ports (RFC 9293 §3.1, RFC 768, RFC 9260 §3.1,
// RFC 4340 §5.1); ICMP and ICMPv6 with type and code, then the checksum, and
// for queries the identifier that NAPT translates like a port (RFC 792,
// RFC 4443 §4.1, RFC 5508 §3.1). Enough of it is quoted in any ICMP error
// (RFC 792: 64 bits), so a view needs only the bytes it reads.
//
// Example: the 8 quoted bytes 9c 40 00 50 .. .. .. .. of a TCP segment give
// ports 40000 → 80; the bytes 08 00 f7 fe 12 34 00 01 of an echo request give
// type-and-code 0x0800 and identifier 0x1234.

/// One end of a packet: where it comes from, or where it goes.
public enum PacketEnd: Sendable {
    case source
    case destination
}

/// A view over the start of a transport header. Each accessor checks that
/// the bytes it reads are there (nil otherwise), so it serves both whole
/// packets and the few bytes an ICMP error quotes.
public struct TransportHeaderView {
    public let bytes: UnsafeMutableRawBufferPointer
    public let `protocol`: IPProtocol

    @inlinable
    public init(_ bytes: UnsafeMutableRawBufferPointer, protocol proto: IPProtocol) {
        self.bytes = bytes
        self.protocol = proto
    }

    /// The port of `end` (bytes 0–1 or 2–3 for the port-based protocols).
    public func port(_ end: PacketEnd) -> UInt16? {
        guard bytes.count >= 4 else { return nil }
        return bytes.be16(end == .source ? 0 : 2)
    }

    public func setPort(_ end: PacketEnd, _ port: UInt16) {
        guard bytes.count >= 4 else { return }
        bytes.setBE16(port, at: end == .source ? 0 : 2)
    }

    /// ICMP type and code as one word (type << 8 | code): conntrack's key
    /// for an ICMP query, as Linux's `nf_conntrack_icmp` keys on both.
    public var icmpTypeAndCode: UInt16? {
        bytes.count >= 2 ? bytes.be16(0) : nil
    }

    /// An ICMP query's identifier (bytes 4–5).
    public var icmpIdentifier: UInt16? {
        get { bytes.count >= 8 ? bytes.be16(4) : nil }
        nonmutating set { if let value = newValue, bytes.count >= 8 { bytes.setBE16(value, at: 4) } }
    }

    /// Where the protocol keeps its checksum, if it has one we know:
    /// TCP at 16, UDP at 6, ICMP and ICMPv6 at 2.
    public static func checksumOffset(_ proto: IPProtocol) -> Int? {
        switch proto {
        case .tcp: return 16
        case .udp: return 6
        case .icmp, .icmpv6: return 2
        default: return nil
        }
    }

    /// The checksum field, when the protocol has one and it is present.
    public var checksum: UInt16? {
        get {
            guard let at = Self.checksumOffset(self.protocol), bytes.count >= at + 2 else { return nil }
            return bytes.be16(at)
        }
        nonmutating set {
            guard let value = newValue, let at = Self.checksumOffset(self.protocol), bytes.count >= at + 2 else { return }
            bytes.setBE16(value, at: at)
        }
    }

    /// The checksum field, found once (NAT patches it several times a packet).
    public var checksumField: ChecksumField? {
        guard let at = Self.checksumOffset(self.protocol), bytes.count >= at + 2 else { return nil }
        return ChecksumField(bytes: bytes, offset: at)
    }

    /// True if the checksum is covered by the IP pseudo-header (all but ICMPv4).
    public var pseudoHeaderCovers: Bool { self.protocol != .icmp }
}

/// A transport checksum field whose place is known to be within the bytes.
public struct ChecksumField {
    let bytes: UnsafeMutableRawBufferPointer
    let offset: Int

    public var value: UInt16 {
        get { bytes.be16(offset) }
        nonmutating set { bytes.setBE16(newValue, at: offset) }
    }
}

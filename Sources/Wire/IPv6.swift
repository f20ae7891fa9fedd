// IPv6: a view over a packet (`IPv6Packet`), a bounded walk over its extension
// headers to the upper-layer protocol (`IPv6ExtensionChain`), and the plain
// value of its header (`IPv6Header`). RFC 8200 §3:
//
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version| Traffic Class |           Flow Label                  |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Payload Length        |  Next Header  |   Hop Limit   |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                   Source Address (128 bits)                   |
//   |                 Destination Address (128 bits)                |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Example: 60 00 00 00 00 28 06 40 fd00:1::2 2001:db8:1::10 is a 40-byte TCP
// payload from the LAN to the server, hop limit 64.
//
// Extension headers (RFC 8200 §4) are walked, never interpreted, up to
// `IPv6ExtensionChain.maximumHeaders`: hop-by-hop (0, first only), routing
// (43), fragment (44, 8 bytes), destination options (60), AH (51, length in
// 4-byte units + 2), mobility (135), HIP (139), shim6 (140). A fragment header
// with a non-zero offset ends the walk: what follows is not a header.

public struct IPv6Packet {
    /// The packet: the fixed header plus `payloadLength` bytes.
    public let bytes: UnsafeMutableRawBufferPointer

    public static let headerLength = 40

    public init(validating buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        try Self.checkHeader(buffer)
        let total = Self.headerLength + Int(buffer.be16(4))
        guard total <= buffer.count else { throw .truncated(.ipv6, needed: total, available: buffer.count) }
        bytes = buffer.slice(0..<total)
    }

    /// A view over a packet whose header was validated already (the engine's
    /// PacketParser parsed it): no check is repeated.
    @inlinable
    public init(parsed buffer: UnsafeMutableRawBufferPointer) {
        bytes = buffer
    }

    /// A packet quoted in an ICMPv6 error (RFC 4443 §3.1: "as much of invoking
    /// packet as possible without the ICMPv6 packet exceeding the minimum IPv6
    /// MTU"): the fixed header must be whole, the payload may be cut short.
    public init(validatingQuoted buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        try Self.checkHeader(buffer)
        let total = Self.headerLength + Int(buffer.be16(4))
        bytes = buffer.slice(0..<min(total, buffer.count))
    }

    private static func checkHeader(_ buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard buffer.count >= headerLength else {
            throw .truncated(.ipv6, needed: headerLength, available: buffer.count)
        }
        let version = buffer.u8(0) >> 4
        guard version == 6 else { throw .badVersion(version) }
    }

    public var trafficClass: UInt8 { UInt8(truncatingIfNeeded: bytes.be32(0) >> 20) }
    public var flowLabel: UInt32 { bytes.be32(0) & 0x000f_ffff }
    public var payloadLength: Int {
        get { Int(bytes.be16(4)) }
        nonmutating set { bytes.setBE16(UInt16(truncatingIfNeeded: newValue), at: 4) }
    }
    public var nextHeader: IPProtocol { IPProtocol(bytes.u8(6)) }
    /// Writes a Next Header byte: the fixed header's (`at` 6) or that of the
    /// extension header starting at `at` (its first byte), as reassembly and
    /// fragmentation do when they take out or put in a fragment header.
    public func setNextHeader(_ value: IPProtocol, at offset: Int) {
        bytes.setU8(value.rawValue, at: offset)
    }
    public var hopLimit: UInt8 {
        get { bytes.u8(7) }
        nonmutating set { bytes.setU8(newValue, at: 7) }
    }
    public var source: IPv6Address {
        get { IPv6Address(loadingFrom: bytes.readOnly, at: 8) }
        nonmutating set { newValue.store(to: bytes, at: 8) }
    }
    public var destination: IPv6Address {
        get { IPv6Address(loadingFrom: bytes.readOnly, at: 24) }
        nonmutating set { newValue.store(to: bytes, at: 24) }
    }
    /// The source or destination address, for code that handles either end.
    public subscript(end: PacketEnd) -> IPv6Address {
        get { end == .source ? source : destination }
        nonmutating set { if end == .source { source = newValue } else { destination = newValue } }
    }
    /// Everything after the fixed header: extension headers and upper layer.
    public var payload: UnsafeMutableRawBufferPointer { bytes.suffix(from: Self.headerLength) }

    /// Walks the extension headers. Throws if one is cut short or malformed.
    public func extensionChain() throws(WireError) -> IPv6ExtensionChain {
        try IPv6ExtensionChain(walking: bytes, firstHeader: nextHeader, at: Self.headerLength)
    }

    /// The pseudo-header sum for an upper-layer checksum over `length` bytes.
    public func pseudoHeaderSum(protocol proto: IPProtocol, length: Int) -> UInt16 {
        Checksum.pseudoHeaderSum(source: source, destination: destination, protocol: proto, length: length)
    }
}

/// RFC 8200 §4.5 fragment header:
///
///   | Next Header | Reserved | Fragment Offset (13) |Res|M|
///   |                    Identification                   |
public struct IPv6FragmentHeader: Hashable, Sendable {
    public static let length = 8
    /// In 8-byte units.
    public var offset: UInt16
    public var moreFragments: Bool
    public var identification: UInt32
    /// The two reserved bits and the reserved byte, kept so a packet re-emits unchanged.
    public var reserved: UInt8 = 0
    public var reservedBits: UInt8 = 0

    public init(offset: UInt16, moreFragments: Bool, identification: UInt32) {
        self.offset = offset
        self.moreFragments = moreFragments
        self.identification = identification
    }

    init(loadingFrom bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        let word = bytes.be16(offset + 2)
        self.offset = word >> 3
        moreFragments = word & 1 != 0
        reservedBits = UInt8((word >> 1) & 0x3)
        identification = bytes.be32(offset + 4)
        reserved = bytes.u8(offset + 1)
    }

    /// The 8 bytes of the header, with `nextHeader` as its Next Header.
    public func encoded(nextHeader: IPProtocol) -> [UInt8] {
        let word = (offset << 3) | (UInt16(reservedBits & 0x3) << 1) | (moreFragments ? 1 : 0)
        return [nextHeader.rawValue, reserved, UInt8(word >> 8), UInt8(word & 0xff),
                UInt8(identification >> 24), UInt8((identification >> 16) & 0xff),
                UInt8((identification >> 8) & 0xff), UInt8(identification & 0xff)]
    }
}

/// Where the extension headers of an IPv6 packet end: the upper-layer protocol
/// and its offset from the start of the packet, plus the fragment header if
/// there was one. Computed without allocating.
public struct IPv6ExtensionChain: Hashable, Sendable {
    /// Walking more headers than this is refused (Linux's ipv6_skip_exthdr has
    /// no limit but RFC 8200 §4.1 lists one of each; eight is generous).
    public static let maximumHeaders = 8

    public let upperLayerProtocol: IPProtocol
    /// Offset of the upper-layer header from the start of the IPv6 packet.
    public let upperLayerOffset: Int
    /// The number of extension headers walked.
    public let count: Int
    public let fragment: IPv6FragmentHeader?
    /// Offset of the fragment header, when there is one.
    public let fragmentHeaderOffset: Int?
    /// Offset of the Next Header byte that names the fragment header (6 in
    /// the fixed header, or the first byte of the extension header before
    /// it): reassembly writes the fragment's own Next Header there when it
    /// removes the fragment header (RFC 8200 §4.5, Linux ip6_frag_reasm).
    public let fragmentNextHeaderFieldOffset: Int?
    /// The fragment header's own Next Header: what follows it in the
    /// datagram once reassembled (the first header of the fragmentable part).
    public let fragmentNextHeader: IPProtocol?

    /// True for a fragment other than the first: `upperLayerOffset` points at
    /// fragment data, not at a header.
    public var isLaterFragment: Bool { (fragment?.offset ?? 0) != 0 }

    static func isExtensionHeader(_ proto: IPProtocol) -> Bool {
        switch proto.rawValue {
        case 0, 43, 44, 51, 60, 135, 139, 140: return true
        default: return false
        }
    }

    init(walking packet: UnsafeMutableRawBufferPointer, firstHeader: IPProtocol, at start: Int) throws(WireError) {
        var proto = firstHeader
        var offset = start
        var count = 0
        var fragment: IPv6FragmentHeader? = nil
        var fragmentOffset: Int? = nil
        var fieldOffset = 6
        var fragmentField: Int? = nil
        var fragmentNext: IPProtocol? = nil
        walk: while Self.isExtensionHeader(proto) {
            if proto == .hopByHop && count > 0 { throw .misplacedHopByHop(offset: offset) }
            guard count < Self.maximumHeaders else { throw .tooManyExtensionHeaders(Self.maximumHeaders) }
            guard offset + 8 <= packet.count else {
                throw .truncated(.ipv6Extension, needed: offset + 8, available: packet.count)
            }
            let next = IPProtocol(packet.u8(offset))
            let length: Int
            switch proto {
            case .ipv6Fragment: length = 8
            case .authenticationHeader: length = (Int(packet.u8(offset + 1)) + 2) * 4
            default: length = (Int(packet.u8(offset + 1)) + 1) * 8
            }
            guard offset + length <= packet.count else {
                throw .truncated(.ipv6Extension, needed: offset + length, available: packet.count)
            }
            count += 1
            if proto == .ipv6Fragment {
                let header = IPv6FragmentHeader(loadingFrom: packet, at: offset)
                fragment = header
                fragmentOffset = offset
                fragmentField = fieldOffset
                fragmentNext = next
                if header.offset != 0 {
                    proto = next
                    offset += length
                    break walk
                }
            }
            fieldOffset = offset
            proto = next
            offset += length
        }
        upperLayerProtocol = proto
        upperLayerOffset = offset
        self.count = count
        self.fragment = fragment
        fragmentHeaderOffset = fragmentOffset
        fragmentNextHeaderFieldOffset = fragmentField
        fragmentNextHeader = fragmentNext
    }
}

/// One extension header as raw bytes, all but its first byte: the Next
/// Header byte belongs to the chain, and emission writes it from the kind of
/// whatever follows. (So a header value does not change when what follows it does.)
public struct IPv6ExtensionHeader: Hashable, Sendable {
    public var kind: IPProtocol
    /// The header from its second byte (usually Hdr Ext Len) to its end.
    public var body: [UInt8]

    public init(kind: IPProtocol, body: [UInt8]) {
        self.kind = kind
        self.body = body
    }

    public init(fragment: IPv6FragmentHeader) {
        kind = .ipv6Fragment
        body = Array(fragment.encoded(nextHeader: .ipv6NoNextHeader).dropFirst())
    }

    /// Bytes on the wire, Next Header included.
    public var length: Int { 1 + body.count }
}

public struct IPv6Header: Hashable, Sendable {
    public var trafficClass: UInt8 = 0
    public var flowLabel: UInt32 = 0
    public var hopLimit: UInt8 = 64
    public var source: IPv6Address
    public var destination: IPv6Address
    /// Extension headers in order; the upper-layer protocol follows the last.
    public var extensionHeaders: [IPv6ExtensionHeader] = []
    public var upperLayerProtocol: IPProtocol

    public init(source: IPv6Address, destination: IPv6Address, upperLayerProtocol: IPProtocol, hopLimit: UInt8 = 64) {
        self.source = source
        self.destination = destination
        self.upperLayerProtocol = upperLayerProtocol
        self.hopLimit = hopLimit
    }

    /// Reads the fixed header and the extension headers up to `chain`.
    public init(_ packet: IPv6Packet, chain: IPv6ExtensionChain) {
        trafficClass = packet.trafficClass
        flowLabel = packet.flowLabel
        hopLimit = packet.hopLimit
        source = packet.source
        destination = packet.destination
        upperLayerProtocol = chain.upperLayerProtocol
        var kind = packet.nextHeader
        var offset = IPv6Packet.headerLength
        for _ in 0..<chain.count {
            let length: Int
            switch kind {
            case .ipv6Fragment: length = 8
            case .authenticationHeader: length = (Int(packet.bytes.u8(offset + 1)) + 2) * 4
            default: length = (Int(packet.bytes.u8(offset + 1)) + 1) * 8
            }
            extensionHeaders.append(IPv6ExtensionHeader(kind: kind, body: Array(packet.bytes.slice(offset + 1..<offset + length))))
            kind = IPProtocol(packet.bytes.u8(offset))
            offset += length
        }
    }

    /// The fixed header plus all extension headers.
    public var headerLength: Int {
        IPv6Packet.headerLength + extensionHeaders.reduce(0) { $0 + $1.length }
    }

    /// The protocol in the fixed header's Next Header field.
    public var nextHeader: IPProtocol { extensionHeaders.first?.kind ?? upperLayerProtocol }

    /// Writes the fixed and extension headers for an upper-layer payload of
    /// `payloadLength` bytes; `buffer` must hold `headerLength` bytes.
    public func emit(into buffer: UnsafeMutableRawBufferPointer, payloadLength: Int) {
        let length = headerLength
        buffer.setBE32((6 << 28) | (UInt32(trafficClass) << 20) | (flowLabel & 0x000f_ffff), at: 0)
        buffer.setBE16(UInt16(truncatingIfNeeded: length - IPv6Packet.headerLength + payloadLength), at: 4)
        buffer.setU8(nextHeader.rawValue, at: 6)
        buffer.setU8(hopLimit, at: 7)
        source.store(to: buffer, at: 8)
        destination.store(to: buffer, at: 24)
        var offset = IPv6Packet.headerLength
        for (index, header) in extensionHeaders.enumerated() {
            let next = index + 1 < extensionHeaders.count ? extensionHeaders[index + 1].kind : upperLayerProtocol
            buffer.setU8(next.rawValue, at: offset)
            for (k, byte) in header.body.enumerated() { buffer.setU8(byte, at: offset + 1 + k) }
            offset += header.length
        }
    }
}

// IPv4: a view over the bytes of a datagram (`IPv4Packet`) and the plain value
// of its header (`IPv4Header`). RFC 791 §3.1:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version|  IHL  |Type of Service|          Total Length         |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Identification        |Flags|      Fragment Offset    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Time to Live |    Protocol   |         Header Checksum       |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                       Source Address                          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Destination Address                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Options                    |    Padding    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Example: 45 00 00 3c 1c 46 40 00 40 06 .. .. 0a 00 01 02 cb 00 71 0a is a
// 60-byte TCP datagram from 10.0.1.2 to 203.0.113.10, DF set, TTL 64.
//
// Validation follows Linux's ip_rcv_core(): IHL ≥ 5, the header within the
// buffer, total length ≥ IHL·4 and ≤ the buffer; bytes after total length
// (Ethernet padding) are not part of the packet. Options are carried, not
// interpreted. The header checksum is checked separately (`isHeaderChecksumValid`),
// because the caller decides whether a bad one is a drop.

/// A view over an IPv4 datagram whose header has been validated. The view
/// borrows the bytes: it must not outlive the buffer it was made from.
public struct IPv4Packet {
    /// The datagram, exactly `totalLength` bytes (or, for a quoted packet
    /// inside an ICMP error, as many as were quoted).
    public let bytes: UnsafeMutableRawBufferPointer

    public static let minimumHeaderLength = 20

    /// Validates a complete datagram at the start of `buffer`.
    public init(validating buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        let headerLength = try Self.checkHeader(buffer)
        let total = Int(buffer.be16(2))
        guard total >= headerLength else { throw .badLength(.ipv4, total) }
        guard total <= buffer.count else { throw .truncated(.ipv4, needed: total, available: buffer.count) }
        bytes = buffer.slice(0..<total)
    }

    /// A view over a datagram whose header was validated already (the
    /// engine's PacketParser parsed it): no check is repeated, so use it
    /// only on such bytes. Field access stays bounds-checked in debug builds.
    @inlinable
    public init(parsed buffer: UnsafeMutableRawBufferPointer) {
        bytes = buffer
    }

    /// Validates the header of a datagram quoted in an ICMP error (RFC 792:
    /// "Internet Header + 64 bits of Original Data Datagram"; RFC 1812 §4.3.2.3
    /// allows more): the header must be whole, the rest may be cut short.
    public init(validatingQuoted buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        let headerLength = try Self.checkHeader(buffer)
        let total = Int(buffer.be16(2))
        guard total >= headerLength else { throw .badLength(.ipv4, total) }
        bytes = buffer.slice(0..<min(total, buffer.count))
    }

    private static func checkHeader(_ buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard buffer.count >= minimumHeaderLength else {
            throw .truncated(.ipv4, needed: minimumHeaderLength, available: buffer.count)
        }
        let version = buffer.u8(0) >> 4
        guard version == 4 else { throw .badVersion(version) }
        let headerLength = Int(buffer.u8(0) & 0x0f) * 4
        guard headerLength >= minimumHeaderLength else { throw .badHeaderLength(.ipv4, headerLength) }
        guard headerLength <= buffer.count else {
            throw .truncated(.ipv4, needed: headerLength, available: buffer.count)
        }
        return headerLength
    }

    // MARK: Fields

    /// Header length in bytes; setting it writes the version too (a header
    /// being built, e.g. a fragment's, whose options differ from the original's).
    public var headerLength: Int {
        get { Int(bytes.u8(0) & 0x0f) * 4 }
        nonmutating set { bytes.setU8(0x40 | UInt8(truncatingIfNeeded: newValue / 4) & 0x0f, at: 0) }
    }
    /// Type of service byte: DSCP (RFC 2474) in the top six bits, ECN (RFC 3168) in the low two.
    public var typeOfService: UInt8 {
        get { bytes.u8(1) }
        nonmutating set { bytes.setU8(newValue, at: 1) }
    }
    public var dscp: UInt8 { typeOfService >> 2 }
    public var ecn: UInt8 { typeOfService & 0x03 }
    /// Total length; setting it leaves the header checksum to the caller.
    public var totalLength: Int {
        get { Int(bytes.be16(2)) }
        nonmutating set { bytes.setBE16(UInt16(truncatingIfNeeded: newValue), at: 2) }
    }
    public var identification: UInt16 {
        get { bytes.be16(4) }
        nonmutating set { bytes.setBE16(newValue, at: 4) }
    }
    /// The three flag bits and the 13-bit fragment offset as one word.
    public var flagsAndFragmentOffset: UInt16 {
        get { bytes.be16(6) }
        nonmutating set { bytes.setBE16(newValue, at: 6) }
    }
    public var reservedFlag: Bool { flagsAndFragmentOffset & 0x8000 != 0 }
    public var dontFragment: Bool { flagsAndFragmentOffset & 0x4000 != 0 }
    public var moreFragments: Bool { flagsAndFragmentOffset & 0x2000 != 0 }
    /// Fragment offset in 8-byte units, as on the wire.
    public var fragmentOffset: UInt16 { flagsAndFragmentOffset & 0x1fff }
    /// True for any fragment: the first (MF set) or a later one (offset > 0).
    public var isFragment: Bool { flagsAndFragmentOffset & 0x3fff != 0 }
    /// True for a fragment other than the first: it carries no L4 header.
    public var isLaterFragment: Bool { fragmentOffset != 0 }
    public var ttl: UInt8 {
        get { bytes.u8(8) }
        nonmutating set { bytes.setU8(newValue, at: 8) }
    }
    public var `protocol`: IPProtocol { IPProtocol(bytes.u8(9)) }
    public var headerChecksum: UInt16 {
        get { bytes.be16(10) }
        nonmutating set { bytes.setBE16(newValue, at: 10) }
    }
    public var source: IPv4Address {
        get { IPv4Address(loadingFrom: bytes.readOnly, at: 12) }
        nonmutating set { newValue.store(to: bytes, at: 12) }
    }
    public var destination: IPv4Address {
        get { IPv4Address(loadingFrom: bytes.readOnly, at: 16) }
        nonmutating set { newValue.store(to: bytes, at: 16) }
    }
    /// The source or destination address, for code that handles either end.
    public subscript(end: PacketEnd) -> IPv4Address {
        get { end == .source ? source : destination }
        nonmutating set { if end == .source { source = newValue } else { destination = newValue } }
    }
    /// The option bytes between the fixed header and the payload.
    public var options: UnsafeMutableRawBufferPointer { bytes.slice(Self.minimumHeaderLength..<headerLength) }
    /// Everything after the header (for a quoted packet: what was quoted).
    public var payload: UnsafeMutableRawBufferPointer { bytes.suffix(from: headerLength) }

    // MARK: Checksum

    public var header: UnsafeMutableRawBufferPointer { bytes.slice(0..<headerLength) }

    /// RFC 791: the checksum over the header, including the field, sums to 0xffff.
    public var isHeaderChecksumValid: Bool { Checksum.sum(header) == 0xffff }

    public func computeHeaderChecksum() -> UInt16 {
        Checksum.compute(header.readOnly, initial: ~headerChecksum)
    }

    public func updateHeaderChecksum() {
        headerChecksum = 0
        headerChecksum = Checksum.compute(header.readOnly)
    }

    /// Decrements TTL and patches the header checksum (RFC 1624 §4's example:
    /// TTL shares a 16-bit word with Protocol).
    public func decrementTTL() {
        let oldWord = bytes.be16(8)
        ttl &-= 1
        headerChecksum = Checksum.update(headerChecksum, old: oldWord, new: bytes.be16(8))
    }

    /// The pseudo-header sum for this datagram's L4 checksum.
    public func pseudoHeaderSum(length: Int) -> UInt16 {
        Checksum.pseudoHeaderSum(source: source, destination: destination, protocol: self.protocol, length: length)
    }
}

/// The header of an IPv4 datagram as a plain value: what a builder needs to
/// emit one, and what a parsed one holds.
public struct IPv4Header: Hashable, Sendable {
    public var typeOfService: UInt8 = 0
    public var identification: UInt16 = 0
    public var reservedFlag = false
    public var dontFragment = true
    public var moreFragments = false
    /// In 8-byte units, as on the wire.
    public var fragmentOffset: UInt16 = 0
    public var ttl: UInt8 = 64
    public var `protocol`: IPProtocol
    public var source: IPv4Address
    public var destination: IPv4Address
    /// Raw option bytes; emitted padded with zeros (End of Option List) to a
    /// multiple of four.
    public var options: [UInt8] = []

    public init(source: IPv4Address, destination: IPv4Address, protocol proto: IPProtocol, ttl: UInt8 = 64) {
        self.source = source
        self.destination = destination
        self.protocol = proto
        self.ttl = ttl
    }

    public init(_ packet: IPv4Packet) {
        typeOfService = packet.typeOfService
        identification = packet.identification
        reservedFlag = packet.reservedFlag
        dontFragment = packet.dontFragment
        moreFragments = packet.moreFragments
        fragmentOffset = packet.fragmentOffset
        ttl = packet.ttl
        `protocol` = packet.protocol
        source = packet.source
        destination = packet.destination
        options = Array(packet.options)
    }

    /// 20 bytes plus the options, rounded up to 4; at most 60.
    public var headerLength: Int { Self.paddedOptionsLength(options.count) + IPv4Packet.minimumHeaderLength }

    static func paddedOptionsLength(_ count: Int) -> Int { min((count + 3) & ~3, 40) }

    /// Writes the header for a payload of `payloadLength` bytes at the start of
    /// `buffer` (which must hold `headerLength` bytes), with its checksum.
    public func emit(into buffer: UnsafeMutableRawBufferPointer, payloadLength: Int) {
        let length = headerLength
        buffer.setU8(0x40 | UInt8(length / 4), at: 0)
        buffer.setU8(typeOfService, at: 1)
        buffer.setBE16(UInt16(truncatingIfNeeded: length + payloadLength), at: 2)
        buffer.setBE16(identification, at: 4)
        var word = fragmentOffset & 0x1fff
        if reservedFlag { word |= 0x8000 }
        if dontFragment { word |= 0x4000 }
        if moreFragments { word |= 0x2000 }
        buffer.setBE16(word, at: 6)
        buffer.setU8(ttl, at: 8)
        buffer.setU8(`protocol`.rawValue, at: 9)
        buffer.setBE16(0, at: 10)
        source.store(to: buffer, at: 12)
        destination.store(to: buffer, at: 16)
        for i in IPv4Packet.minimumHeaderLength..<length {
            let k = i - IPv4Packet.minimumHeaderLength
            buffer.setU8(k < options.count ? options[k] : 0, at: i)
        }
        buffer.setBE16(Checksum.compute(UnsafeRawBufferPointer(rebasing: buffer[0..<length])), at: 10)
    }
}

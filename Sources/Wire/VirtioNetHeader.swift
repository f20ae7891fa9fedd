// struct virtio_net_hdr (include/uapi/linux/virtio_net.h), the 10-byte prefix
// of every read and write on a TUN device opened with IFF_VNET_HDR. Its fields
// are little-endian on this (x86_64, little-endian) host: the TUN driver uses
// the host's byte order unless TUNSETVNETLE/BE says otherwise.
//
//   u8  flags        1 = NEEDS_CSUM: finish the L4 checksum from csum_start;
//                    2 = DATA_VALID: the checksum was already verified
//   u8  gso_type     0 none, 1 TCPv4, 3 UDP, 4 TCPv6, 5 UDP_L4; | 0x80 ECN
//   u16 hdr_len      bytes of headers (Ethernet/IP/TCP) in front of the payload
//   u16 gso_size     payload bytes per segment when the packet is cut up
//   u16 csum_start   where checksumming starts (the L4 header)
//   u16 csum_offset  where, from csum_start, the checksum goes (16 TCP, 6 UDP)
//
// Example: 01 01 42 00 a8 05 14 00 10 00 is a TCPv4 super-packet with 66 bytes
// of headers, cut at 1448-byte segments, checksum partial at 20 + 16.

public struct VirtioNetHeader: Hashable, Sendable {
    public static let size = 10

    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// VIRTIO_NET_HDR_F_NEEDS_CSUM
        public static let needsChecksum = Flags(rawValue: 1)
        /// VIRTIO_NET_HDR_F_DATA_VALID
        public static let dataValid = Flags(rawValue: 2)
    }

    /// VIRTIO_NET_HDR_GSO_*; a struct so that unknown values survive.
    public struct GSOType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let none = GSOType(rawValue: 0)
        public static let tcpv4 = GSOType(rawValue: 1)
        public static let udp = GSOType(rawValue: 3)
        public static let tcpv6 = GSOType(rawValue: 4)
        public static let udpL4 = GSOType(rawValue: 5)
        /// VIRTIO_NET_HDR_GSO_ECN, or-ed into the others.
        public static let ecnBit: UInt8 = 0x80

        /// The type without the ECN bit.
        public var base: GSOType { GSOType(rawValue: rawValue & ~Self.ecnBit) }
        public var hasECN: Bool { rawValue & Self.ecnBit != 0 }

        public var description: String {
            let name: String
            switch base {
            case .none: name = "none"
            case .tcpv4: name = "tcpv4"
            case .udp: name = "udp"
            case .tcpv6: name = "tcpv6"
            case .udpL4: name = "udp_l4"
            default: name = "gso-\(base.rawValue)"
            }
            return hasECN ? name + "|ecn" : name
        }
    }

    public var flags: Flags = []
    public var gsoType: GSOType = .none
    public var headerLength: UInt16 = 0
    public var gsoSize: UInt16 = 0
    public var checksumStart: UInt16 = 0
    public var checksumOffset: UInt16 = 0

    public init() {}

    public init(flags: Flags, gsoType: GSOType, headerLength: UInt16 = 0, gsoSize: UInt16 = 0,
                checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0) {
        self.flags = flags
        self.gsoType = gsoType
        self.headerLength = headerLength
        self.gsoSize = gsoSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
    }

    /// Reads the header at the start of `buffer`.
    public init(loadingFrom buffer: UnsafeRawBufferPointer) throws(WireError) {
        guard buffer.count >= Self.size else {
            throw .truncated(.virtio, needed: Self.size, available: buffer.count)
        }
        flags = Flags(rawValue: buffer[0])
        gsoType = GSOType(rawValue: buffer[1])
        headerLength = Self.le16(buffer, 2)
        gsoSize = Self.le16(buffer, 4)
        checksumStart = Self.le16(buffer, 6)
        checksumOffset = Self.le16(buffer, 8)
    }

    /// Writes the header at the start of `buffer` (at least `size` bytes).
    public func store(to buffer: UnsafeMutableRawBufferPointer) {
        buffer[0] = flags.rawValue
        buffer[1] = gsoType.rawValue
        buffer.storeBytes(of: headerLength.littleEndian, toByteOffset: 2, as: UInt16.self)
        buffer.storeBytes(of: gsoSize.littleEndian, toByteOffset: 4, as: UInt16.self)
        buffer.storeBytes(of: checksumStart.littleEndian, toByteOffset: 6, as: UInt16.self)
        buffer.storeBytes(of: checksumOffset.littleEndian, toByteOffset: 8, as: UInt16.self)
    }

    private static func le16(_ buffer: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// True if the L4 checksum field holds only the pseudo-header sum.
    public var needsChecksum: Bool { flags.contains(.needsChecksum) }
}

// The classic libpcap savefile format (pcap-savefile(5)): a reader that takes
// either byte order and either timestamp precision, and a writer that appends
// records to a byte buffer. Wire does no file I/O: callers hand in the file's
// bytes and write out what the writer produced.
//
//   file header (24 bytes): magic u32, version 2.4 (u16 u16), thiszone i32,
//     sigfigs u32, snaplen u32, linktype u32
//   record header (16 bytes): ts_sec u32, ts_usec-or-nsec u32, incl_len u32,
//     orig_len u32, then incl_len bytes
//
// Magic 0xa1b2c3d4: microsecond timestamps; 0xa1b23c4d: nanoseconds. Read as
// the byte-swapped value, the file was written on a host of the other byte order.
// Link type 101 (LINKTYPE_RAW): each record starts with an IPv4 or IPv6 header,
// as a TUN device delivers it.

public enum PcapError: Error, Hashable, Sendable, CustomStringConvertible {
    case notPcap(magic: UInt32)
    case truncatedFileHeader(available: Int)
    case truncatedRecordHeader(index: Int, offset: Int)
    case truncatedRecord(index: Int, offset: Int, needed: Int, available: Int)
    case recordTooLarge(index: Int, offset: Int, length: Int)

    public var description: String {
        switch self {
        case .notPcap(let magic):
            return "not a pcap file (magic 0x\(String(magic, radix: 16)))"
        case .truncatedFileHeader(let available):
            return "truncated pcap file header (\(available) of 24 bytes)"
        case .truncatedRecordHeader(let index, let offset):
            return "truncated header of packet \(index + 1) at byte \(offset)"
        case .truncatedRecord(let index, let offset, let needed, let available):
            return "truncated packet \(index + 1) at byte \(offset): \(needed) bytes announced, \(available) present"
        case .recordTooLarge(let index, let offset, let length):
            return "packet \(index + 1) at byte \(offset) announces \(length) bytes, more than any snapshot length"
        }
    }
}

/// LINKTYPE_* values (tcpdump.org link-layer header types).
public struct PcapLinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let ethernet = PcapLinkType(rawValue: 1)
    /// Raw IPv4 or IPv6, told apart by the version nibble.
    public static let raw = PcapLinkType(rawValue: 101)
    public static let linuxCooked = PcapLinkType(rawValue: 113)
    public static let ipv4 = PcapLinkType(rawValue: 228)
    public static let ipv6 = PcapLinkType(rawValue: 229)

    public var description: String {
        switch self {
        case .ethernet: return "EN10MB"
        case .raw: return "RAW"
        case .linuxCooked: return "LINUX_SLL"
        case .ipv4: return "IPV4"
        case .ipv6: return "IPV6"
        default: return "linktype \(rawValue)"
        }
    }
}

public enum PcapTimestampPrecision: Hashable, Sendable {
    case microseconds
    case nanoseconds

    var magic: UInt32 { self == .microseconds ? 0xa1b2_c3d4 : 0xa1b2_3c4d }
}

public struct PcapRecord: Hashable, Sendable {
    public var seconds: UInt32
    /// Fraction of the second in nanoseconds, whatever the file's precision.
    public var nanoseconds: UInt32
    /// Length of the packet on the wire (may exceed `data.count` if the capture was cut).
    public var originalLength: Int
    public var data: [UInt8]

    public init(seconds: UInt32, nanoseconds: UInt32, originalLength: Int? = nil, data: [UInt8]) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
        self.originalLength = originalLength ?? data.count
        self.data = data
    }
}

/// Reads a whole savefile held in memory.
public struct PcapReader: Sequence {
    public let linkType: PcapLinkType
    public let precision: PcapTimestampPrecision
    public let snapshotLength: Int
    public let versionMajor: UInt16
    public let versionMinor: UInt16
    /// True if the file was written in big-endian byte order.
    public let isBigEndian: Bool
    let bytes: [UInt8]

    /// Records larger than this are refused rather than allocated: no capture
    /// tool writes more than 256 KiB per packet (libpcap's MAXIMUM_SNAPLEN).
    public static let maximumRecordLength = 262_144

    public init(bytes: [UInt8]) throws(PcapError) {
        guard bytes.count >= 24 else {
            if bytes.count >= 4 {
                let magic = Self.u32(bytes, 0, bigEndian: false)
                if ![0xa1b2_c3d4, 0xa1b2_3c4d, 0xd4c3_b2a1, 0x4d3c_b2a1].contains(magic) { throw .notPcap(magic: magic) }
            }
            throw .truncatedFileHeader(available: bytes.count)
        }
        let magic = Self.u32(bytes, 0, bigEndian: false)
        switch magic {
        case 0xa1b2_c3d4: (precision, isBigEndian) = (.microseconds, false)
        case 0xa1b2_3c4d: (precision, isBigEndian) = (.nanoseconds, false)
        case 0xd4c3_b2a1: (precision, isBigEndian) = (.microseconds, true)
        case 0x4d3c_b2a1: (precision, isBigEndian) = (.nanoseconds, true)
        default: throw .notPcap(magic: magic)
        }
        versionMajor = Self.u16(bytes, 4, bigEndian: isBigEndian)
        versionMinor = Self.u16(bytes, 6, bigEndian: isBigEndian)
        snapshotLength = Int(Self.u32(bytes, 16, bigEndian: isBigEndian))
        // The upper bits of the link-type word carry FCS information (pcap-savefile(5)).
        linkType = PcapLinkType(rawValue: Self.u32(bytes, 20, bigEndian: isBigEndian) & 0x0fff_ffff)
        self.bytes = bytes
    }

    public struct Iterator: IteratorProtocol {
        let reader: PcapReader
        var offset = 24
        var index = 0
        /// Set when the iteration stopped at a damaged record.
        public private(set) var error: PcapError?

        public mutating func next() -> PcapRecord? {
            guard error == nil else { return nil }
            do {
                return try nextRecord()
            } catch {
                self.error = error
                return nil
            }
        }

        /// The next record, nil at a clean end of file, or the reason the file is damaged.
        public mutating func nextRecord() throws(PcapError) -> PcapRecord? {
            let bytes = reader.bytes
            if offset == bytes.count { return nil }
            guard offset + 16 <= bytes.count else { throw .truncatedRecordHeader(index: index, offset: offset) }
            let big = reader.isBigEndian
            let seconds = PcapReader.u32(bytes, offset, bigEndian: big)
            let fraction = PcapReader.u32(bytes, offset + 4, bigEndian: big)
            let included = Int(PcapReader.u32(bytes, offset + 8, bigEndian: big))
            let original = Int(PcapReader.u32(bytes, offset + 12, bigEndian: big))
            guard included <= PcapReader.maximumRecordLength else {
                throw .recordTooLarge(index: index, offset: offset, length: included)
            }
            let start = offset + 16
            guard start + included <= bytes.count else {
                throw .truncatedRecord(index: index, offset: offset, needed: included, available: bytes.count - start)
            }
            let nanoseconds = reader.precision == .microseconds ? fraction &* 1000 : fraction
            offset = start + included
            index += 1
            return PcapRecord(seconds: seconds, nanoseconds: nanoseconds, originalLength: original,
                              data: Array(bytes[start..<start + included]))
        }
    }

    public func makeIterator() -> Iterator { Iterator(reader: self) }

    /// All records, or the error of the first damaged one.
    public func records() throws(PcapError) -> [PcapRecord] {
        var iterator = makeIterator()
        var result: [PcapRecord] = []
        while let record = try iterator.nextRecord() { result.append(record) }
        return result
    }

    static func u16(_ b: [UInt8], _ i: Int, bigEndian: Bool) -> UInt16 {
        bigEndian ? UInt16(b[i]) << 8 | UInt16(b[i + 1]) : UInt16(b[i + 1]) << 8 | UInt16(b[i])
    }

    static func u32(_ b: [UInt8], _ i: Int, bigEndian: Bool) -> UInt32 {
        let x = UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
        return bigEndian ? x.byteSwapped : x
    }
}

/// Builds a savefile in memory, in this host's byte order (as libpcap does).
/// The caller drains `bytes` to a file whenever it likes (`takeBytes()`).
public struct PcapWriter: Sendable {
    public let linkType: PcapLinkType
    public let precision: PcapTimestampPrecision
    public let snapshotLength: Int
    public private(set) var bytes: [UInt8] = []

    public init(linkType: PcapLinkType = .raw, precision: PcapTimestampPrecision = .microseconds,
                snapshotLength: Int = 262_144) {
        self.linkType = linkType
        self.precision = precision
        self.snapshotLength = snapshotLength
        bytes.reserveCapacity(65_536)
        append32(precision.magic)
        append16(2)
        append16(4)
        append32(0)                       // thiszone: timestamps are UTC
        append32(0)                       // sigfigs
        append32(UInt32(truncatingIfNeeded: snapshotLength))
        append32(linkType.rawValue)
    }

    /// Appends one packet, cut to the snapshot length.
    public mutating func append(_ packet: UnsafeRawBufferPointer, seconds: UInt32, nanoseconds: UInt32,
                                originalLength: Int? = nil) {
        let included = min(packet.count, snapshotLength)
        append32(seconds)
        append32(precision == .microseconds ? nanoseconds / 1000 : nanoseconds)
        append32(UInt32(truncatingIfNeeded: included))
        append32(UInt32(truncatingIfNeeded: originalLength ?? packet.count))
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: packet[0..<included]))
    }

    public mutating func append(_ packet: [UInt8], seconds: UInt32, nanoseconds: UInt32) {
        packet.withUnsafeBytes { append($0, seconds: seconds, nanoseconds: nanoseconds) }
    }

    public mutating func append(_ record: PcapRecord) {
        record.data.withUnsafeBytes {
            append($0, seconds: record.seconds, nanoseconds: record.nanoseconds, originalLength: record.originalLength)
        }
    }

    /// Hands over what has been written so far and keeps the capacity.
    public mutating func takeBytes() -> [UInt8] {
        defer { bytes.removeAll(keepingCapacity: true) }
        return bytes
    }

    private mutating func append16(_ v: UInt16) {
        withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) }
    }

    private mutating func append32(_ v: UInt32) {
        withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) }
    }
}

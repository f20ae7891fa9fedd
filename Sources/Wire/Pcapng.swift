// pcapng (draft-ietf-opsawg-pcapng): one capture file for every interface,
// each packet with the interface it was on and its direction, which the
// classic pcap format cannot say. The blocks tunwall writes, in this host's
// byte order (as libpcap and dumpcap write them):
//
//   Section Header Block       0x0A0D0D0A, byte-order magic 0x1A2B3C4D, version 1.0
//   Interface Description ×N   link type RAW (101), snap length, if_name (2),
//                              if_tsresol (9) = 9: timestamps in nanoseconds
//   Enhanced Packet Block ×M   interface id, 64-bit timestamp, lengths, the
//                              packet padded to 32 bits, epb_flags (2) whose
//                              bits 0-1 say inbound (1) or outbound (2)
//
// Every block is [type, total length, body, total length]; options are
// [code, length, value padded to 32 bits], ended by opt_endofopt (0, 0).
// `tshark -T fields -e frame.interface_name -e frame.packet_flags_direction`
// shows both per packet. The reader takes these blocks (and Simple Packet
// Blocks) in either byte order and skips the others, as libpcap does.

public struct PcapngWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    public let snapshotLength: Int

    public enum Direction: UInt32, Sendable {
        case inbound = 1, outbound = 2
    }

    /// The section header and one interface description per name, in order:
    /// interface `i` of `append` is `interfaceNames[i]`.
    /// `linkTypes[i]`, when given, is interface `i`'s (Ethernet for a TAP
    /// interface); the others have `linkType`.
    public init(interfaceNames: [String], linkType: PcapLinkType = .raw, linkTypes: [PcapLinkType] = [],
                snapshotLength: Int = 262_144, application: String = "tunwall") {
        self.snapshotLength = snapshotLength
        bytes.reserveCapacity(65_536)
        var header: [UInt8] = []
        Self.put32(&header, 0x1A2B_3C4D)
        Self.put16(&header, 1)
        Self.put16(&header, 0)
        Self.put32(&header, 0xffff_ffff)  // section length: not given (-1, 64 bits)
        Self.put32(&header, 0xffff_ffff)
        Self.option(&header, 4, Array(application.utf8))  // shb_userappl
        Self.endOfOptions(&header)
        block(0x0A0D_0D0A, header)
        for (index, name) in interfaceNames.enumerated() {
            var body: [UInt8] = []
            let type = index < linkTypes.count ? linkTypes[index] : linkType
            Self.put16(&body, UInt16(truncatingIfNeeded: type.rawValue))
            Self.put16(&body, 0)
            Self.put32(&body, UInt32(truncatingIfNeeded: snapshotLength))
            Self.option(&body, 2, Array(name.utf8))  // if_name
            Self.option(&body, 9, [9])               // if_tsresol: 10^-9 s
            Self.endOfOptions(&body)
            block(1, body)
        }
    }

    /// Appends one packet seen on `interface`, cut to the snapshot length.
    public mutating func append(_ packet: UnsafeRawBufferPointer, interface: Int, direction: Direction,
                                seconds: UInt32, nanoseconds: UInt32) {
        let included = min(packet.count, snapshotLength)
        let padding = (4 - included % 4) % 4
        let total = 28 + included + padding + 12 + 4  // header and fields, data, epb_flags and end, length
        let time = UInt64(seconds) &* 1_000_000_000 &+ UInt64(nanoseconds)
        put32(6)
        put32(UInt32(truncatingIfNeeded: total))
        put32(UInt32(truncatingIfNeeded: interface))
        put32(UInt32(truncatingIfNeeded: time >> 32))
        put32(UInt32(truncatingIfNeeded: time))
        put32(UInt32(truncatingIfNeeded: included))
        put32(UInt32(truncatingIfNeeded: packet.count))
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: packet[0..<included]))
        bytes.append(contentsOf: repeatElement(0, count: padding))
        put16(2)  // epb_flags
        put16(4)
        put32(direction.rawValue)
        put32(0)  // opt_endofopt
        put32(UInt32(truncatingIfNeeded: total))
    }

    public mutating func append(_ packet: [UInt8], interface: Int, direction: Direction, seconds: UInt32, nanoseconds: UInt32) {
        packet.withUnsafeBytes { append($0, interface: interface, direction: direction, seconds: seconds, nanoseconds: nanoseconds) }
    }

    /// Hands over what has been written so far and keeps the capacity.
    public mutating func takeBytes() -> [UInt8] {
        defer { bytes.removeAll(keepingCapacity: true) }
        return bytes
    }

    private mutating func block(_ type: UInt32, _ body: [UInt8]) {
        let total = UInt32(truncatingIfNeeded: body.count + 12)
        put32(type)
        put32(total)
        bytes += body
        put32(total)
    }

    private mutating func put16(_ v: UInt16) { Self.put16(&bytes, v) }
    private mutating func put32(_ v: UInt32) { Self.put32(&bytes, v) }

    private static func put16(_ out: inout [UInt8], _ v: UInt16) { withUnsafeBytes(of: v) { out.append(contentsOf: $0) } }
    private static func put32(_ out: inout [UInt8], _ v: UInt32) { withUnsafeBytes(of: v) { out.append(contentsOf: $0) } }

    private static func option(_ out: inout [UInt8], _ code: UInt16, _ value: [UInt8]) {
        put16(&out, code)
        put16(&out, UInt16(truncatingIfNeeded: value.count))
        out += value
        out.append(contentsOf: repeatElement(0, count: (4 - value.count % 4) % 4))
    }

    private static func endOfOptions(_ out: inout [UInt8]) { put32(&out, 0) }
}

/// One packet of a pcapng file, with the interface it was on.
public struct PcapngPacket: Hashable, Sendable {
    public var record: PcapRecord
    public var interface: Int
    /// epb_flags' direction: nil when not given.
    public var direction: PcapngWriter.Direction?
}

public struct PcapngInterface: Hashable, Sendable {
    public var linkType: PcapLinkType
    public var name: String?
    /// Timestamp units per second (if_tsresol; 10^6 when not given).
    public var unitsPerSecond: UInt64
}

/// Reads the blocks PcapngWriter writes (and Simple Packet Blocks) from one
/// or more sections, in either byte order; other blocks are skipped.
public struct PcapngReader: Sendable {
    public static let sectionHeaderType: UInt32 = 0x0A0D_0D0A

    public private(set) var interfaces: [PcapngInterface] = []
    public private(set) var packets: [PcapngPacket] = []
    /// Why the reading stopped early (a damaged or cut block); the packets
    /// before it are in `packets`.
    public private(set) var error: PcapError?

    /// True if `bytes` begin with a pcapng section header.
    public static func isPcapng(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && PcapReader.u32(bytes, 0, bigEndian: false) == sectionHeaderType
    }

    /// Reads the whole file; a damaged block ends the reading (`error`).
    /// Throws only for a file that is no pcapng at all.
    public init(bytes: [UInt8]) throws(PcapError) {
        guard Self.isPcapng(bytes) else {
            throw .notPcap(magic: bytes.count >= 4 ? PcapReader.u32(bytes, 0, bigEndian: false) : 0)
        }
        do {
            try read(bytes)
        } catch {
            self.error = error
        }
    }

    private mutating func read(_ bytes: [UInt8]) throws(PcapError) {
        var offset = 0
        var big = false
        var index = 0
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { throw .truncatedRecordHeader(index: index, offset: offset) }
            let type = PcapReader.u32(bytes, offset, bigEndian: false)
            if type == Self.sectionHeaderType {
                let magic = PcapReader.u32(bytes, offset + 8, bigEndian: false)
                guard magic == 0x1A2B_3C4D || magic == 0x4D3C_2B1A else { throw .notPcap(magic: magic) }
                big = magic == 0x4D3C_2B1A
                interfaces = []  // interface ids count from 0 again in each section
            }
            let total = Int(PcapReader.u32(bytes, offset + 4, bigEndian: big))
            guard total >= 12, total % 4 == 0, total <= PcapReader.maximumRecordLength + 64 else {
                throw .recordTooLarge(index: index, offset: offset, length: total)
            }
            guard offset + total <= bytes.count else {
                throw .truncatedRecord(index: index, offset: offset, needed: total, available: bytes.count - offset)
            }
            let body = Array(bytes[offset + 8..<offset + total - 4])
            switch PcapReader.u32(bytes, offset, bigEndian: big) {
            case 1: interfaces.append(Self.interface(body, big))
            case 6: if let packet = Self.enhancedPacket(body, big, interfaces) { packets.append(packet); index += 1 }
            case 3:
                if body.count >= 4, let first = interfaces.first {
                    let original = Int(PcapReader.u32(body, 0, bigEndian: big))
                    let data = Array(body[4...].prefix(original))
                    packets.append(PcapngPacket(record: Self.record(0, data, original, first), interface: 0, direction: nil))
                    index += 1
                }
            default: break
            }
            offset += total
        }
    }

    private static func interface(_ body: [UInt8], _ big: Bool) -> PcapngInterface {
        var result = PcapngInterface(linkType: PcapLinkType(rawValue: body.count >= 2 ? UInt32(PcapReader.u16(body, 0, bigEndian: big)) : 0),
                                     name: nil, unitsPerSecond: 1_000_000)
        for (code, value) in options(body, from: 8, big) {
            if code == 2 { result.name = String(decoding: value.prefix { $0 != 0 }, as: UTF8.self) }
            if code == 9, let resolution = value.first {
                // Bit 7 clear: a power of 10; set: a power of 2 (at most 63 of either fits 64 bits).
                let exponent = UInt64(resolution & 0x7f)
                if resolution & 0x80 == 0, exponent <= 19 {
                    result.unitsPerSecond = (0..<exponent).reduce(1) { value, _ in value * 10 }
                } else if resolution & 0x80 != 0, exponent <= 63 {
                    result.unitsPerSecond = 1 << exponent
                }
            }
        }
        return result
    }

    private static func enhancedPacket(_ body: [UInt8], _ big: Bool, _ interfaces: [PcapngInterface]) -> PcapngPacket? {
        guard body.count >= 20 else { return nil }
        let id = Int(PcapReader.u32(body, 0, bigEndian: big))
        guard id < interfaces.count else { return nil }
        let time = UInt64(PcapReader.u32(body, 4, bigEndian: big)) << 32 | UInt64(PcapReader.u32(body, 8, bigEndian: big))
        let included = Int(PcapReader.u32(body, 12, bigEndian: big))
        let original = Int(PcapReader.u32(body, 16, bigEndian: big))
        guard included <= body.count - 20 else { return nil }
        var direction: PcapngWriter.Direction?
        let padded = included + (4 - included % 4) % 4
        for (code, value) in options(body, from: 20 + padded, big) where code == 2 && value.count == 4 {
            direction = PcapngWriter.Direction(rawValue: PcapReader.u32(value, 0, bigEndian: big) & 3)
        }
        return PcapngPacket(record: record(time, Array(body[20..<20 + included]), original, interfaces[id]),
                            interface: id, direction: direction)
    }

    private static func record(_ time: UInt64, _ data: [UInt8], _ original: Int, _ interface: PcapngInterface) -> PcapRecord {
        let units = max(1, interface.unitsPerSecond)
        let seconds = time / units, fraction = time % units
        let nanoseconds = fraction.multipliedFullWidth(by: 1_000_000_000)
        let (scaled, _) = units.dividingFullWidth((nanoseconds.high, nanoseconds.low))
        return PcapRecord(seconds: UInt32(truncatingIfNeeded: seconds), nanoseconds: UInt32(truncatingIfNeeded: scaled),
                          originalLength: original, data: data)
    }

    /// The options from `start` to the end of the body (or opt_endofopt).
    private static func options(_ body: [UInt8], from start: Int, _ big: Bool) -> [(UInt16, [UInt8])] {
        var result: [(UInt16, [UInt8])] = []
        var offset = start
        while offset + 4 <= body.count {
            let code = PcapReader.u16(body, offset, bigEndian: big)
            let length = Int(PcapReader.u16(body, offset + 2, bigEndian: big))
            if code == 0 { break }
            guard offset + 4 + length <= body.count else { break }
            result.append((code, Array(body[offset + 4..<offset + 4 + length])))
            offset += 4 + length + (4 - length % 4) % 4
        }
        return result
    }
}

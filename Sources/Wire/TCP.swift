// TCP: a view over a segment (`TCPSegment`) and the plain value of its header
// (`TCPHeader`). RFC 9293 §3.1:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Source Port          |       Destination Port        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                        Sequence Number                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Acknowledgment Number                      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Data |       |C|E|U|A|P|R|S|F|                               |
//   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//   |       |       |R|E|G|K|H|T|N|N|                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |           Checksum            |         Urgent Pointer        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                           [Options]                           |
//
// Example: a SYN from 10.0.1.2:40000 to 203.0.113.10:21 with seq 1, window
// 64240 and options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7] has data
// offset 10 (40 bytes of header).
//
// Validation: data offset ≥ 5 and the header within the buffer (Linux's
// tcp_v4_rcv: `th->doff < sizeof(struct tcphdr) / 4` is a bad segment). The
// checksum is checked separately by the caller with the pseudo-header sum.

/// TCP control bits (RFC 9293 §3.1 and RFC 3168 §6.1 for CWR/ECE; bit 8, the
/// former NS of RFC 3540, is kept so that a segment re-emits unchanged).
public struct TCPFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x001)
    public static let syn = TCPFlags(rawValue: 0x002)
    public static let rst = TCPFlags(rawValue: 0x004)
    public static let psh = TCPFlags(rawValue: 0x008)
    public static let ack = TCPFlags(rawValue: 0x010)
    public static let urg = TCPFlags(rawValue: 0x020)
    public static let ece = TCPFlags(rawValue: 0x040)
    public static let cwr = TCPFlags(rawValue: 0x080)
    public static let ns = TCPFlags(rawValue: 0x100)

    /// tcpdump's letters in the order of its tcp_flag_values table: F S R P,
    /// `.` for ACK, U E W, `e` for the former NS bit; "none" for no flags.
    /// So a SYN-ACK prints "S." and an ECN-setup SYN "SEW".
    public var description: String {
        var text = ""
        if contains(.fin) { text += "F" }
        if contains(.syn) { text += "S" }
        if contains(.rst) { text += "R" }
        if contains(.psh) { text += "P" }
        if contains(.ack) { text += "." }
        if contains(.urg) { text += "U" }
        if contains(.ece) { text += "E" }
        if contains(.cwr) { text += "W" }
        if contains(.ns) { text += "e" }
        return text.isEmpty ? "none" : text
    }
}

public struct TCPSegment {
    /// The segment: header, options and payload.
    public let bytes: UnsafeMutableRawBufferPointer

    public static let minimumHeaderLength = 20

    public init(validating buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard buffer.count >= Self.minimumHeaderLength else {
            throw .truncated(.tcp, needed: Self.minimumHeaderLength, available: buffer.count)
        }
        let headerLength = Int(buffer.u8(12) >> 4) * 4
        guard headerLength >= Self.minimumHeaderLength else { throw .badHeaderLength(.tcp, headerLength) }
        guard headerLength <= buffer.count else {
            throw .truncated(.tcp, needed: headerLength, available: buffer.count)
        }
        bytes = buffer
    }

    /// A view over a segment whose header was validated already (the
    /// engine's PacketParser checked its length and data offset).
    @inlinable
    public init(parsed buffer: UnsafeMutableRawBufferPointer) {
        bytes = buffer
    }

    public var sourcePort: UInt16 {
        get { bytes.be16(0) }
        nonmutating set { bytes.setBE16(newValue, at: 0) }
    }
    public var destinationPort: UInt16 {
        get { bytes.be16(2) }
        nonmutating set { bytes.setBE16(newValue, at: 2) }
    }
    public var sequenceNumber: SeqNumber {
        get { SeqNumber(bytes.be32(4)) }
        nonmutating set { bytes.setBE32(newValue.rawValue, at: 4) }
    }
    public var acknowledgmentNumber: SeqNumber {
        get { SeqNumber(bytes.be32(8)) }
        nonmutating set { bytes.setBE32(newValue.rawValue, at: 8) }
    }
    public var headerLength: Int { Int(bytes.u8(12) >> 4) * 4 }
    /// The three reserved bits between data offset and NS (RFC 9293: must be zero).
    public var reservedBits: UInt8 { (bytes.u8(12) >> 1) & 0x7 }
    public var flags: TCPFlags {
        get { TCPFlags(rawValue: bytes.be16(12) & 0x01ff) }
        nonmutating set { bytes.setBE16((bytes.be16(12) & 0xfe00) | (newValue.rawValue & 0x01ff), at: 12) }
    }
    public var window: UInt16 {
        get { bytes.be16(14) }
        nonmutating set { bytes.setBE16(newValue, at: 14) }
    }
    public var checksum: UInt16 {
        get { bytes.be16(16) }
        nonmutating set { bytes.setBE16(newValue, at: 16) }
    }
    public var urgentPointer: UInt16 {
        get { bytes.be16(18) }
        nonmutating set { bytes.setBE16(newValue, at: 18) }
    }
    public var optionBytes: UnsafeMutableRawBufferPointer { bytes.slice(Self.minimumHeaderLength..<headerLength) }
    public var payload: UnsafeMutableRawBufferPointer { bytes.suffix(from: headerLength) }

    /// Sequence space the segment occupies: payload plus one each for SYN and FIN.
    public var sequenceLength: Int {
        payload.count + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0)
    }

    /// Checks the checksum given the IP pseudo-header sum for this segment.
    public func isChecksumValid(pseudoHeaderSum: UInt16) -> Bool {
        Checksum.sum(bytes, initial: pseudoHeaderSum) == 0xffff
    }

    /// Recomputes the checksum from scratch.
    public func updateChecksum(pseudoHeaderSum: UInt16) {
        checksum = 0
        checksum = Checksum.compute(bytes.readOnly, initial: pseudoHeaderSum)
    }

    /// The options, walked in place without allocating.
    public var options: TCPOptionSlots { TCPOptionSlots(bytes: optionBytes) }
}

public struct TCPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequenceNumber: SeqNumber = SeqNumber(0)
    public var acknowledgmentNumber: SeqNumber = SeqNumber(0)
    public var flags: TCPFlags
    public var reservedBits: UInt8 = 0
    public var window: UInt16 = 64240
    public var urgentPointer: UInt16 = 0
    public var options: [TCPOption] = []

    public init(sourcePort: UInt16, destinationPort: UInt16, flags: TCPFlags,
                sequenceNumber: SeqNumber = SeqNumber(0), acknowledgmentNumber: SeqNumber = SeqNumber(0),
                window: UInt16 = 64240, options: [TCPOption] = []) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.flags = flags
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.window = window
        self.options = options
    }

    public init(_ segment: TCPSegment) {
        sourcePort = segment.sourcePort
        destinationPort = segment.destinationPort
        sequenceNumber = segment.sequenceNumber
        acknowledgmentNumber = segment.acknowledgmentNumber
        flags = segment.flags
        reservedBits = segment.reservedBits
        window = segment.window
        urgentPointer = segment.urgentPointer
        options = TCPOption.decode(segment.optionBytes.readOnly)
    }

    /// 20 bytes plus the options padded to a multiple of four (at most 60).
    public var headerLength: Int {
        min(TCPSegment.minimumHeaderLength + ((TCPOption.encodedLength(options) + 3) & ~3), 60)
    }

    /// Writes the header into `buffer` (which must hold `headerLength` bytes)
    /// with the checksum field zero; the builder fills it in afterwards.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) {
        let length = headerLength
        buffer.setBE16(sourcePort, at: 0)
        buffer.setBE16(destinationPort, at: 2)
        buffer.setBE32(sequenceNumber.rawValue, at: 4)
        buffer.setBE32(acknowledgmentNumber.rawValue, at: 8)
        let word = (UInt16(length / 4) << 12) | (UInt16(reservedBits & 0x7) << 9) | (flags.rawValue & 0x01ff)
        buffer.setBE16(word, at: 12)
        buffer.setBE16(window, at: 14)
        buffer.setBE16(0, at: 16)
        buffer.setBE16(urgentPointer, at: 18)
        let area = buffer.slice(TCPSegment.minimumHeaderLength..<length)
        for i in 0..<area.count { area.setU8(0, at: i) }
        TCPOption.encode(options, into: area)
    }
}

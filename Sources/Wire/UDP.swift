// UDP: a view over a datagram (`UDPDatagram`) and its header value
// (`UDPHeader`). RFC 768:
//
//    0      7 8     15 16    23 24    31
//   +--------+--------+--------+--------+
//   |     Source      |   Destination   |
//   |      Port       |      Port       |
//   +--------+--------+--------+--------+
//   |     Length      |    Checksum     |
//   +--------+--------+--------+--------+
//
// Example: 9c 40 00 35 00 14 xx xx + 12 bytes is a 20-byte datagram from port
// 40000 to 53.
//
// Validation as Linux's __udp4_lib_rcv: 8 ≤ length ≤ the bytes present; bytes
// past `length` are ignored. Checksum 0 over IPv4 means "none" (RFC 768); over
// IPv6 it is invalid (RFC 8200 §8.1) and the caller decides.

public struct UDPDatagram {
    /// Exactly `length` bytes.
    public let bytes: UnsafeMutableRawBufferPointer

    public static let headerLength = 8

    public init(validating buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard buffer.count >= Self.headerLength else {
            throw .truncated(.udp, needed: Self.headerLength, available: buffer.count)
        }
        let length = Int(buffer.be16(4))
        guard length >= Self.headerLength else { throw .badLength(.udp, length) }
        guard length <= buffer.count else { throw .truncated(.udp, needed: length, available: buffer.count) }
        bytes = buffer.slice(0..<length)
    }

    /// A view over a datagram whose header was validated already.
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
    public var length: Int { Int(bytes.be16(4)) }
    public var checksum: UInt16 {
        get { bytes.be16(6) }
        nonmutating set { bytes.setBE16(newValue, at: 6) }
    }
    public var payload: UnsafeMutableRawBufferPointer { bytes.suffix(from: Self.headerLength) }

    /// True if the checksum verifies, or is 0 (none), which only IPv4 allows.
    public func isChecksumValid(pseudoHeaderSum: UInt16) -> Bool {
        checksum == 0 || Checksum.sum(bytes, initial: pseudoHeaderSum) == 0xffff
    }

    /// Recomputes the checksum; a computed 0 is sent as 0xffff (RFC 768).
    public func updateChecksum(pseudoHeaderSum: UInt16) {
        checksum = 0
        let value = Checksum.compute(bytes.readOnly, initial: pseudoHeaderSum)
        checksum = value == 0 ? 0xffff : value
    }
}

public struct UDPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// When true the checksum field is sent as 0 ("no checksum", IPv4 only).
    public var omitsChecksum = false

    public init(sourcePort: UInt16, destinationPort: UInt16) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    public init(_ datagram: UDPDatagram) {
        sourcePort = datagram.sourcePort
        destinationPort = datagram.destinationPort
        omitsChecksum = datagram.checksum == 0
    }

    public func emit(into buffer: UnsafeMutableRawBufferPointer, payloadLength: Int) {
        buffer.setBE16(sourcePort, at: 0)
        buffer.setBE16(destinationPort, at: 2)
        buffer.setBE16(UInt16(truncatingIfNeeded: UDPDatagram.headerLength + payloadLength), at: 4)
        buffer.setBE16(0, at: 6)
    }
}

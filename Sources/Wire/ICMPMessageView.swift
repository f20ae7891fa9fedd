// What ICMP (RFC 792) and ICMPv6 (RFC 4443 §2.1) messages share: an 8-byte
// header of type, code, checksum and a type-specific word, then the body. The
// two views conform and get these accessors; each keeps what differs (its type
// numbers, its checksum rule, its quoted packet).

public protocol ICMPMessageView {
    /// The whole message, at least 8 bytes.
    var bytes: UnsafeMutableRawBufferPointer { get }
}

extension ICMPMessageView {
    /// The type as a number, for code that handles both families.
    public var typeNumber: UInt8 { bytes.u8(0) }
    public var code: UInt8 { bytes.u8(1) }
    public var checksum: UInt16 {
        get { bytes.be16(2) }
        nonmutating set { bytes.setBE16(newValue, at: 2) }
    }
    /// The second word, whose meaning depends on the type.
    public var restOfHeader: UInt32 { bytes.be32(4) }
    /// Echo (and ICMPv4 timestamp) messages: the identifier, which NAPT
    /// translates as it would a port.
    public var identifier: UInt16 {
        get { bytes.be16(4) }
        nonmutating set { bytes.setBE16(newValue, at: 4) }
    }
    public var sequenceNumber: UInt16 { bytes.be16(6) }
    /// After the 8-byte header; for an error, the packet it quotes.
    public var payload: UnsafeMutableRawBufferPointer { bytes.suffix(from: 8) }
}

/// Writes the 8-byte header of either family with a zero checksum.
func emitICMPHeader(type: UInt8, code: UInt8, restOfHeader: UInt32, into buffer: UnsafeMutableRawBufferPointer) {
    buffer.setU8(type, at: 0)
    buffer.setU8(code, at: 1)
    buffer.setBE16(0, at: 2)
    buffer.setBE32(restOfHeader, at: 4)
}

// An IP packet of either version whose header was validated already, seen
// through what code that handles both versions alike needs: its length, the
// pseudo-header sum of its upper layer, and replacing a TCP payload with the
// lengths and checksums that depend on it fixed up.
//
// Example: replacing the 22-byte payload "PORT 10,0,1,2,195,80\r\n" of an
// IPv4 segment (20 + 20 header bytes) by the 24 bytes of
// "PORT 203,0,113,1,195,80\r\n" makes total length 64, recomputes the IPv4
// header checksum and the TCP checksum (or, for an offloaded segment, the
// pseudo-header sum the device completes).

public struct IPDatagram {
    /// The packet from its first byte; may run on past its IP length (the
    /// room a payload replacement can grow into).
    public let bytes: UnsafeMutableRawBufferPointer

    @inlinable
    public init(parsed bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    public var isIPv4: Bool { bytes.u8(0) >> 4 == 4 }

    /// The longest packet the length fields can describe: IPv4's total
    /// length and IPv6's payload length are 16-bit (RFC 791 §3.1, RFC 8200 §3).
    public var maximumLength: Int { isIPv4 ? 65_535 : IPv6Packet.headerLength + 65_535 }

    /// The whole packet's length, header included. Setting it writes IPv4's
    /// total length (and recomputes the header checksum) or IPv6's payload length.
    public var length: Int {
        get { isIPv4 ? Int(bytes.be16(2)) : IPv6Packet.headerLength + Int(bytes.be16(4)) }
        nonmutating set {
            if isIPv4 {
                let ip = IPv4Packet(parsed: bytes)
                ip.totalLength = newValue
                ip.updateHeaderChecksum()
            } else {
                IPv6Packet(parsed: bytes).payloadLength = newValue - IPv6Packet.headerLength
            }
        }
    }

    /// The pseudo-header sum for an upper-layer checksum over `length` bytes.
    public func pseudoHeaderSum(protocol proto: IPProtocol, length: Int) -> UInt16 {
        if isIPv4 {
            let ip = IPv4Packet(parsed: bytes)
            return Checksum.pseudoHeaderSum(source: ip.source, destination: ip.destination, protocol: proto, length: length)
        }
        return IPv6Packet(parsed: bytes).pseudoHeaderSum(protocol: proto, length: length)
    }

    /// Puts `payload` in place of the payload of the TCP segment at
    /// `transportOffset`, with `sequence` as its sequence number. Places as
    /// much as fits both `limit` (the packet's longest allowed length) and
    /// `maximumLength`, and returns the packet's new length and how many
    /// bytes were placed. The IP length, the IPv4 header checksum and the TCP
    /// checksum follow; with `partialChecksum` (virtio NEEDS_CSUM) the TCP
    /// checksum field gets only the pseudo-header sum, which the device completes.
    public func replaceTCPPayload(transportOffset: Int, sequence: SeqNumber, payload: UnsafeRawBufferPointer,
                                  limit: Int, partialChecksum: Bool) -> (length: Int, placed: Int) {
        let segment = TCPSegment(parsed: bytes.suffix(from: transportOffset))
        let payloadOffset = transportOffset + segment.headerLength
        let placed = max(0, min(payload.count, min(limit, maximumLength, bytes.count) - payloadOffset))
        if placed > 0, let from = payload.baseAddress, let to = bytes.baseAddress {
            (to + payloadOffset).copyMemory(from: from, byteCount: placed)
        }
        let newLength = payloadOffset + placed
        length = newLength
        let tcp = TCPSegment(parsed: bytes.slice(transportOffset..<newLength))
        tcp.sequenceNumber = sequence
        let pseudo = pseudoHeaderSum(protocol: .tcp, length: tcp.bytes.count)
        if partialChecksum {
            tcp.checksum = pseudo
        } else {
            tcp.updateChecksum(pseudoHeaderSum: pseudo)
        }
        return (newLength, placed)
    }
}

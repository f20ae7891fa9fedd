// A whole IP packet as plain values, `Packet`: the network header, the
// transport header and the payload. Made by parsing bytes (tests, pcap tools,
// traces) or by hand (tests, ICMP errors the engine sends, FTP rewrites), and
// emitted to bytes with every length and checksum filled in.
//
// Example:
//   let syn = Packet.tcp(IPv4Address(10, 0, 1, 2), 40000, IPv4Address(203, 0, 113, 10), 21,
//                        flags: .syn, sequenceNumber: SeqNumber(1))
//   syn.encoded()   // 40 bytes: 45 00 00 28 ... with valid IP and TCP checksums
//
// Parsing never interprets what it cannot check: a fragment (IPv4 MF or offset,
// or any IPv6 fragment header) keeps its transport bytes as payload, since its
// L4 checksum covers the reassembled datagram; so does an unknown protocol.
// This is not the per-packet path: it allocates. The engine works on views.

public enum NetworkHeader: Hashable, Sendable {
    case v4(IPv4Header)
    case v6(IPv6Header)
}

public enum TransportHeader: Hashable, Sendable {
    case tcp(TCPHeader)
    case udp(UDPHeader)
    case icmpv4(ICMPv4Header)
    case icmpv6(ICMPv6Header)
    /// No transport header parsed: the payload is the L3 payload as is.
    case none

    var headerLength: Int {
        switch self {
        case .tcp(let header): return header.headerLength
        case .udp: return UDPDatagram.headerLength
        case .icmpv4: return ICMPv4Message.headerLength
        case .icmpv6: return ICMPv6Message.headerLength
        case .none: return 0
        }
    }

    var ipProtocol: IPProtocol? {
        switch self {
        case .tcp: return .tcp
        case .udp: return .udp
        case .icmpv4: return .icmp
        case .icmpv6: return .icmpv6
        case .none: return nil
        }
    }
}

public struct Packet: Hashable, Sendable {
    public var network: NetworkHeader
    public var transport: TransportHeader
    public var payload: [UInt8]

    public init(network: NetworkHeader, transport: TransportHeader, payload: [UInt8] = []) {
        self.network = network
        self.transport = transport
        self.payload = payload
    }

    // MARK: Parsing

    /// Parses a raw IP packet (IPv4 or IPv6 by the version nibble).
    public init(parsing bytes: [UInt8]) throws(WireError) {
        var copy = bytes
        self = try copy.withPacketBytes { (raw) throws(WireError) -> Packet in try Packet(parsing: raw) }
    }

    public init(parsing raw: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard raw.count > 0 else { throw .truncated(.ipv4, needed: IPv4Packet.minimumHeaderLength, available: 0) }
        switch raw[0] >> 4 {
        case 4:
            let ip = try IPv4Packet(validating: raw)
            let header = IPv4Header(ip)
            network = .v4(header)
            let body = ip.payload
            (transport, payload) = ip.isFragment
                ? (.none, Array(body))
                : try Self.parseTransport(ip.protocol, body, allowICMPv4: true)
        case 6:
            let ip = try IPv6Packet(validating: raw)
            let chain = try ip.extensionChain()
            network = .v6(IPv6Header(ip, chain: chain))
            let body = ip.bytes.suffix(from: chain.upperLayerOffset)
            (transport, payload) = chain.fragment != nil
                ? (.none, Array(body))
                : try Self.parseTransport(chain.upperLayerProtocol, body, allowICMPv4: false)
        case let version:
            throw .badVersion(version)
        }
    }

    private static func parseTransport(
        _ proto: IPProtocol, _ body: UnsafeMutableRawBufferPointer, allowICMPv4: Bool
    ) throws(WireError) -> (TransportHeader, [UInt8]) {
        switch proto {
        case .tcp:
            let segment = try TCPSegment(validating: body)
            return (.tcp(TCPHeader(segment)), Array(segment.payload))
        case .udp:
            let datagram = try UDPDatagram(validating: body)
            return (.udp(UDPHeader(datagram)), Array(datagram.payload))
        case .icmp where allowICMPv4:
            let message = try ICMPv4Message(validating: body)
            return (.icmpv4(ICMPv4Header(message)), Array(message.payload))
        case .icmpv6 where !allowICMPv4:
            let message = try ICMPv6Message(validating: body)
            return (.icmpv6(ICMPv6Header(message)), Array(message.payload))
        default:
            return (.none, Array(body))
        }
    }

    // MARK: Emitting

    /// Total bytes `emit` writes.
    public var encodedLength: Int {
        let l3: Int
        switch network {
        case .v4(let header): l3 = header.headerLength
        case .v6(let header): l3 = header.headerLength
        }
        return l3 + transport.headerLength + payload.count
    }

    /// The packet as bytes, with lengths and checksums computed.
    public func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: encodedLength)
        bytes.withPacketBytes { raw in _ = emit(into: raw) }
        return bytes
    }

    /// Writes the packet at the start of `buffer`; returns the bytes written,
    /// or nil (writing nothing) if the buffer is too small.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let total = encodedLength
        guard buffer.count >= total else { return nil }
        let l4Length = transport.headerLength + payload.count
        let l3Length: Int
        switch network {
        case .v4(var header):
            if let proto = transport.ipProtocol { header.protocol = proto }
            l3Length = header.headerLength
            header.emit(into: buffer, payloadLength: l4Length)
        case .v6(var header):
            if let proto = transport.ipProtocol { header.upperLayerProtocol = proto }
            l3Length = header.headerLength
            header.emit(into: buffer, payloadLength: l4Length)
        }
        let l4 = buffer.slice(l3Length..<total)
        let payloadStart = transport.headerLength
        for (i, byte) in payload.enumerated() { l4[payloadStart + i] = byte }
        let pseudo = pseudoHeaderSum(length: l4Length)
        switch transport {
        case .tcp(let header):
            header.emit(into: l4)
            if let segment = try? TCPSegment(validating: l4) { segment.updateChecksum(pseudoHeaderSum: pseudo) }
        case .udp(let header):
            header.emit(into: l4, payloadLength: payload.count)
            if !header.omitsChecksum, let datagram = try? UDPDatagram(validating: l4) {
                datagram.updateChecksum(pseudoHeaderSum: pseudo)
            }
        case .icmpv4(let header):
            header.emit(into: l4)
            if let message = try? ICMPv4Message(validating: l4) { message.updateChecksum() }
        case .icmpv6(let header):
            header.emit(into: l4)
            if let message = try? ICMPv6Message(validating: l4) { message.updateChecksum(pseudoHeaderSum: pseudo) }
        case .none:
            break
        }
        return total
    }

    /// The pseudo-header sum for an upper-layer length of `length`.
    func pseudoHeaderSum(length: Int) -> UInt16 {
        switch network {
        case .v4(let header):
            return Checksum.pseudoHeaderSum(source: header.source, destination: header.destination,
                                            protocol: transport.ipProtocol ?? header.protocol, length: length)
        case .v6(let header):
            return Checksum.pseudoHeaderSum(source: header.source, destination: header.destination,
                                            protocol: transport.ipProtocol ?? header.upperLayerProtocol, length: length)
        }
    }
}

// MARK: Factories

extension Packet {
    public static func tcp(
        _ source: IPv4Address, _ sourcePort: UInt16, _ destination: IPv4Address, _ destinationPort: UInt16,
        flags: TCPFlags, sequenceNumber: SeqNumber = SeqNumber(0), acknowledgmentNumber: SeqNumber = SeqNumber(0),
        window: UInt16 = 64240, options: [TCPOption] = [], payload: [UInt8] = [], ttl: UInt8 = 64
    ) -> Packet {
        Packet(network: .v4(IPv4Header(source: source, destination: destination, protocol: .tcp, ttl: ttl)),
               transport: .tcp(TCPHeader(sourcePort: sourcePort, destinationPort: destinationPort, flags: flags,
                                         sequenceNumber: sequenceNumber, acknowledgmentNumber: acknowledgmentNumber,
                                         window: window, options: options)),
               payload: payload)
    }

    public static func tcp(
        _ source: IPv6Address, _ sourcePort: UInt16, _ destination: IPv6Address, _ destinationPort: UInt16,
        flags: TCPFlags, sequenceNumber: SeqNumber = SeqNumber(0), acknowledgmentNumber: SeqNumber = SeqNumber(0),
        window: UInt16 = 64240, options: [TCPOption] = [], payload: [UInt8] = [], hopLimit: UInt8 = 64
    ) -> Packet {
        Packet(network: .v6(IPv6Header(source: source, destination: destination, upperLayerProtocol: .tcp,
                                       hopLimit: hopLimit)),
               transport: .tcp(TCPHeader(sourcePort: sourcePort, destinationPort: destinationPort, flags: flags,
                                         sequenceNumber: sequenceNumber, acknowledgmentNumber: acknowledgmentNumber,
                                         window: window, options: options)),
               payload: payload)
    }

    public static func udp(
        _ source: IPv4Address, _ sourcePort: UInt16, _ destination: IPv4Address, _ destinationPort: UInt16,
        payload: [UInt8] = [], ttl: UInt8 = 64
    ) -> Packet {
        Packet(network: .v4(IPv4Header(source: source, destination: destination, protocol: .udp, ttl: ttl)),
               transport: .udp(UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort)),
               payload: payload)
    }

    public static func udp(
        _ source: IPv6Address, _ sourcePort: UInt16, _ destination: IPv6Address, _ destinationPort: UInt16,
        payload: [UInt8] = [], hopLimit: UInt8 = 64
    ) -> Packet {
        Packet(network: .v6(IPv6Header(source: source, destination: destination, upperLayerProtocol: .udp,
                                       hopLimit: hopLimit)),
               transport: .udp(UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort)),
               payload: payload)
    }

    public static func icmp(
        _ source: IPv4Address, _ destination: IPv4Address, _ header: ICMPv4Header, payload: [UInt8] = [],
        ttl: UInt8 = 64
    ) -> Packet {
        Packet(network: .v4(IPv4Header(source: source, destination: destination, protocol: .icmp, ttl: ttl)),
               transport: .icmpv4(header), payload: payload)
    }

    public static func icmp(
        _ source: IPv6Address, _ destination: IPv6Address, _ header: ICMPv6Header, payload: [UInt8] = [],
        hopLimit: UInt8 = 64
    ) -> Packet {
        Packet(network: .v6(IPv6Header(source: source, destination: destination, upperLayerProtocol: .icmpv6,
                                       hopLimit: hopLimit)),
               transport: .icmpv6(header), payload: payload)
    }
}

// Parse once: everything later stages need from a packet's headers, read in
// one pass into a small value (`ParsedPacket`) with no allocation. Headers that
// cannot be read are a drop with a reason; an L4 checksum that does not verify
// is not (Linux's conntrack marks such a packet invalid and lets the rules
// decide), but is recorded.
//
// Example: a TCP SYN 10.0.1.2:40000 → 203.0.113.10:80 parses to family ipv4,
// l4Offset 20, tuple (10.0.1.2, 203.0.113.10, 40000, 80, tcp), flags [S].

import Conntrack
import Wire

public struct ParsedPacket: Sendable {
    public var family: AddressFamily
    /// Bytes of the IP packet (total length / 40 + payload length).
    public var length: Int
    /// Offset of the transport header (after IPv6 extension headers).
    public var l4Offset: Int
    public var l4Protocol: IPProtocol
    public var ttl: UInt8
    /// IPv4 DF; always true for IPv6, whose routers never fragment.
    public var dontFragment: Bool
    /// Any fragment (IPv4 MF/offset, or an IPv6 fragment header).
    public var isFragment: Bool
    /// A fragment other than the first: no transport header to read.
    public var isLaterFragment: Bool
    public var tracked: TrackedPacket
    /// For ICMP/ICMPv6: the message type; otherwise 0.
    public var icmpType: UInt8 = 0
    public var isICMPError = false
    /// The transport checksum was checked and failed.
    public var badChecksum = false

    public var tuple: ConnTuple { tracked.tuple }

    /// A blank value for `PacketParser.parse(_:virtio:into:)` to fill in.
    public static let empty: ParsedPacket = {
        ParsedPacket(family: .ipv4, length: 0, l4Offset: 0, l4Protocol: .tcp, ttl: 0, dontFragment: false,
                     isFragment: false, isLaterFragment: false,
                     tracked: TrackedPacket(tuple: ConnTuple(source: .any, destination: .any, sourcePort: 0,
                                                             destinationPort: 0, protocol: .tcp, family: .ipv4), length: 0))
    }()
}

enum PacketParser {
    static func parse(_ bytes: UnsafeMutableRawBufferPointer, virtio: VirtioNetHeader) throws(DropReason) -> ParsedPacket {
        var parsed = ParsedPacket.empty
        try parse(bytes, virtio: virtio, into: &parsed)
        return parsed
    }

    /// Fills `parsed` in place (the packet path's form: no copy of the value).
    static func parse(_ bytes: UnsafeMutableRawBufferPointer, virtio: VirtioNetHeader,
                      into parsed: inout ParsedPacket) throws(DropReason) {
        guard bytes.count > 0 else { throw .notIP }
        // A checksum that the sender left to offload (NEEDS_CSUM) or that the
        // device already verified (DATA_VALID) is not checked again.
        let verify = virtio.flags.rawValue & (VirtioNetHeader.Flags.needsChecksum.rawValue
                                              | VirtioNetHeader.Flags.dataValid.rawValue) == 0
        switch bytes[0] >> 4 {
        case 4: try parseIPv4(bytes, verify: verify, into: &parsed)
        case 6: try parseIPv6(bytes, verify: verify, into: &parsed)
        default: throw .notIP
        }
    }

    private static func parseIPv4(_ bytes: UnsafeMutableRawBufferPointer, verify: Bool,
                                  into parsed: inout ParsedPacket) throws(DropReason) {
        guard let ip = try? IPv4Packet(validating: bytes) else { throw .ipv4Malformed }
        guard ip.isHeaderChecksumValid else { throw .ipv4BadChecksum }
        parsed.family = .ipv4
        parsed.length = ip.totalLength
        parsed.l4Offset = ip.headerLength
        parsed.l4Protocol = ip.protocol
        parsed.ttl = ip.ttl
        parsed.dontFragment = ip.dontFragment
        parsed.isFragment = ip.isFragment
        parsed.isLaterFragment = ip.isLaterFragment
        parsed.tracked.tuple.source = ConnTuple.wide(ip.source)
        parsed.tracked.tuple.destination = ConnTuple.wide(ip.destination)
        parsed.tracked.tuple.protocol = ip.protocol
        parsed.tracked.tuple.family = .ipv4
        parsed.tracked.length = ip.totalLength
        if ip.isLaterFragment { return }
        let pseudo = verify && !ip.isFragment ? ip.pseudoHeaderSum(length: ip.payload.count) : nil
        try parseTransport(&parsed, ip.payload, pseudoHeaderSum: pseudo, checkICMPv4: verify && !ip.isFragment,
                           firstFragment: ip.isFragment)
    }

    private static func parseIPv6(_ bytes: UnsafeMutableRawBufferPointer, verify: Bool,
                                  into parsed: inout ParsedPacket) throws(DropReason) {
        guard let ip = try? IPv6Packet(validating: bytes) else { throw .ipv6Malformed }
        guard let chain = try? ip.extensionChain() else { throw .ipv6ExtensionHeaders }
        parsed.family = .ipv6
        parsed.length = ip.bytes.count
        parsed.l4Offset = chain.upperLayerOffset
        parsed.l4Protocol = chain.upperLayerProtocol
        parsed.ttl = ip.hopLimit
        parsed.dontFragment = true
        parsed.isFragment = chain.fragment != nil
        parsed.isLaterFragment = chain.isLaterFragment
        parsed.tracked.tuple.source = ip.source
        parsed.tracked.tuple.destination = ip.destination
        parsed.tracked.tuple.protocol = chain.upperLayerProtocol
        parsed.tracked.tuple.family = .ipv6
        parsed.tracked.length = ip.bytes.count
        if chain.isLaterFragment { return }
        let l4 = ip.bytes.suffix(from: chain.upperLayerOffset)
        let pseudo = verify && chain.fragment == nil
            ? ip.pseudoHeaderSum(protocol: chain.upperLayerProtocol, length: l4.count) : nil
        try parseTransport(&parsed, l4, pseudoHeaderSum: pseudo, checkICMPv4: false, firstFragment: chain.fragment != nil)
    }

    /// Ports (or ICMP identifier, type and code), TCP fields, the quoted
    /// packet of an ICMP error, and the checksum when `pseudoHeaderSum` is given.
    /// A first fragment too short for its transport header is dropped as
    /// such (RFC 1858 §3.2 for IPv4; RFC 7112 §5 for IPv6, whose first
    /// fragment must hold the whole header chain): its later fragments could
    /// otherwise supply ports or TCP flags no rule saw.
    private static func parseTransport(_ parsed: inout ParsedPacket, _ l4: UnsafeMutableRawBufferPointer,
                                       pseudoHeaderSum: UInt16?, checkICMPv4: Bool,
                                       firstFragment: Bool) throws(DropReason) {
        if firstFragment && parsed.l4Protocol == .udp {
            // The UDP length covers the whole datagram, not this fragment:
            // only the ports are read (the datagram is parsed whole later).
            let header = TransportHeaderView(l4, protocol: .udp)
            guard l4.count >= UDPDatagram.headerLength, let source = header.port(.source),
                  let destination = header.port(.destination) else { throw .fragmentTinyFirst }
            parsed.tracked.tuple.sourcePort = source
            parsed.tracked.tuple.destinationPort = destination
            return
        }
        do {
            try parseTransport(&parsed, l4, pseudoHeaderSum: pseudoHeaderSum, checkICMPv4: checkICMPv4)
        } catch {
            throw firstFragment && error == .transportMalformed ? .fragmentTinyFirst : error
        }
    }

    private static func parseTransport(_ parsed: inout ParsedPacket, _ l4: UnsafeMutableRawBufferPointer,
                                       pseudoHeaderSum: UInt16?, checkICMPv4: Bool) throws(DropReason) {
        switch parsed.l4Protocol {
        case .tcp:
            guard let tcp = try? TCPSegment(validating: l4) else { throw .transportMalformed }
            parsed.tracked.tuple.sourcePort = tcp.sourcePort
            parsed.tracked.tuple.destinationPort = tcp.destinationPort
            parsed.tracked.tcpFlags = tcp.flags
            parsed.tracked.tcpSequence = tcp.sequenceNumber
            parsed.tracked.tcpAcknowledgment = tcp.acknowledgmentNumber
            parsed.tracked.tcpSequenceLength = tcp.sequenceLength
            parsed.tracked.tcpWindow = tcp.window
            readWindowOptions(tcp, into: &parsed.tracked)
            if let pseudo = pseudoHeaderSum, !tcp.isChecksumValid(pseudoHeaderSum: pseudo) { parsed.badChecksum = true }
        case .udp:
            guard let udp = try? UDPDatagram(validating: l4) else { throw .transportMalformed }
            parsed.tracked.tuple.sourcePort = udp.sourcePort
            parsed.tracked.tuple.destinationPort = udp.destinationPort
            if let pseudo = pseudoHeaderSum {
                // UDP over IPv6 must carry a checksum (RFC 8200 §8.1).
                let missing = parsed.family == .ipv6 && udp.checksum == 0
                if missing || !udp.isChecksumValid(pseudoHeaderSum: pseudo) { parsed.badChecksum = true }
            }
        case .icmp where parsed.family == .ipv4:
            guard let icmp = try? ICMPv4Message(validating: l4) else { throw .transportMalformed }
            parsed.icmpType = icmp.type.rawValue
            parsed.isICMPError = icmp.isError
            if checkICMPv4 && !icmp.isChecksumValid { parsed.badChecksum = true }
            if icmp.isError {
                parsed.tracked.quotedTuple = quotedTuple(v4: icmp.payload)
            } else {
                parsed.tracked.tuple.sourcePort = icmp.identifier
                parsed.tracked.tuple.destinationPort = UInt16(icmp.type.rawValue) << 8 | UInt16(icmp.code)
            }
        case .icmpv6 where parsed.family == .ipv6:
            guard let icmp = try? ICMPv6Message(validating: l4) else { throw .transportMalformed }
            parsed.icmpType = icmp.type.rawValue
            parsed.isICMPError = icmp.isError
            if let pseudo = pseudoHeaderSum, !icmp.isChecksumValid(pseudoHeaderSum: pseudo) { parsed.badChecksum = true }
            if icmp.isError {
                parsed.tracked.quotedTuple = quotedTuple(v6: icmp.payload)
            } else {
                parsed.tracked.tuple.sourcePort = icmp.identifier
                parsed.tracked.tuple.destinationPort = UInt16(icmp.type.rawValue) << 8 | UInt16(icmp.code)
            }
        default:
            break
        }
    }

    /// What conntrack's window tracking needs from a segment's options, read
    /// as Linux's tcp_options and tcp_sack read them: the window scale shift
    /// (capped at 14, RFC 7323 §2.3) and SACK-permitted (used from a SYN), and
    /// the highest right edge of the first SACK option's blocks. The option
    /// area a bulk transfer carries on every segment, timestamps alone
    /// (NOP NOP TS, 12 bytes), is recognised by its first word and not walked
    /// (Linux's fast path in tcp_sack). The walk stops at End of Option List
    /// or a malformed option, as Linux's does; nothing here can fail.
    static func readWindowOptions(_ tcp: TCPSegment, into tracked: inout TrackedPacket) {
        tracked.tcpOptions = []
        tracked.tcpWindowScale = 0
        tracked.tcpSACKRight = SeqNumber(0)
        let area = tcp.optionBytes
        if area.count == 0 || (area.count == 12 && area.be32(0) == 0x0101_080a) { return }
        for slot in tcp.options {
            switch slot.kind {
            case 3 where slot.length == 3:
                tracked.tcpWindowScale = min(area[slot.offset + 2], 14)
                tracked.tcpOptions.insert(.windowScale)
            case 4 where slot.length == 2:
                tracked.tcpOptions.insert(.sackPermitted)
            case 5 where slot.length >= 10 && (slot.length - 2) % 8 == 0:
                // Only the first SACK option counts (tcp_sack returns after it).
                guard !tracked.tcpOptions.contains(.sack) else { continue }
                var block = 0
                while block < (slot.length - 2) / 8 {
                    let right = SeqNumber(area.be32(slot.offset + 2 + block * 8 + 4))
                    if !tracked.tcpOptions.contains(.sack) || right > tracked.tcpSACKRight { tracked.tcpSACKRight = right }
                    tracked.tcpOptions.insert(.sack)
                    block += 1
                }
            default:
                continue
            }
        }
    }

    /// The tuple of the datagram an ICMPv4 error quotes, as it was sent.
    static func quotedTuple(v4 body: UnsafeMutableRawBufferPointer) -> ConnTuple? {
        guard let inner = try? IPv4Packet(validatingQuoted: body), !inner.isLaterFragment else { return nil }
        var tuple = ConnTuple(source: ConnTuple.wide(inner.source), destination: ConnTuple.wide(inner.destination),
                              sourcePort: 0, destinationPort: 0, protocol: inner.protocol, family: .ipv4)
        guard fillQuotedPorts(&tuple, inner.payload) else { return nil }
        return tuple
    }

    static func quotedTuple(v6 body: UnsafeMutableRawBufferPointer) -> ConnTuple? {
        guard let inner = try? IPv6Packet(validatingQuoted: body),
              let chain = try? inner.extensionChain(), !chain.isLaterFragment else { return nil }
        var tuple = ConnTuple(source: inner.source, destination: inner.destination, sourcePort: 0,
                              destinationPort: 0, protocol: chain.upperLayerProtocol, family: .ipv6)
        guard fillQuotedPorts(&tuple, inner.bytes.suffix(from: chain.upperLayerOffset)) else { return nil }
        return tuple
    }

    /// RFC 792 quotes at least 8 bytes of the transport header: enough for
    /// ports, or for an ICMP query's type, code and identifier.
    private static func fillQuotedPorts(_ tuple: inout ConnTuple, _ l4: UnsafeMutableRawBufferPointer) -> Bool {
        let header = TransportHeaderView(l4, protocol: tuple.protocol)
        switch tuple.protocol {
        case .tcp, .udp, .sctp:
            guard let source = header.port(.source), let destination = header.port(.destination) else { return false }
            tuple.sourcePort = source
            tuple.destinationPort = destination
        case .icmp, .icmpv6:
            guard let typeAndCode = header.icmpTypeAndCode, let identifier = header.icmpIdentifier else { return false }
            tuple.destinationPort = typeAndCode
            tuple.sourcePort = identifier
        default:
            break
        }
        return true
    }
}

// One-line, tcpdump-style summaries of raw IP packets, for traces, the pcap
// tool and test failure messages. The wording follows tcpdump's default output
// (print-ip.c, print-tcp.c, print-icmp.c, print-icmp6.c) with absolute
// sequence numbers, as `tcpdump -S` prints them:
//
//   IP 10.0.1.2.40000 > 203.0.113.10.21: Flags [S], seq 1, win 64240, length 0
//   IP6 fd00:1::2.40000 > 2001:db8:1::10.21: Flags [P.], seq 1:15, ack 7, win 502, length 14
//   IP 10.0.1.2.5000 > 203.0.113.10.53: UDP, length 12
//   IP 203.0.113.10 > 10.0.1.2: ICMP 203.0.113.10 udp port 9 unreachable, length 36
//
// Never fails: what cannot be parsed is named, as tcpdump marks a cut-short
// header with "[|tcp]".

public enum PacketSummary {
    public static func line(for bytes: [UInt8]) -> String {
        var copy = bytes
        return copy.withPacketBytes { line(for: $0) }
    }

    public static func line(for raw: UnsafeMutableRawBufferPointer) -> String {
        guard raw.count > 0 else { return "empty packet" }
        switch raw[0] >> 4 {
        case 4:
            do {
                return ipv4(try IPv4Packet(validating: raw))
            } catch {
                return "IP [invalid: \(error)]"
            }
        case 6:
            do {
                return try ipv6(IPv6Packet(validating: raw))
            } catch {
                return "IP6 [invalid: \(error)]"
            }
        case let version:
            return "IP [invalid: \(WireError.badVersion(version))]"
        }
    }

    // MARK: IPv4

    static func ipv4(_ ip: IPv4Packet) -> String {
        let src = ip.source.description
        let dst = ip.destination.description
        var fragment = ""
        if ip.isFragment {
            // tcpdump's classic "(frag id:size@offset+)".
            fragment = " (frag \(ip.identification):\(ip.payload.count)@\(Int(ip.fragmentOffset) * 8)\(ip.moreFragments ? "+" : ""))"
        }
        if ip.isLaterFragment {
            return "IP \(src) > \(dst): ip-proto-\(ip.protocol.rawValue)\(fragment)"
        }
        let body = ip.payload
        switch ip.protocol {
        case .tcp: return "IP " + tcp(src, dst, body) + fragment
        case .udp: return "IP " + udp(src, dst, body) + fragment
        case .icmp: return "IP \(src) > \(dst): " + icmpv4(body) + fragment
        default: return "IP \(src) > \(dst): \(ip.protocol) \(body.count)\(fragment)"
        }
    }

    /// `prefix` names IPv6 extension headers, printed after the addresses.
    static func tcp(_ src: String, _ dst: String, _ body: UnsafeMutableRawBufferPointer, prefix: String = "") -> String {
        guard let segment = try? TCPSegment(validating: body) else {
            if body.count >= 4 {
                return "\(src).\(body.be16(0)) > \(dst).\(body.be16(2)): \(prefix)[|tcp]"
            }
            return "\(src) > \(dst): \(prefix)[|tcp]"
        }
        let flags = segment.flags
        var text = "\(src).\(segment.sourcePort) > \(dst).\(segment.destinationPort): \(prefix)Flags [\(flags)]"
        let length = segment.payload.count
        let seq = segment.sequenceNumber
        if length > 0 {
            text += ", seq \(seq):\(seq + Int32(truncatingIfNeeded: length))"
        } else if !flags.isDisjoint(with: [.syn, .fin, .rst]) {
            text += ", seq \(seq)"
        }
        if flags.contains(.ack) { text += ", ack \(segment.acknowledgmentNumber)" }
        text += ", win \(segment.window)"
        if flags.contains(.urg) { text += ", urg \(segment.urgentPointer)" }
        if segment.headerLength > TCPSegment.minimumHeaderLength {
            let options = TCPOption.decode(segment.optionBytes.readOnly)
            text += ", options [" + options.map(\.description).joined(separator: ",") + "]"
        }
        return text + ", length \(length)"
    }

    static func udp(_ src: String, _ dst: String, _ body: UnsafeMutableRawBufferPointer, prefix: String = "") -> String {
        guard let datagram = try? UDPDatagram(validating: body) else {
            if body.count >= 4 {
                return "\(src).\(body.be16(0)) > \(dst).\(body.be16(2)): \(prefix)[|udp]"
            }
            return "\(src) > \(dst): \(prefix)[|udp]"
        }
        return "\(src).\(datagram.sourcePort) > \(dst).\(datagram.destinationPort): \(prefix)UDP, length \(datagram.payload.count)"
    }

    static func icmpv4(_ body: UnsafeMutableRawBufferPointer) -> String {
        guard let message = try? ICMPv4Message(validating: body) else { return "[|icmp]" }
        let length = ", length \(message.bytes.count)"
        switch message.type {
        case .echoRequest, .echoReply:
            let kind = message.type == .echoRequest ? "request" : "reply"
            return "ICMP echo \(kind), id \(message.identifier), seq \(message.sequenceNumber)" + length
        case .destinationUnreachable:
            return "ICMP " + unreachable4(message) + length
        case .timeExceeded:
            return "ICMP time exceeded " + (message.code == 1 ? "fragment reassembly" : "in-transit") + length
        case .parameterProblem:
            return "ICMP parameter problem - octet \(message.pointer)" + length
        case .redirect:
            return "ICMP redirect" + length
        default:
            return "ICMP type-\(message.type.rawValue), code \(message.code)" + length
        }
    }

    private static func unreachable4(_ message: ICMPv4Message) -> String {
        guard let inner = try? message.quotedPacket() else { return "unreachable [|icmp]" }
        let dst = inner.destination.description
        switch message.code {
        case ICMPv4UnreachableCode.network: return "net \(dst) unreachable"
        case ICMPv4UnreachableCode.host: return "host \(dst) unreachable"
        case ICMPv4UnreachableCode.protocol: return "\(dst) protocol \(inner.protocol.rawValue) unreachable"
        case ICMPv4UnreachableCode.port:
            let proto = inner.protocol
            if (proto == .tcp || proto == .udp), inner.payload.count >= 4 {
                return "\(dst) \(proto) port \(inner.payload.be16(2)) unreachable"
            }
            return "\(dst) port unreachable"
        case ICMPv4UnreachableCode.fragmentationNeeded:
            return "\(dst) unreachable - need to frag (mtu \(message.nextHopMTU))"
        case ICMPv4UnreachableCode.administrativelyProhibited:
            return "host \(dst) unreachable - admin prohibited filter"
        default:
            return "\(dst) unreachable - code \(message.code)"
        }
    }

    // MARK: IPv6

    static func ipv6(_ ip: IPv6Packet) throws(WireError) -> String {
        let src = ip.source.description
        let dst = ip.destination.description
        let chain = try ip.extensionChain()
        // tcpdump names each extension header before the upper layer: "HBH", "frag (off|len)".
        var prefix = ""
        var kind = ip.nextHeader
        var offset = IPv6Packet.headerLength
        for _ in 0..<chain.count {
            switch kind {
            case .hopByHop: prefix += "HBH "
            case .ipv6Routing: prefix += "srcrt "
            case .ipv6DestinationOptions: prefix += "DSTOPT "
            case .authenticationHeader: prefix += "AH "
            case .ipv6Fragment:
                if let fragment = chain.fragment {
                    let dataLength = ip.bytes.count - offset - 8
                    prefix += "frag (\(Int(fragment.offset) * 8)|\(dataLength)) "
                }
            default: prefix += "\(kind) "
            }
            let length: Int
            switch kind {
            case .ipv6Fragment: length = 8
            case .authenticationHeader: length = (Int(ip.bytes.u8(offset + 1)) + 2) * 4
            default: length = (Int(ip.bytes.u8(offset + 1)) + 1) * 8
            }
            kind = IPProtocol(ip.bytes.u8(offset))
            offset += length
        }
        if chain.isLaterFragment {
            return "IP6 \(src) > \(dst): " + prefix.dropLast()
        }
        let body = ip.bytes.suffix(from: chain.upperLayerOffset)
        switch chain.upperLayerProtocol {
        case .tcp: return "IP6 " + tcp(src, dst, body, prefix: prefix)
        case .udp: return "IP6 " + udp(src, dst, body, prefix: prefix)
        case .icmpv6: return "IP6 \(src) > \(dst): " + prefix + icmpv6(body)
        case let proto: return "IP6 \(src) > \(dst): " + prefix + "\(proto) \(body.count)"
        }
    }

    static func icmpv6(_ body: UnsafeMutableRawBufferPointer) -> String {
        guard let message = try? ICMPv6Message(validating: body) else { return "[|icmp6]" }
        let length = ", length \(message.bytes.count)"
        switch message.type {
        case .echoRequest, .echoReply:
            let kind = message.type == .echoRequest ? "request" : "reply"
            return "ICMP6, echo \(kind), id \(message.identifier), seq \(message.sequenceNumber)" + length
        case .destinationUnreachable:
            return "ICMP6, destination unreachable, " + unreachable6(message) + length
        case .packetTooBig:
            return "ICMP6, packet too big, mtu \(message.mtu)" + length
        case .timeExceeded:
            var text = "ICMP6, time exceeded " + (message.code == 1 ? "fragment reassembly" : "in-transit")
            if let inner = try? message.quotedPacket() { text += " for \(inner.destination)" }
            return text + length
        case .parameterProblem:
            return "ICMP6, parameter problem, code \(message.code), pointer \(message.pointer)" + length
        case .multicastListenerReportV2:
            return "ICMP6, multicast listener report v2, \(message.bytes.be16(6)) group record(s)" + length
        case .neighborSolicitation:
            return "ICMP6, neighbor solicitation" + length
        case .neighborAdvertisement:
            return "ICMP6, neighbor advertisement" + length
        case .routerSolicitation:
            return "ICMP6, router solicitation" + length
        case .routerAdvertisement:
            return "ICMP6, router advertisement" + length
        case let type:
            return "ICMP6, \(type), code \(message.code)" + length
        }
    }

    private static func unreachable6(_ message: ICMPv6Message) -> String {
        guard let inner = try? message.quotedPacket() else { return "[|icmp6]" }
        let dst = inner.destination.description
        switch message.code {
        case ICMPv6UnreachableCode.noRoute: return "unreachable route \(dst)"
        case ICMPv6UnreachableCode.administrativelyProhibited: return "unreachable prohibited \(dst)"
        case ICMPv6UnreachableCode.beyondScope: return "beyond scope \(dst)"
        case ICMPv6UnreachableCode.address: return "unreachable address \(dst)"
        case ICMPv6UnreachableCode.port:
            if let chain = try? IPv6ExtensionChain(walking: inner.bytes, firstHeader: inner.nextHeader,
                                                   at: IPv6Packet.headerLength),
               chain.upperLayerProtocol == .tcp || chain.upperLayerProtocol == .udp,
               chain.upperLayerOffset + 4 <= inner.bytes.count {
                return "unreachable port, \(dst) \(chain.upperLayerProtocol) port \(inner.bytes.be16(chain.upperLayerOffset + 2))"
            }
            return "unreachable port, \(dst)"
        default: return "code \(message.code) \(dst)"
        }
    }
}

// Log lines in the kernel's format (net/netfilter/nf_log_syslog.c:
// nf_log_dump_packet_common, dump_mac_header, dump_ipv4_packet,
// dump_ipv6_packet, nf_log_dump_tcp_header, nf_log_dump_udp_header), e.g.
//
//   x: IN=lan0 OUT=wan0 MAC= SRC=10.0.1.2 DST=203.0.113.10 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=54321 DF PROTO=TCP SPT=40000 DPT=80 WINDOW=64240 RES=0x00 SYN URGP=0
//   IN=lan0 OUT= MAC= SRC=fd00:0001:0000:0000:0000:0000:0000:0002 DST=… LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=TCP …
//
// As the kernel does: `MAC=` follows whenever there is an input interface
// (empty on a TUN device, which has no link-layer header; on a TAP device
// the 14 header bytes, MAC=dst:src:type, 02:00:…:08:00); IPv6 addresses are
// printed in full (%pI6), not compressed; TOS is the IPv4 TOS byte masked
// with 0x1E and PREC with 0xE0, in upper-case hex; TCP flags come in the
// order CWR ECE URG ACK PSH RST SYN FIN; UDP's LEN is the UDP length; a
// packet mark other than 0 ends the line with MARK=0x…. The kernel ends each
// field with a space; the trailing one is left off here. Not printed (the
// RulePacket does not carry them): CE/MF/FRAG, IP and TCP options, the
// packet an ICMP error quotes ("[SRC=… ]"), MTU= of "fragmentation needed".

import Wire

extension Ruleset {
    func logLine(prefix: String, _ packet: RulePacket) -> String {
        func name(_ index: Int) -> String {
            index >= 0 && index < interfaceNames.count ? interfaceNames[index] : ""
        }
        var line = prefix
        line += "IN=\(name(packet.inputInterface)) OUT=\(name(packet.outputInterface)) "
        if packet.inputInterface >= 0 {
            // dump_mac_header: the input's hard_header_len bytes of MAC header,
            // each "%02x" and ':' between (destination, source, EtherType).
            line += "MAC="
            if packet.linkType != 0 {
                var header = [UInt8](repeating: 0, count: 14)
                for index in 0..<6 {
                    header[index] = UInt8(truncatingIfNeeded: packet.linkDestination >> UInt64(40 - 8 * index))
                    header[6 + index] = UInt8(truncatingIfNeeded: packet.linkSource >> UInt64(40 - 8 * index))
                }
                header[12] = UInt8(truncatingIfNeeded: packet.linkType >> 8)
                header[13] = UInt8(truncatingIfNeeded: packet.linkType)
                line += header.map { Ruleset.hex($0, upper: false) }.joined(separator: ":")
            }
            line += " "
        }
        if packet.family == .ipv4 {
            let source = packet.source.lowIPv4
            let destination = packet.destination.lowIPv4
            line += "SRC=\(source) DST=\(destination) LEN=\(packet.length) "
            line += "TOS=0x\(Ruleset.hex(packet.tos & 0x1E, upper: true)) PREC=0x\(Ruleset.hex(packet.tos & 0xE0, upper: true)) "
            line += "TTL=\(packet.ttl) ID=\(packet.ipIdentification) "
            if packet.dontFragment { line += "DF " }
        } else {
            line += "SRC=\(Ruleset.fullIPv6(packet.source)) DST=\(Ruleset.fullIPv6(packet.destination)) "
            line += "LEN=\(packet.length) TC=\(packet.tos) HOPLIMIT=\(packet.ttl) FLOWLBL=\(packet.flowLabel & 0xFFFFF) "
        }
        let headerLength = packet.family == .ipv4 ? 20 : 40
        switch packet.l4Protocol {
        case .tcp:
            line += "PROTO=TCP SPT=\(packet.sourcePort) DPT=\(packet.destinationPort) WINDOW=\(packet.tcpWindow) "
            line += "RES=0x\(Ruleset.hex(packet.tcpFlags.contains(.ns) ? 0x04 : 0x00, upper: false)) "
            let flags: [(TCPFlags, String)] = [(.cwr, "CWR"), (.ece, "ECE"), (.urg, "URG"), (.ack, "ACK"),
                                               (.psh, "PSH"), (.rst, "RST"), (.syn, "SYN"), (.fin, "FIN")]
            for (flag, text) in flags where packet.tcpFlags.contains(flag) { line += "\(text) " }
            line += "URGP=\(packet.tcpUrgentPointer) "
        case .udp:
            let length = packet.l4Length > 0 ? packet.l4Length : packet.length - headerLength
            line += "PROTO=UDP SPT=\(packet.sourcePort) DPT=\(packet.destinationPort) LEN=\(length) "
        case .icmp where packet.family == .ipv4:
            line += "PROTO=ICMP TYPE=\(packet.icmpType) CODE=\(packet.icmpCode) "
            if packet.icmpType == 0 || packet.icmpType == 8 {
                line += "ID=\(packet.icmpEchoIdentifier) SEQ=\(packet.icmpEchoSequence) "
            }
        case .icmpv6 where packet.family == .ipv6:
            line += "PROTO=ICMPv6 TYPE=\(packet.icmpType) CODE=\(packet.icmpCode) "
            if packet.icmpType == 128 || packet.icmpType == 129 {
                line += "ID=\(packet.icmpEchoIdentifier) SEQ=\(packet.icmpEchoSequence) "
            }
        default:
            line += "PROTO=\(packet.l4Protocol.rawValue) "
        }
        if packet.mark != 0 { line += "MARK=0x\(String(packet.mark, radix: 16)) " }
        line.removeLast()
        return line
    }

    static func hex(_ value: UInt8, upper: Bool) -> String {
        let text = String(value, radix: 16, uppercase: upper)
        return text.count == 1 ? "0" + text : text
    }

    /// %pI6: eight groups of four lower-case hex digits.
    static func fullIPv6(_ address: IPv6Address) -> String {
        (0..<8).map { index in
            let text = String(address.group(index), radix: 16)
            return String(repeating: "0", count: 4 - text.count) + text
        }.joined(separator: ":")
    }
}

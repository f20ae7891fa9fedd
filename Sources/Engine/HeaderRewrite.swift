// Rewriting addresses, ports and ICMP identifiers in place, with every
// checksum patched incrementally (RFC 1624): the IPv4 header checksum, and
// the TCP/UDP/ICMPv6 checksum, whose pseudo-header holds the addresses.
//
// Offloaded packets (virtio NEEDS_CSUM) carry only the pseudo-header sum in
// their L4 checksum field and the device adds the rest; there an address
// change moves the stored sum the other way (Checksum.updatePartial) and a
// port change needs nothing, since the device sums the ports itself. The
// same holds for a GSO super-packet: every segment is finished from it.
//
// Example: SNAT of 10.0.1.2:40000 → 203.0.113.1:40000 on a TCP segment
// changes bytes 12-15 of the IP header and patches the IP checksum and the
// TCP checksum with the same 32-bit difference.

import Conntrack
import Wire

enum HeaderRewrite {
    /// Sets the source address and port (or ICMP identifier) to `address`/`port`.
    static func setSource(_ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket, partial: Bool,
                          address: IPv6Address, port: UInt16) {
        rewrite(bytes, parsed, partial: partial, end: .source, address: address, port: port)
    }

    /// Sets the destination address and port to `address`/`port` (for ICMP
    /// queries the identifier is the source side's, so `port` is ignored).
    static func setDestination(_ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket, partial: Bool,
                               address: IPv6Address, port: UInt16) {
        rewrite(bytes, parsed, partial: partial, end: .destination, address: address, port: port)
    }

    private static func rewrite(_ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket, partial: Bool,
                                end: PacketEnd, address: IPv6Address, port: UInt16) {
        // The transport header, if this packet has one whose checksum we must keep right.
        let transport = parsed.isLaterFragment ? nil
            : TransportHeaderView(bytes.suffix(from: parsed.l4Offset), protocol: parsed.l4Protocol)
        // UDP over IPv4 may say "no checksum" (0): it stays 0.
        var checksum = transport?.checksumField
        if let field = checksum, field.value == 0, parsed.family == .ipv4, parsed.l4Protocol == .udp { checksum = nil }
        let pseudoCovered = checksum != nil && parsed.l4Protocol != .icmp   // ICMPv4 has no pseudo-header
        // Address.
        switch parsed.family {
        case .ipv4:
            let ip = IPv4Packet(parsed: bytes)
            let old = ip[end], new = address.lowIPv4
            guard old != new else { break }
            ip[end] = new
            ip.headerChecksum = Checksum.update(ip.headerChecksum, old: old, new: new)
            if pseudoCovered, let checksum {
                checksum.value = partial ? Checksum.updatePartial(checksum.value, old: old, new: new)
                                         : nonZeroUDP(Checksum.update(checksum.value, old: old, new: new), parsed)
            }
        case .ipv6:
            let ip = IPv6Packet(parsed: bytes)
            let old = ip[end]
            guard old != address else { break }
            ip[end] = address
            if pseudoCovered, let checksum {
                checksum.value = partial ? Checksum.updatePartial(checksum.value, old: old, new: address)
                                         : nonZeroUDP(Checksum.update(checksum.value, old: old, new: address), parsed)
            }
        }
        // Port, or the ICMP query identifier (only on the source side).
        guard let transport else { return }
        let old: UInt16
        switch parsed.l4Protocol {
        case .tcp, .udp:
            guard let current = transport.port(end), current != port else { return }
            old = current
            transport.setPort(end, port)
        case .icmp, .icmpv6:
            guard end == .source, !parsed.isICMPError, let current = transport.icmpIdentifier, current != port else { return }
            old = current
            transport.icmpIdentifier = port
        default:
            return
        }
        // A partial checksum is finished over the data later: nothing to patch
        // (ICMP is never offloaded, so its checksum is always whole).
        if let checksum, !(partial && parsed.l4Protocol != .icmp && parsed.l4Protocol != .icmpv6) {
            checksum.value = nonZeroUDP(Checksum.update(checksum.value, old: old, new: port), parsed)
        }
    }

    /// UDP sends a computed 0 as 0xffff (RFC 768), since 0 means "none".
    private static func nonZeroUDP(_ checksum: UInt16, _ parsed: ParsedPacket) -> UInt16 {
        parsed.l4Protocol == .udp && checksum == 0 ? 0xffff : checksum
    }
}

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
        rewrite(bytes, parsed, partial: partial, addressOffset: parsed.family == .ipv4 ? 12 : 8,
                address: address, portOffset: 0, port: port)
    }

    /// Sets the destination address and port to `address`/`port` (for ICMP
    /// queries the identifier is the source side's, so `port` is ignored).
    static func setDestination(_ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket, partial: Bool,
                               address: IPv6Address, port: UInt16) {
        rewrite(bytes, parsed, partial: partial, addressOffset: parsed.family == .ipv4 ? 16 : 24,
                address: address, portOffset: 2, port: port)
    }

    private static func rewrite(_ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket, partial: Bool,
                                addressOffset: Int, address: IPv6Address, portOffset: Int, port: UInt16) {
        let l4 = parsed.l4Offset
        // Where the transport checksum sits, if this packet has one we must keep right.
        var checksumAt: Int? = nil
        var pseudoCovers = true
        if !parsed.isLaterFragment {
            switch parsed.l4Protocol {
            case .tcp where bytes.count >= l4 + 18: checksumAt = l4 + 16
            case .udp where bytes.count >= l4 + 8:
                // UDP over IPv4 may say "no checksum" (0): it stays 0.
                if !(parsed.family == .ipv4 && bytes.be16(l4 + 6) == 0) { checksumAt = l4 + 6 }
            case .icmp where bytes.count >= l4 + 8:
                checksumAt = l4 + 2
                pseudoCovers = false   // ICMPv4 has no pseudo-header
            case .icmpv6 where bytes.count >= l4 + 8: checksumAt = l4 + 2
            default: break
            }
        }
        // Address.
        switch parsed.family {
        case .ipv4:
            let old = IPv4Address(bytes.be32(addressOffset))
            let new = address.lowIPv4
            guard old != new else { break }
            bytes.setBE32(new.value, at: addressOffset)
            bytes.setBE16(Checksum.update(bytes.be16(10), old: old, new: new), at: 10)
            if let at = checksumAt, pseudoCovers {
                let value = partial ? Checksum.updatePartial(bytes.be16(at), old: old, new: new)
                                    : nonZeroUDP(Checksum.update(bytes.be16(at), old: old, new: new), parsed)
                bytes.setBE16(value, at: at)
            }
        case .ipv6:
            let old = IPv6Address(loadingFrom: bytes.readOnly, at: addressOffset)
            guard old != address else { break }
            address.store(to: bytes, at: addressOffset)
            if let at = checksumAt, pseudoCovers {
                let value = partial ? Checksum.updatePartial(bytes.be16(at), old: old, new: address)
                                    : nonZeroUDP(Checksum.update(bytes.be16(at), old: old, new: address), parsed)
                bytes.setBE16(value, at: at)
            }
        }
        // Port, or the ICMP query identifier (only on the source side).
        guard !parsed.isLaterFragment else { return }
        let at: Int
        switch parsed.l4Protocol {
        case .tcp, .udp:
            at = l4 + portOffset
        case .icmp, .icmpv6:
            guard portOffset == 0, !parsed.isICMPError else { return }
            at = l4 + 4
        default:
            return
        }
        guard bytes.count >= at + 2 else { return }
        let old = bytes.be16(at)
        guard old != port else { return }
        bytes.setBE16(port, at: at)
        // A partial checksum is finished over the data later: nothing to patch
        // (ICMP is never offloaded, so its checksum is always whole).
        if let sum = checksumAt, !(partial && parsed.l4Protocol != .icmp && parsed.l4Protocol != .icmpv6) {
            bytes.setBE16(nonZeroUDP(Checksum.update(bytes.be16(sum), old: old, new: port), parsed), at: sum)
        }
    }

    /// UDP sends a computed 0 as 0xffff (RFC 768), since 0 means "none".
    private static func nonZeroUDP(_ checksum: UInt16, _ parsed: ParsedPacket) -> UInt16 {
        parsed.l4Protocol == .udp && checksum == 0 ? 0xffff : checksum
    }
}

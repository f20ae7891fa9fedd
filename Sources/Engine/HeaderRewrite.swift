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
                if !(parsed.family == .ipv4 && load16(bytes, l4 + 6) == 0) { checksumAt = l4 + 6 }
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
            let old = IPv4Address(load32(bytes, addressOffset))
            let new = IPv4Address(UInt32(truncatingIfNeeded: address.low))
            guard old != new else { break }
            store32(bytes, addressOffset, new.value)
            store16(bytes, 10, Checksum.update(load16(bytes, 10), old: old, new: new))
            if let at = checksumAt, pseudoCovers {
                store16(bytes, at, partial ? Checksum.updatePartial(load16(bytes, at), old: old, new: new)
                                           : nonZeroUDP(Checksum.update(load16(bytes, at), old: old, new: new), parsed))
            }
        case .ipv6:
            let old = IPv6Address(loadingFrom: bytes.readOnly, at: addressOffset)
            guard old != address else { break }
            address.store(to: bytes, at: addressOffset)
            if let at = checksumAt, pseudoCovers {
                store16(bytes, at, partial ? Checksum.updatePartial(load16(bytes, at), old: old, new: address)
                                           : nonZeroUDP(Checksum.update(load16(bytes, at), old: old, new: address), parsed))
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
        let old = load16(bytes, at)
        guard old != port else { return }
        store16(bytes, at, port)
        // A partial checksum is finished over the data later: nothing to patch
        // (ICMP is never offloaded, so its checksum is always whole).
        if let sum = checksumAt, !(partial && parsed.l4Protocol != .icmp && parsed.l4Protocol != .icmpv6) {
            store16(bytes, sum, nonZeroUDP(Checksum.update(load16(bytes, sum), old: old, new: port), parsed))
        }
    }

    /// UDP sends a computed 0 as 0xffff (RFC 768), since 0 means "none".
    private static func nonZeroUDP(_ checksum: UInt16, _ parsed: ParsedPacket) -> UInt16 {
        parsed.l4Protocol == .udp && checksum == 0 ? 0xffff : checksum
    }

    @inline(__always) static func load16(_ b: UnsafeMutableRawBufferPointer, _ i: Int) -> UInt16 {
        UInt16(b[i]) << 8 | UInt16(b[i + 1])
    }
    @inline(__always) static func store16(_ b: UnsafeMutableRawBufferPointer, _ i: Int, _ v: UInt16) {
        b[i] = UInt8(v >> 8)
        b[i + 1] = UInt8(v & 0xff)
    }
    @inline(__always) static func load32(_ b: UnsafeMutableRawBufferPointer, _ i: Int) -> UInt32 {
        UInt32(load16(b, i)) << 16 | UInt32(load16(b, i + 2))
    }
    @inline(__always) static func store32(_ b: UnsafeMutableRawBufferPointer, _ i: Int, _ v: UInt32) {
        store16(b, i, UInt16(v >> 16))
        store16(b, i + 2, UInt16(v & 0xffff))
    }
}

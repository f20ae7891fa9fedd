// IPv4 fragmentation (RFC 791 §3.2, "Fragmentation"; Linux ip_do_fragment):
// a datagram without DF that is larger than the egress MTU leaves as
// fragments, each at most MTU bytes, their data a multiple of 8 bytes except
// the last. The first fragment keeps every option; later ones keep only the
// options whose "copied" flag (bit 0x80 of the type) is set.
//
// Example: 3000 bytes (20 header + 2980 data) through MTU 1500 become
// 1500 (offset 0, MF), 1500 (offset 1480, MF) and 40 (offset 2960).
//
// IPv6 routers never fragment (RFC 8200 §5); only a datagram that arrived
// in fragments and was reassembled here leaves in fragments again, as
// Linux's ip6_fragment does for conntrack's reassembled skbs: each piece is
// the unfragmentable part (RFC 8200 §4.5), a fragment header with the
// datagram's own identification, and at most `size` bytes in all.

import Conntrack
import Wire

extension Engine {
    func fragment(_ packet: inout PacketBuffer, _ parsed: ParsedPacket, mtu: Int, to interface: InterfaceID) -> Verdict {
        let bytes = packet.bytes
        // A partial checksum must be finished before the payload is cut up.
        if packet.virtio.needsChecksum {
            Checksum.completePartial(bytes, start: Int(packet.virtio.checksumStart), offset: Int(packet.virtio.checksumOffset))
        }
        guard let ip = try? IPv4Packet(validating: bytes) else { return drop(.ipv4Malformed) }
        let headerLength = ip.headerLength
        let laterOptions = copiedOptions(ip.options)
        let laterHeaderLength = IPv4Packet.minimumHeaderLength + ((laterOptions.count + 3) & ~3)
        let payload = ip.payload
        let originalOffset = Int(ip.fragmentOffset) * 8
        let originalMoreFragments = ip.moreFragments
        var sent = 0
        var first = true
        while sent < payload.count {
            let header = first ? headerLength : laterHeaderLength
            let room = (mtu - header) & ~7
            guard room > 0 else { return drop(.packetTooBig) }
            let chunk = min(room, payload.count - sent)
            let last = sent + chunk == payload.count
            guard let slot = outbox.reserve() else { return drop(.outboxFull) }
            let out = outbox.buffers[slot].storage.suffix(from: PacketBuffer.headroom)
            // Header: the original's fixed part, then options.
            let fixed = IPv4Packet.minimumHeaderLength
            out.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<fixed]))
            if first {
                out.slice(fixed..<headerLength).copyMemory(from: ip.options.readOnly)
            } else {
                for i in fixed..<header { out[i] = i - fixed < laterOptions.count ? laterOptions[i - fixed] : 0 }
            }
            UnsafeMutableRawBufferPointer(rebasing: out[header..<header + chunk])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[sent..<sent + chunk]))
            let total = header + chunk
            let fragment = IPv4Packet(parsed: out.slice(0..<total))
            fragment.headerLength = header
            fragment.totalLength = total
            // The offset in 8-byte units; MF on all but the last piece (and on
            // that too if the original was itself a fragment with more to come).
            let offsetUnits = UInt16((originalOffset + sent) / 8) & 0x1fff
            fragment.flagsAndFragmentOffset = offsetUnits | (!last || originalMoreFragments ? 0x2000 : 0)
            fragment.updateHeaderChecksum()
            outbox.buffers[slot].length = total
            outbox.commit(slot, interface: interface)
            if tracing { traceGenerated(slot, interface: interface, origin: .generated) }
            sent += chunk
            first = false
        }
        statistics.forwarded &+= 1
        return .consumed
    }

    /// The options a later fragment carries (RFC 791: copied flag set).
    private func copiedOptions(_ options: UnsafeMutableRawBufferPointer) -> [UInt8] {
        var result: [UInt8] = []
        var i = 0
        while i < options.count {
            let type = options[i]
            if type == 0 { break }
            if type == 1 { i += 1; continue }
            guard i + 1 < options.count, options[i + 1] >= 2, i + Int(options[i + 1]) <= options.count else { break }
            let length = Int(options[i + 1])
            if type & 0x80 != 0 { result += options[i..<i + length] }
            i += length
        }
        return result
    }

    /// IPv6: the reassembled datagram in `packet` as fragments of at most
    /// `size` bytes, each data a multiple of 8 bytes but the last.
    func fragmentIPv6(_ packet: inout PacketBuffer, _ facts: ReassembledFacts, size: Int,
                      to interface: InterfaceID) -> Verdict {
        let bytes = packet.bytes
        let prefix = facts.unfragmentableLength
        guard prefix >= IPv6Packet.headerLength, prefix < bytes.count,
              facts.nextHeaderField < prefix else { return drop(.ipv6Malformed) }
        let nextHeader = facts.nextHeader
        let header = prefix + IPv6FragmentHeader.length
        let room = (size - header) & ~7
        guard room > 0 else { return drop(.packetTooBig) }
        let payload = bytes.count - prefix
        var sent = 0
        while sent < payload {
            let chunk = min(room, payload - sent)
            let last = sent + chunk == payload
            guard let slot = outbox.reserve() else { return drop(.outboxFull) }
            let out = outbox.buffers[slot].storage.suffix(from: PacketBuffer.headroom)
            out.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<prefix]))
            let fragmentHeader = IPv6FragmentHeader(offset: UInt16(truncatingIfNeeded: sent / 8), moreFragments: !last,
                                                    identification: facts.identification)
            out.slice(prefix..<header).copyBytes(from: fragmentHeader.encoded(nextHeader: nextHeader))
            UnsafeMutableRawBufferPointer(rebasing: out[header..<header + chunk])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[prefix + sent..<prefix + sent + chunk]))
            let piece = IPv6Packet(parsed: out.slice(0..<header + chunk))
            piece.payloadLength = header + chunk - IPv6Packet.headerLength
            piece.setNextHeader(.ipv6Fragment, at: facts.nextHeaderField)
            outbox.buffers[slot].length = header + chunk
            outbox.commit(slot, interface: interface)
            if tracing { traceGenerated(slot, interface: interface, origin: .generated) }
            sent += chunk
        }
        statistics.forwarded &+= 1
        return .consumed
    }
}

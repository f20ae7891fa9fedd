// The pipeline's reassembly step, between parse and prerouting conntrack
// (where Linux's nf_defrag_ipv4 and nf_conntrack_reasm hook, at priority
// -400): a fragment is held (the verdict is `.consumed`: nothing to send for
// it, like Linux's NF_STOLEN) or dropped with a reason, until the one that
// completes its datagram; that datagram is written into the arriving
// packet's buffer and parsed again, and the rest of the pipeline sees it as
// if it had arrived whole. What output refragmentation needs travels in
// PacketContext.reassembled.
//
// Only unfragmented traffic pays nothing here: the pipeline calls this only
// for a packet whose headers say it is a fragment.
//
// Example: the third of three IPv4 fragments of a 4,096-byte UDP datagram
// returns nil with `packet` now the 4,116-byte datagram (MF and offset
// clear) and `ctx.reassembled.maxFragmentSize` 1,500.

import Conntrack
import Wire

/// What output refragmentation needs to know about a reassembled datagram.
public struct ReassembledFacts: Sendable {
    /// The largest fragment it arrived in (Linux's frag_max_size): it
    /// leaves in pieces no bigger than that.
    var maxFragmentSize: Int
    /// IPv6: the fragment header's identification, kept for the pieces,
    /// and the unfragmentable part's length (RFC 8200 §4.5).
    var identification: UInt32
    var unfragmentableLength: Int
    var nextHeaderField: Int
    /// What the fragment header named next: the fragmentable part's first header.
    var nextHeader: IPProtocol
}

extension Engine {
    /// Returns nil when the pipeline continues with `packet` (a whole
    /// datagram now, or an IPv6 atomic fragment, RFC 6946), otherwise the
    /// verdict for this fragment.
    func reassemble(_ packet: inout PacketBuffer, _ ctx: inout PacketContext) -> Verdict? {
        guard let facts = fragmentFacts(packet.bytes, ctx.parsed) else { return nil }
        let outcome = reassembly.add(facts, whole: UnsafeRawBufferPointer(packet.bytes), input: ctx.input,
                                     now: ctx.now) { evicted in
            statistics.drops[DropReason.fragmentMemory.rawValue] &+= UInt64(evicted.pieces.count)
        }
        switch outcome {
        case .held:
            return .consumed
        case .dropped(let reason, let others):
            statistics.drops[reason.rawValue] &+= UInt64(others)
            return drop(reason)
        case .complete(let queue):
            guard let header = queue.header, let first = queue.firstFacts else { return drop(.fragmentBadLength) }
            let total = header.count + (queue.totalData ?? 0)
            guard total <= packet.storage.count - PacketBuffer.headroom else {
                statistics.drops[DropReason.fragmentTooLong.rawValue] &+= UInt64(queue.pieces.count - 1)
                return drop(.fragmentTooLong)
            }
            writeDatagram(queue, header: header, first: first, total: total, into: &packet)
            do {
                try PacketParser.parse(packet.bytes, virtio: packet.virtio, into: &ctx.parsed)
            } catch {
                return drop(error)
            }
            ctx.reassembled = ReassembledFacts(maxFragmentSize: queue.maxSize, identification: first.key.identification,
                                               unfragmentableLength: first.headerLength,
                                               nextHeaderField: first.nextHeaderField, nextHeader: first.nextHeader)
            return nil
        }
    }

    /// The key, offset and lengths of a fragment; nil for an IPv6 atomic
    /// fragment (offset 0, M clear: RFC 6946 §4, processed as a whole packet).
    private func fragmentFacts(_ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket) -> FragmentFacts? {
        switch parsed.family {
        case .ipv4:
            let ip = IPv4Packet(parsed: bytes)
            return FragmentFacts(
                key: FragmentKey(source: parsed.tuple.source, destination: parsed.tuple.destination,
                                 identification: UInt32(truncatingIfNeeded: ip.identification), protocolNumber: ip.protocol.rawValue,
                                 family: .ipv4),
                offset: Int(ip.fragmentOffset) * 8, moreFragments: ip.moreFragments, dataStart: ip.headerLength,
                headerLength: ip.headerLength, dontFragment: ip.dontFragment, nextHeader: ip.protocol, nextHeaderField: 9)
        case .ipv6:
            guard let chain = try? IPv6Packet(parsed: bytes).extensionChain(), let fragment = chain.fragment,
                  let at = chain.fragmentHeaderOffset, let field = chain.fragmentNextHeaderFieldOffset,
                  let next = chain.fragmentNextHeader,
                  fragment.offset != 0 || fragment.moreFragments else { return nil }
            return FragmentFacts(
                key: FragmentKey(source: parsed.tuple.source, destination: parsed.tuple.destination,
                                 identification: fragment.identification, protocolNumber: 0, family: .ipv6),
                offset: Int(fragment.offset) * 8, moreFragments: fragment.moreFragments,
                dataStart: at + IPv6FragmentHeader.length, headerLength: at, dontFragment: true,
                nextHeader: next, nextHeaderField: field)
        }
    }

    /// The first fragment's header, then every piece in order; lengths set,
    /// fragment fields cleared (ip_frag_reasm, ip6_frag_reasm). IPv4 keeps
    /// DF only when the largest fragment had it (Linux: max_df_size ==
    /// max_size); IPv6 loses the fragment header.
    private func writeDatagram(_ queue: FragmentQueue, header: [UInt8], first: FragmentFacts, total: Int,
                               into packet: inout PacketBuffer) {
        packet.start = PacketBuffer.headroom
        packet.length = total
        packet.virtio = VirtioNetHeader()
        let out = packet.bytes
        out.copyBytes(from: header)
        for piece in queue.pieces {
            UnsafeMutableRawBufferPointer(rebasing: out[header.count + piece.offset..<header.count + piece.end])
                .copyBytes(from: piece.data)
        }
        switch first.key.family {
        case .ipv4:
            let ip = IPv4Packet(parsed: out)
            ip.totalLength = total
            ip.flagsAndFragmentOffset = queue.maxDFSize == queue.maxSize ? 0x4000 : 0
            ip.updateHeaderChecksum()
        case .ipv6:
            let ip = IPv6Packet(parsed: out)
            ip.payloadLength = total - IPv6Packet.headerLength
            ip.setNextHeader(first.nextHeader, at: first.nextHeaderField)
        }
    }

    /// Queues whose time is up: counted, and for those whose first fragment
    /// came, ICMP "fragment reassembly time exceeded" (code 1) quoting it
    /// (ip_expire, ip6frag_expire_frag_queue: INET_FRAG_FIRST_IN).
    func expireFragments(now: Timestamp) {
        reassembly.expire(now: now) { queue in
            statistics.drops[DropReason.fragmentTimeout.rawValue] &+= UInt64(queue.pieces.count)
            guard let header = queue.header, let facts = queue.firstFacts, let first = queue.pieces.first,
                  first.offset == 0 else { return }
            var quoted = header
            if facts.key.family == .ipv6 {
                // Quote the fragment as it came: its fragment header back in place.
                let fragmentHeader = IPv6FragmentHeader(offset: 0, moreFragments: true,
                                                        identification: facts.key.identification)
                quoted += fragmentHeader.encoded(nextHeader: facts.nextHeader)
            }
            quoted += first.data
            quoted.withUnsafeMutableBytes { raw in
                guard let parsed = try? PacketParser.parse(raw, virtio: VirtioNetHeader()) else { return }
                sendICMPError(.reassemblyTimeExceeded, about: raw, parsed: parsed, now: now)
            }
        }
    }
}

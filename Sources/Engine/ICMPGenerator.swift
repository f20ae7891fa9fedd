// The packets the firewall makes about other packets: ICMP errors (time
// exceeded, fragmentation needed / packet too big, unreachable), echo replies
// to pings of its own addresses, and TCP resets for its own closed ports.
// Each is written straight into an outbox buffer.
//
// Rules for errors, as Linux's icmp_send and RFC 1812 §4.3.2.7 / RFC 4443
// §2.4 (e): never about an ICMP error, a later fragment, a packet to a
// multicast or broadcast address, or from an address that names no single
// host; at most 1000 per second with a burst of 50 (net.ipv4.icmp_msgs_per_sec,
// icmp_msgs_burst), except "fragmentation needed" and "packet too big", which
// path MTU discovery needs and Linux never limits (icmpv4_mask_allow,
// icmpv6_mask_allow). The quoted packet is cut so the error fits in 576 bytes
// (IPv4, RFC 1812 §4.3.2.3) or 1280 bytes (IPv6, RFC 4443 §2.4 (c)).
//
// What the firewall makes about a packet of a translated connection goes
// through that connection's NAT, as Linux's nf_nat_icmp_reply_translation
// and nf_send_reset's attached conntrack do: the quoted packet is put back as
// its sender wrote it (so the sender's stack can match it to its socket: a
// PMTU error about a masqueraded download must quote the server's own
// packet), and when NAT moved the packet's destination (DNAT, redirect), the
// error or reset leaves from the address the sender talked to.

import Conntrack
import Wire

/// A token bucket: `rate` tokens per second, at most `burst` saved up.
struct RateLimiter: Sendable {
    var tokens: UInt64
    var last: Timestamp = 0
    let burst: UInt64
    let nanosecondsPerToken: UInt64

    init(perSecond rate: UInt64, burst: UInt64) {
        self.burst = burst
        tokens = burst
        nanosecondsPerToken = nanosecondsPerSecond / max(rate, 1)
    }

    mutating func allow(now: Timestamp) -> Bool {
        if now > last {
            let earned = (now - last) / nanosecondsPerToken
            if earned > 0 {
                tokens = min(burst, tokens + earned)
                last += earned * nanosecondsPerToken
            }
        }
        if last == 0 || now < last { last = now }
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }
}

/// Which ICMP error to send, in family-neutral terms.
enum ICMPError {
    case timeExceeded
    /// Code 1, "fragment reassembly time exceeded" (RFC 792, RFC 4443 §3.3).
    case reassemblyTimeExceeded
    case fragmentationNeeded(mtu: Int)
    case networkUnreachable
    case portUnreachable
    /// The next hop's address could not be resolved (ARP or ND failed):
    /// ICMP host unreachable (code 1), ICMPv6 address unreachable (code 3),
    /// as ipv4_link_failure and ndisc_error_report send.
    case hostUnreachable
    /// Any destination-unreachable type/code a `reject with icmp ...` names.
    case raw(type: UInt8, code: UInt8)

    func v4Header() -> ICMPv4Header {
        switch self {
        case .timeExceeded: return .timeExceeded(code: 0)
        case .reassemblyTimeExceeded: return .timeExceeded(code: 1)
        case .fragmentationNeeded(let mtu): return .fragmentationNeeded(nextHopMTU: UInt16(clamping: mtu))
        case .networkUnreachable: return .destinationUnreachable(code: ICMPv4UnreachableCode.network)
        case .portUnreachable: return .destinationUnreachable(code: ICMPv4UnreachableCode.port)
        case .hostUnreachable: return .destinationUnreachable(code: ICMPv4UnreachableCode.host)
        case .raw(let type, let code): return ICMPv4Header(type: ICMPv4Type(type), code: code)
        }
    }

    func v6Header() -> ICMPv6Header {
        switch self {
        case .timeExceeded: return .timeExceeded(code: 0)
        case .reassemblyTimeExceeded: return .timeExceeded(code: 1)
        case .fragmentationNeeded(let mtu): return .packetTooBig(mtu: UInt32(clamping: mtu))
        case .networkUnreachable: return .destinationUnreachable(code: ICMPv6UnreachableCode.noRoute)
        case .portUnreachable: return .destinationUnreachable(code: ICMPv6UnreachableCode.port)
        case .hostUnreachable: return .destinationUnreachable(code: ICMPv6UnreachableCode.address)
        case .raw(let type, let code): return ICMPv6Header(type: ICMPv6Type(type), code: code)
        }
    }
}

extension Engine {
    /// Sends `error` about the packet in `offending` back to its source, from
    /// the firewall's address toward it (Linux's icmp_send picks it by
    /// routing), or, when NAT moved the packet's destination (DNAT,
    /// redirect), from the address its sender talked to: Linux's
    /// nf_nat_icmp_reply_translation sets the outer source from the
    /// connection's original tuple at postrouting.
    func sendICMPError(_ error: ICMPError, about offending: UnsafeMutableRawBufferPointer, parsed: ParsedPacket,
                       now: Timestamp) {
        guard !parsed.isICMPError, !parsed.isLaterFragment,
              !isMulticastOrBroadcast(parsed.tuple.destination, parsed.family),
              isUnicastSource(parsed.tuple.source, parsed.family) else { return }
        if case .fragmentationNeeded = error {
            // Never limited: PMTU discovery depends on it (icmpv4_mask_allow).
        } else if !icmpLimiter.allow(now: now) {
            count(.icmpRateLimited)
            return
        }
        let sent = senderView(parsed, now: now)
        guard let (interface, routerAddress) = routeBack(to: sent.source, family: parsed.family) else { return }
        let source = sent.destination != parsed.tuple.destination ? sent.destination : routerAddress
        guard let slot = outbox.reserve() else {
            count(.outboxFull)
            return
        }
        let buffer = outbox.buffers[slot].storage.suffix(from: PacketBuffer.headroom)
        let length: Int
        switch parsed.family {
        case .ipv4:
            let quoted = min(offending.count, 576 - IPv4Packet.minimumHeaderLength - ICMPv4Message.headerLength)
            var ip = IPv4Header(source: source.lowIPv4,
                                destination: sent.source.lowIPv4,
                                protocol: .icmp)
            ip.dontFragment = false
            ip.identification = nextIdentification()
            let l4Length = ICMPv4Message.headerLength + quoted
            ip.emit(into: buffer, payloadLength: l4Length)
            let l4 = buffer.slice(IPv4Packet.minimumHeaderLength..<IPv4Packet.minimumHeaderLength + l4Length)
            error.v4Header().emit(into: l4)
            copy(offending.prefix(quoted), to: l4, at: ICMPv4Message.headerLength)
            restoreQuoted(l4.suffix(from: ICMPv4Message.headerLength), parsed, as: sent)
            if let icmp = try? ICMPv4Message(validating: l4) { icmp.updateChecksum() }
            length = 20 + l4Length
        case .ipv6:
            let quoted = min(offending.count, 1280 - IPv6Packet.headerLength - ICMPv6Message.headerLength)
            let ip = IPv6Header(source: source, destination: sent.source, upperLayerProtocol: .icmpv6)
            let l4Length = ICMPv6Message.headerLength + quoted
            ip.emit(into: buffer, payloadLength: l4Length)
            let l4 = buffer.slice(IPv6Packet.headerLength..<IPv6Packet.headerLength + l4Length)
            error.v6Header().emit(into: l4)
            copy(offending.prefix(quoted), to: l4, at: ICMPv6Message.headerLength)
            restoreQuoted(l4.suffix(from: ICMPv6Message.headerLength), parsed, as: sent)
            if let icmp = try? ICMPv6Message(validating: l4) {
                icmp.updateChecksum(pseudoHeaderSum: Checksum.pseudoHeaderSum(
                    source: source, destination: sent.source, protocol: .icmpv6, length: l4Length))
            }
            length = 40 + l4Length
        }
        outbox.buffers[slot].length = length
        commitGenerated(slot, interface: interface, state: .related)
    }

    /// How the sender of `parsed` addressed it: its connection's tuple in the
    /// packet's direction, from before this firewall's NAT (the packet's own
    /// tuple when it is not translated). A new connection is still pending
    /// (its translation enters the table at confirm): the pending entry is
    /// this packet's own when its source end is the packet's, since only
    /// postrouting, which has not run yet, changes the source.
    /// `now` 0 reads any entry still in the table.
    func senderView(_ parsed: ParsedPacket, now: Timestamp) -> ConnTuple {
        guard !parsed.isICMPError, let inverse = parsed.tuple.inverted() else { return parsed.tuple }
        if let (position, direction) = conntrack.table.lookup(inverse, now: now) {
            return conntrack.table[position].tuple(direction.opposite)
        }
        let pending = conntrack.pending.original
        if pending.source == parsed.tuple.source && pending.sourcePort == parsed.tuple.sourcePort
            && pending.protocol == parsed.tuple.protocol && pending.family == parsed.tuple.family {
            return pending
        }
        return parsed.tuple
    }

    /// Puts the quoted copy of a translated packet back as `sent` (its
    /// sender's view): addresses, ports or ICMP identifier, and the
    /// checksums that cover them, as NATStage.translateICMPError does for
    /// errors that others send.
    private func restoreQuoted(_ quoted: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket, as sent: ConnTuple) {
        guard sent != parsed.tuple else { return }
        var inner = ParsedPacket.empty
        inner.family = parsed.family
        inner.l4Protocol = parsed.l4Protocol
        inner.l4Offset = parsed.l4Offset
        inner.tracked.tuple = parsed.tuple
        guard inner.l4Offset <= quoted.count else { return }
        HeaderRewrite.setSource(quoted, inner, partial: false, address: sent.source, port: sent.sourcePort)
        HeaderRewrite.setDestination(quoted, inner, partial: false, address: sent.destination, port: sent.destinationPort)
    }

    /// An echo reply to an echo request addressed to the firewall: the same
    /// bytes with addresses swapped, the type changed and TTL 64. It is the
    /// reply direction of the ping's connection, so it refreshes that entry
    /// and leaves through its NAT: a ping that `redirect` or `dnat` sent to
    /// the firewall is answered from the address the client pinged, as
    /// Linux's NAT hooks at OUTPUT and POSTROUTING translate the firewall's
    /// own packets of a translated connection.
    func sendEchoReply(to request: UnsafeMutableRawBufferPointer, parsed: ParsedPacket, arrivedOn interface: InterfaceID,
                       now: Timestamp) {
        guard let slot = outbox.reserve() else {
            count(.outboxFull)
            return
        }
        let buffer = outbox.buffers[slot].storage.suffix(from: PacketBuffer.headroom)
        guard request.count <= buffer.count else { return }
        copy(UnsafeMutableRawBufferPointer(rebasing: request[...]), to: buffer, at: 0)
        let packet = buffer.slice(0..<request.count)
        switch parsed.family {
        case .ipv4:
            guard let ip = try? IPv4Packet(validating: packet) else { return }
            let (source, destination) = (ip.source, ip.destination)
            ip.source = destination
            ip.destination = source
            ip.ttl = 64
            ip.updateHeaderChecksum()
            guard let icmp = try? ICMPv4Message(validating: ip.payload) else { return }
            icmp.type = .echoReply
            icmp.updateChecksum()
        case .ipv6:
            guard let ip = try? IPv6Packet(validating: packet) else { return }
            let (source, destination) = (ip.source, ip.destination)
            ip.source = destination
            ip.destination = source
            ip.hopLimit = 64
            let l4 = ip.bytes.suffix(from: parsed.l4Offset)
            guard let icmp = try? ICMPv6Message(validating: l4) else { return }
            icmp.type = .echoReply
            icmp.updateChecksum(pseudoHeaderSum: ip.pseudoHeaderSum(protocol: .icmpv6, length: l4.count))
        }
        outbox.buffers[slot].length = request.count
        translateOwnPacket(outbox.buffers[slot].bytes, now: now)
        commitGenerated(slot, interface: interface, state: .established)
    }

    /// Tracks a packet the firewall sends in a connection of its own and
    /// rewrites it to the connection's translated tuple in its direction.
    private func translateOwnPacket(_ bytes: UnsafeMutableRawBufferPointer, now: Timestamp) {
        guard let parsed = try? PacketParser.parse(bytes, virtio: .init()) else { return }
        let tracking = conntrack.track(parsed.tracked, now: now)
        guard let position = tracking.entry, conntrack.table[position].isTranslated else { return }
        let target = conntrack.table.translated(position, tracking.direction)
        HeaderRewrite.setSource(bytes, parsed, partial: false, address: target.source, port: target.sourcePort)
        var rewritten = parsed
        rewritten.tracked.tuple.source = target.source
        if !parsed.tuple.isICMP { rewritten.tracked.tuple.sourcePort = target.sourcePort }
        HeaderRewrite.setDestination(bytes, rewritten, partial: false, address: target.destination, port: target.destinationPort)
    }

    /// RFC 9293 §3.10.7.1: a segment to a closed port gets a reset: with the
    /// ACK it acknowledged as sequence number, or acknowledging what it carried.
    /// Under NAT it leaves as the sender's peer, as the sender addressed it.
    func sendReset(for parsed: ParsedPacket, arrivedOn interface: InterfaceID, state: ConnState = .new,
                   now: Timestamp = 0) {
        let flags = parsed.tracked.tcpFlags
        guard !flags.contains(.rst) else { return }
        let sent = senderView(parsed, now: now)
        let back = ConnTuple(source: sent.destination, destination: sent.source,
                             sourcePort: sent.destinationPort, destinationPort: sent.sourcePort,
                             protocol: .tcp, family: parsed.family)
        if flags.contains(.ack) {
            sendTCP(back, sequence: parsed.tracked.tcpAcknowledgment, acknowledgment: SeqNumber(0), flags: .rst,
                    window: 0, interface: interface, state: state)
        } else {
            sendTCP(back, sequence: SeqNumber(0),
                    acknowledgment: parsed.tracked.tcpSequence + Int32(truncatingIfNeeded: parsed.tracked.tcpSequenceLength),
                    flags: [.rst, .ack], window: 0, interface: interface, state: state)
        }
    }

    /// A bare TCP segment (no payload, no options) with the addresses and
    /// ports of `tuple`, out of `interface`.
    func sendTCP(_ tuple: ConnTuple, sequence: SeqNumber, acknowledgment: SeqNumber, flags: TCPFlags, window: UInt16,
                 interface: InterfaceID, state: ConnState) {
        guard let slot = outbox.reserve() else { return count(.outboxFull) }
        let buffer = outbox.buffers[slot].storage.suffix(from: PacketBuffer.headroom)
        var tcp = TCPHeader(sourcePort: tuple.sourcePort, destinationPort: tuple.destinationPort, flags: flags,
                            window: window)
        tcp.sequenceNumber = sequence
        tcp.acknowledgmentNumber = acknowledgment
        let tcpLength = tcp.headerLength
        let l3: Int
        let pseudo: UInt16
        switch tuple.family {
        case .ipv4:
            let source = tuple.source.lowIPv4
            let destination = tuple.destination.lowIPv4
            IPv4Header(source: source, destination: destination, protocol: .tcp).emit(into: buffer, payloadLength: tcpLength)
            l3 = IPv4Packet.minimumHeaderLength
            pseudo = Checksum.pseudoHeaderSum(source: source, destination: destination, protocol: .tcp, length: tcpLength)
        case .ipv6:
            IPv6Header(source: tuple.source, destination: tuple.destination, upperLayerProtocol: .tcp)
                .emit(into: buffer, payloadLength: tcpLength)
            l3 = IPv6Packet.headerLength
            pseudo = Checksum.pseudoHeaderSum(source: tuple.source, destination: tuple.destination,
                                              protocol: .tcp, length: tcpLength)
        }
        let l4 = buffer.slice(l3..<l3 + tcpLength)
        tcp.emit(into: l4)
        if let segment = try? TCPSegment(validating: l4) { segment.updateChecksum(pseudoHeaderSum: pseudo) }
        outbox.buffers[slot].length = l3 + tcpLength
        commitGenerated(slot, interface: interface, state: state)
    }

    private func copy(_ source: UnsafeMutableRawBufferPointer, to destination: UnsafeMutableRawBufferPointer, at offset: Int) {
        guard let from = source.baseAddress, let to = destination.baseAddress, source.count > 0 else { return }
        (to + offset).copyMemory(from: from, byteCount: source.count)
    }

    private func copy(_ source: Slice<UnsafeMutableRawBufferPointer>, to destination: UnsafeMutableRawBufferPointer,
                      at offset: Int) {
        copy(UnsafeMutableRawBufferPointer(rebasing: source), to: destination, at: offset)
    }

    func nextIdentification() -> UInt16 {
        identification &+= 1
        return identification
    }
}

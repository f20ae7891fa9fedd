// The helper stage: connections a rule gave a helper (`ct helper set`) have
// their payload read by it after NAT and before sequence adjustment, where
// Linux runs helpers (NF_IP_PRI_CONNTRACK_HELPER, after SNAT, before the
// seqadj of nf_confirm).
//
// The helper decides per packet (ConnectionHelper): forward it, forward it
// with a new payload (rewritten announcements, held lines completed), hold
// it, or drop it. This file carries that out on the packet: payload and
// lengths replaced in place, checksums recomputed (or, for an offloaded
// packet, its partial pseudo-header sum), held bytes released when their
// time is up, an ACK to a sender that waits for one while its line is held
// (Nagle's algorithm will not send the rest of a line before it), resets both
// ways when the policy ends a session. Which helper a kind means is
// HelperRegistry.swift's business; nothing here names one.
//
// Example: "PORT 10,0,1,2,195,80\r\n" from 10.0.1.2 behind masquerade leaves
// as "PORT 203,0,113,1,195,80\r\n", two bytes longer; the sequence adjustment
// of the connection records +2 at the line's start.

import Conntrack
import Wire

/// A helper for one connection, the id of that connection (a table position
/// is reused once its connection is gone), and what the engine keeps for it:
/// the packet that brought held bytes and where it was going (to send them
/// from when their time is up), each direction's last window (for the ACK to
/// a sender whose line is held), and the bytes the firewall owes a receiver.
final class HelperSlot {
    let id: UInt32
    let helper: any ConnectionHelper
    var heldTemplate: [[UInt8]?] = [nil, nil]
    var heldInterface: [InterfaceID] = [0, 0]
    var lastWindow: [UInt16] = [0, 0]
    var owed: [OwedBytes?] = [nil, nil]

    init(id: UInt32, helper: any ConnectionHelper) {
        self.id = id
        self.helper = helper
    }
}

/// Bytes the firewall acknowledged on the receiver's behalf (the ACK to a
/// sender waiting on a held line): the sender will not send them again, so
/// until the receiver acknowledges them the firewall keeps what it sent for
/// them and sends it again when the receiver's ACKs show it never arrived
/// (the one packet carrying a held line must not be a single point of loss).
/// Sequence numbers are the sender's.
struct OwedBytes {
    /// The end of what the firewall acknowledged.
    var end: SeqNumber
    /// What went out for them (the completed line, rewritten or not, or the
    /// bytes released when their time was up): nil until it has gone.
    var start = SeqNumber(0)
    var bytes: [UInt8]? = nil
    var sentAt: Timestamp = 0

    /// Linux's minimum retransmission timeout (TCP_RTO_MIN, 200 ms): a
    /// receiver's ACK sooner than this after a sending may simply predate it.
    static let resendInterval: Timestamp = 200_000_000
}

extension Engine {
    /// After confirm: a new connection with a helper gets one, which reads
    /// its first packet; a connection an expectation let in is counted and
    /// explained.
    func startHelper(_ tracking: TrackResult, _ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket,
                     now: Timestamp, _ trace: inout PacketTrace?) {
        guard let position = tracking.entry else { return }
        let entry = conntrack.table[position]
        if entry.helper != .none, let helper = HelperRegistry.make(entry.helper, configuration: configuration) {
            helpers[Int32(position)] = HelperSlot(id: entry.id, helper: helper)
            guard let packet = helperPacket(bytes, parsed, direction: .original, now: now) else { return }
            let events = helper.start(packet, connection: HelperConnection(entry: entry, position: position),
                                      expectations: &conntrack)
            for event in events { note(event, &trace) }
        } else if entry.status.contains(.expected), let type = HelperRegistry.type(entry.expectedBy) {
            let master = Int(entry.masterPosition)
            let masterText = master >= 0 && conntrack.table[master].id == entry.masterID
                ? conntrack.table[master].original.endpoints : "a closed control connection"
            note(HelperEvent(helper: entry.expectedBy, counter: type.relatedCounter, name: "related",
                             connection: entry.original.endpoints,
                             text: "\(HelperRegistry.relatedNoun(entry.expectedBy)) RELATED to \(masterText)"
                                 + (entry.isTranslated ? ", translated to \(entry.translated(.original).endpoints)" : "")),
                 &trace)
        }
    }

    /// The packet as a helper reads it: TCP with its sequence number and
    /// flags, or UDP; nil for anything else.
    func helperPacket(_ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket, direction: Direction,
                      now: Timestamp) -> HelperPacket? {
        let transport = bytes.suffix(from: parsed.l4Offset)
        switch parsed.l4Protocol {
        case .tcp:
            guard let segment = try? TCPSegment(validating: transport) else { return nil }
            return helperPacket(segment, direction: direction, now: now)
        case .udp:
            guard let datagram = try? UDPDatagram(validating: transport) else { return nil }
            return HelperPacket(direction: direction, payload: UnsafeRawBufferPointer(datagram.payload), now: now)
        default:
            return nil
        }
    }

    func helperPacket(_ segment: TCPSegment, direction: Direction, now: Timestamp,
                      acknowledged: SeqNumber? = nil) -> HelperPacket {
        HelperPacket(direction: direction, sequence: segment.sequenceNumber, flags: segment.flags,
                     acknowledged: acknowledged, payload: UnsafeRawBufferPointer(segment.payload), now: now)
    }

    /// Runs the connection's helper on a packet; a verdict if the packet stops here.
    func runHelper(_ packet: inout PacketBuffer, _ ctx: inout PacketContext, entry position: Int,
                   output: InterfaceID) -> Verdict? {
        let direction = ctx.tracking.direction, input = ctx.input, now = ctx.now
        guard let slot = helpers[Int32(position)] else { return nil }
        guard slot.id == conntrack.table[position].id else {
            helpers[Int32(position)] = nil
            return nil
        }
        // A TCP segment is validated once: the helper reads it, and the held-line
        // ACK and resets below need its numbers.
        let segment: TCPSegment?
        let helperInput: HelperPacket
        if ctx.parsed.l4Protocol == .tcp {
            guard let validated = try? TCPSegment(validating: packet.bytes.suffix(from: ctx.parsed.l4Offset)) else { return nil }
            segment = validated
            helperInput = helperPacket(validated, direction: direction, now: now,
                                       acknowledged: validated.flags.contains(.ack)
                                           ? conntrack.table.adjustment(position, direction.opposite)
                                               .unadjusted(acknowledgment: validated.acknowledgmentNumber)
                                           : nil)
            slot.lastWindow[direction.rawValue] = validated.window
            if slot.owed[direction.opposite.rawValue] != nil {
                settleOwed(slot, direction.opposite, receiverSegment: validated, entry: position, now: now)
            }
        } else {
            guard let datagram = helperPacket(packet.bytes, ctx.parsed, direction: direction, now: now) else { return nil }
            segment = nil
            helperInput = datagram
        }
        let helper = slot.helper
        let heldBefore = helper.heldRange(direction)
        let outcome = helper.process(helperInput, connection: HelperConnection(entry: conntrack.table[position], position: position),
                                     expectations: &conntrack)
        for adjustment in outcome.adjustments {
            conntrack.table.recordAdjustment(position, adjustment.direction, at: adjustment.at, delta: adjustment.delta)
        }
        for event in outcome.events { note(event, &ctx.trace) }
        if helper.releaseDeadline != nil {
            holdingSessions.insert(Int32(position))
        } else if !holdingSessions.isEmpty {
            holdingSessions.remove(Int32(position))
        }
        switch outcome.verdict {
        case .unchanged:
            forgetTemplate(slot, direction)
            return nil
        case .replaced(let start, let payload):
            // Payload edits are TCP's (a helper of a UDP protocol rewrites nothing today).
            guard ctx.parsed.l4Protocol == .tcp else { return nil }
            // What does not fit one packet (a 64 KB GSO super-segment whose
            // lines grew) leaves after it, in splitOversizedSegment.
            let placed = replacePayload(&packet, &ctx.parsed, sequence: start, payload: payload)
            ctx.helper.overflow = placed < payload.count ? Array(payload[placed...]) : []
            ctx.helper.resized = true
            noteSent(slot, direction, start: start, bytes: payload, now: now)
            forgetTemplate(slot, direction)
            return nil
        case .held:
            guard let segment else { return nil }
            statistics.held &+= 1
            ctx.trace?.held = true
            slot.heldTemplate[direction.rawValue] = packet.array
            slot.heldInterface[direction.rawValue] = output
            if let before = heldBefore, segment.sequenceNumber < before.end {
                // The sender sent these bytes again: it waits for an ACK (after
                // a timeout, or Nagle holds the rest of the line back): the
                // firewall acknowledges what it holds, in the sender's own numbering.
                let sender = conntrack.table[position].tuple(direction)
                let back = ConnTuple(source: sender.destination, destination: sender.source,
                                     sourcePort: sender.destinationPort, destinationPort: sender.sourcePort,
                                     protocol: .tcp, family: sender.family)
                sendTCP(back, sequence: segment.acknowledgmentNumber, acknowledgment: before.end, flags: .ack,
                        window: slot.lastWindow[direction.opposite.rawValue], interface: input, state: .established)
                if let owed = slot.owed[direction.rawValue], owed.bytes == nil, owed.end >= before.end { return .consumed }
                slot.owed[direction.rawValue] = OwedBytes(end: before.end)
            }
            return .consumed
        case .refused:
            if let segment {
                resetBothWays(packet.bytes, ctx.parsed, segment, entry: position, direction: direction, input: input,
                              output: output)
            }
            return drop(.helperPolicy)
        case .outOfOrder:
            return drop(.helperOutOfOrder)
        }
    }

    /// Puts `payload` in place of the segment's payload, with `sequence` as
    /// its sequence number (IPDatagram.replaceTCPPayload: lengths and
    /// checksums follow; an offloaded packet keeps a partial checksum).
    /// Places only as many bytes as one packet can hold and returns how many
    /// that is; the caller sends the rest.
    @discardableResult
    func replacePayload(_ packet: inout PacketBuffer, _ parsed: inout ParsedPacket, sequence: SeqNumber,
                        payload: [UInt8]) -> Int {
        let (length, placed) = payload.withUnsafeBytes { payload in
            IPDatagram(parsed: packet.room).replaceTCPPayload(
                transportOffset: parsed.l4Offset, sequence: sequence, payload: payload, limit: .max,
                partialChecksum: packet.virtio.needsChecksum)
        }
        packet.length = length
        parsed.length = length
        return placed
    }

    /// A segment a helper made longer than the egress MTU leaves as several
    /// (the first in place, the rest through the outbox, in order), each
    /// within the MTU: the receiver's TCP puts them back together. A GSO
    /// super-packet is cut into gso_size segments by the device, so only the
    /// IP length bounds it; what its grown payload could not hold
    /// (`overflow`) follows in another super-packet with the same header.
    /// Runs after sequence adjustment, so the pieces are numbered as they leave.
    func splitOversizedSegment(_ packet: inout PacketBuffer, _ parsed: inout ParsedPacket, mtu: Int,
                               overflow: [UInt8], to interface: InterfaceID) {
        let segment = TCPSegment(parsed: packet.bytes.suffix(from: parsed.l4Offset))
        let payloadOffset = parsed.l4Offset + segment.headerLength
        let limit = packet.virtio.gsoType == .none
            ? mtu : min(IPDatagram(parsed: packet.room).maximumLength, packet.room.count)
        let room = limit - payloadOffset
        guard room > 0, packet.length > limit || !overflow.isEmpty else { return }
        let payload = Array(segment.payload) + overflow
        let sequence = segment.sequenceNumber
        // FIN (and PSH) belong to the last piece only.
        let middleFlags = segment.flags.subtracting([.fin, .psh])
        let template = packet.array
        var offset = room
        while offset < payload.count, let slot = outbox.reserve() {
            let end = min(offset + room, payload.count)
            outbox.buffers[slot].load(template)
            outbox.buffers[slot].virtio = packet.virtio
            var pieceParsed = parsed
            let piece = outbox.buffers[slot].bytes
            if end < payload.count { TCPSegment(parsed: piece.suffix(from: parsed.l4Offset)).flags = middleFlags }
            if parsed.family == .ipv4 { IPv4Packet(parsed: piece).identification = nextIdentification() }
            replacePayload(&outbox.buffers[slot], &pieceParsed, sequence: sequence + Int32(offset),
                           payload: Array(payload[offset..<end]))
            outbox.commit(slot, interface: interface)
            statistics.generated &+= 1
            if tracing { traceGenerated(slot, interface: interface, origin: .generated) }
            offset = end
        }
        segment.flags = middleFlags
        replacePayload(&packet, &parsed, sequence: sequence, payload: Array(payload[..<room]))
    }

    /// Sends held bytes whose time is up, unchanged, from the packet that
    /// brought the first of them (sequence adjustment applied).
    func releaseHeldLines(now: Timestamp) {
        for position in holdingSessions {
            guard let slot = helpers[position] else {
                holdingSessions.remove(position)
                continue
            }
            guard let deadline = slot.helper.releaseDeadline, deadline <= now else { continue }
            holdingSessions.remove(position)
            let (released, events) = slot.helper.releaseExpired(now: now)
            var noPacket: PacketTrace? = nil
            for event in events { note(event, &noPacket) }
            guard slot.id == conntrack.table[Int(position)].id else { continue }
            for (direction, start, bytes) in released {
                if sendFromTemplate(slot, direction, start: start, bytes: bytes, entry: Int(position), origin: .released) {
                    noteSent(slot, direction, start: start, bytes: bytes, now: now)
                }
                forgetTemplate(slot, direction)
            }
        }
    }

    /// Sends `bytes` (starting at `start`, the sender's numbering) in a copy
    /// of the packet that brought the held bytes of `direction`, sequence
    /// adjustment applied, where that packet was going.
    private func sendFromTemplate(_ slot: HelperSlot, _ direction: Direction, start: SeqNumber, bytes: [UInt8],
                                  entry position: Int, origin: TraceRecord.Origin) -> Bool {
        guard slot.id == conntrack.table[position].id, let template = slot.heldTemplate[direction.rawValue],
              let out = outbox.reserve() else { return false }
        let interface = slot.heldInterface[direction.rawValue]
        outbox.buffers[out].load(template)
        var parsed = ParsedPacket.empty
        guard (try? PacketParser.parse(outbox.buffers[out].bytes, virtio: .init(), into: &parsed)) != nil else { return false }
        replacePayload(&outbox.buffers[out], &parsed, sequence: start, payload: bytes)
        adjustSequence(&outbox.buffers[out], parsed, entry: position, direction: direction)
        outbox.commit(out, interface: interface)
        statistics.generated &+= 1
        if tracing { traceGenerated(out, interface: interface, origin: origin) }
        return true
    }

    /// The copy of the packet that brought held bytes is kept only while
    /// bytes are held or owed in its direction (it may be a 64 KB super-packet).
    private func forgetTemplate(_ slot: HelperSlot, _ direction: Direction) {
        guard slot.heldTemplate[direction.rawValue] != nil, slot.owed[direction.rawValue] == nil,
              slot.helper.heldRange(direction) == nil else { return }
        slot.heldTemplate[direction.rawValue] = nil
    }

    /// What went out for bytes the firewall owes a receiver: kept until the
    /// receiver acknowledges them.
    private func noteSent(_ slot: HelperSlot, _ direction: Direction, start: SeqNumber, bytes: [UInt8], now: Timestamp) {
        guard var owed = slot.owed[direction.rawValue], owed.bytes == nil, start < owed.end else { return }
        owed.start = start
        owed.bytes = bytes
        owed.sentAt = now
        slot.owed[direction.rawValue] = owed
    }

    /// A segment from the receiver of owed bytes: an ACK past them settles
    /// the debt; one short of them, at least the minimum RTO after they were
    /// last sent, means they were lost, and they go again (as a TCP sender
    /// would on duplicate ACKs, RFC 5681 §3.2).
    private func settleOwed(_ slot: HelperSlot, _ direction: Direction, receiverSegment segment: TCPSegment,
                            entry position: Int, now: Timestamp) {
        guard segment.flags.contains(.ack) else { return }
        guard let owed = slot.owed[direction.rawValue] else { return }
        // The receiver counts the bytes as they left, shifted by rewrites.
        let acknowledged = conntrack.table.adjustment(position, direction).unadjusted(acknowledgment: segment.acknowledgmentNumber)
        if acknowledged >= owed.end {
            slot.owed[direction.rawValue] = nil
            forgetTemplate(slot, direction)
            return
        }
        guard let bytes = owed.bytes, now >= saturatingAdd(owed.sentAt, OwedBytes.resendInterval) else { return }
        if sendFromTemplate(slot, direction, start: owed.start, bytes: bytes, entry: position, origin: .generated) {
            statistics.resentForReceiver &+= 1
            slot.owed[direction.rawValue]?.sentAt = now
        }
    }

    /// The policy ends the session: the segment becomes a reset toward its
    /// receiver, and its sender gets one too.
    private func resetBothWays(_ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket, _ segment: TCPSegment,
                               entry position: Int, direction: Direction, input: InterfaceID, output: InterfaceID) {
        let entry = conntrack.table[position]
        let sender = entry.tuple(direction)
        let back = ConnTuple(source: sender.destination, destination: sender.source, sourcePort: sender.destinationPort,
                             destinationPort: sender.sourcePort, protocol: .tcp, family: sender.family)
        sendTCP(back, sequence: segment.acknowledgmentNumber, acknowledgment: SeqNumber(0), flags: .rst, window: 0,
                interface: input, state: .established)
        // Toward the receiver: as the receiver knows both ends, at the
        // sequence number it waits for (adjusted like the segment would be).
        let receiverView = entry.translated(direction)
        let sequence = conntrack.table.adjustment(position, direction).adjusted(sequence: segment.sequenceNumber)
        sendTCP(receiverView, sequence: sequence, acknowledgment: SeqNumber(0), flags: .rst, window: 0,
                interface: output, state: .established)
        conntrack.expectations.removeAll(masterPosition: position, masterID: entry.id)
    }

    /// Counts a helper event, logs its line (if it has one) and traces it.
    func note(_ event: HelperEvent, _ trace: inout PacketTrace?) {
        statistics.countHelperEvent(event)
        if !event.message.isEmpty { pendingLog.append("\(event.helper): " + event.message) }
        if (tracing || trace != nil) && !event.text.isEmpty { traceHelper(event, &trace) }
    }

    /// Drops sessions whose connection is gone, and dead expectations.
    func purgeHelpers(now: Timestamp) {
        conntrack.purgeExpectations(now: now)
        for (position, slot) in helpers where conntrack.table[Int(position)].id != slot.id
            || !conntrack.isLive(Int(position), now: now) {
            helpers[position] = nil
        }
    }

    /// True while a helper holds bytes: call `tick` often (every few ms).
    public var helperHoldsBytes: Bool { !holdingSessions.isEmpty }
}

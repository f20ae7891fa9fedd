// Connection tracking: classifies each packet as Linux's nf_conntrack_in does
// (new, established, related, invalid) and keeps each connection's state.
//
// The engine calls `track` at prerouting (or output, for packets the firewall
// makes) and, if the packet leaves the pipeline accepted, `confirm`: a new
// connection enters the table only then ("confirm" in Linux, "finalize" in
// gVisor), so a packet dropped by a rule leaves nothing behind.
//
// Example: a SYN 10.0.1.2:40000 → 203.0.113.10:80 is `new` with a pending
// entry in SYN_SENT; once confirmed, the SYN-ACK finds it by its reply tuple
// and is `established` (reply direction); the client's ACK moves it to
// ESTABLISHED and makes it ASSURED.

import Wire

/// nft's `ct state` values.
public enum ConnState: UInt8, Sendable, Hashable, CustomStringConvertible {
    case new, established, related, invalid, untracked

    public var description: String {
        switch self {
        case .new: return "new"
        case .established: return "established"
        case .related: return "related"
        case .invalid: return "invalid"
        case .untracked: return "untracked"
        }
    }
}

/// Why conntrack called a packet invalid (counted; Linux logs these with
/// nf_conntrack_log_invalid).
public enum InvalidReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    case tcpFlags, tcpTransition, tcpNotNew, icmpNotNew, icmpErrorUnmatched, tableFull, clash, badChecksum
    case tcpSequenceOverWindow, tcpAckOverWindow, tcpResetOutOfWindow
    case icmpErrorOuterDestination

    public var description: String {
        switch self {
        case .tcpFlags: return "invalid TCP flag combination"
        case .tcpTransition: return "TCP segment invalid in the connection's state"
        case .tcpNotNew: return "TCP segment cannot start a connection"
        case .icmpNotNew: return "ICMP message cannot start a connection"
        case .icmpErrorUnmatched: return "ICMP error quoting no tracked connection"
        case .tableFull: return "conntrack table full"
        case .clash: return "conntrack insert clash"
        case .badChecksum: return "transport checksum does not verify"
        // tcp_in_window's and tcp_packet's log messages, shortened.
        case .tcpSequenceOverWindow: return "TCP SEQ over upper bound (receiver's window)"
        case .tcpAckOverWindow: return "TCP ACK over upper bound (data not seen yet)"
        case .tcpResetOutOfWindow: return "TCP RST out of window"
        // nf_conntrack_inet_error's "outer daddr != inner saddr".
        case .icmpErrorOuterDestination: return "ICMP error to another host than the quoted packet's sender"
        }
    }
}

/// What conntrack needs from a packet, extracted once by the engine's parser.
public struct TrackedPacket: Sendable {
    public var tuple: ConnTuple
    /// Layer-3 length, for the byte counters.
    public var length: Int
    public var tcpFlags: TCPFlags = []
    public var tcpSequence = SeqNumber(0)
    public var tcpAcknowledgment = SeqNumber(0)
    /// Sequence space the segment occupies (payload + SYN + FIN).
    public var tcpSequenceLength = 0
    /// The advertised window, unscaled as it is on the wire.
    public var tcpWindow: UInt16 = 0
    /// Options window tracking reads (PacketParser.readWindowOptions).
    public var tcpOptions: TCPWindowOptions = []
    /// The window scale option's shift (0...14), when `tcpOptions` has it.
    public var tcpWindowScale: UInt8 = 0
    /// The highest right edge of the SACK blocks, when `tcpOptions` has `.sack`.
    public var tcpSACKRight = SeqNumber(0)
    /// For an ICMP error: the tuple of the packet it quotes, as that packet was sent.
    public var quotedTuple: ConnTuple? = nil

    public init(tuple: ConnTuple, length: Int) {
        self.tuple = tuple
        self.length = length
    }
}

/// The outcome of `track`: the packet's class and where its connection is.
/// Small on purpose (it is returned for every packet): a new connection's
/// entry waits inside `Conntrack` until `confirm`, not in here.
public struct TrackResult: Sendable {
    public var state: ConnState
    public var direction: Direction = .original
    /// Position in the table of the packet's connection, once it has one.
    public var entry: Int? = nil
    /// True while a new connection waits for `confirm` to enter the table.
    public var isPending = false
    public var invalidReason: InvalidReason? = nil

    public init(state: ConnState, direction: Direction = .original, entry: Int? = nil,
                isPending: Bool = false, invalidReason: InvalidReason? = nil) {
        self.state = state
        self.direction = direction
        self.entry = entry
        self.isPending = isPending
        self.invalidReason = invalidReason
    }

    static func invalid(_ reason: InvalidReason) -> TrackResult {
        TrackResult(state: .invalid, invalidReason: reason)
    }
}

public struct Conntrack: Sendable {
    public var table: FlowTable
    public var timeouts: ConntrackTimeouts
    /// The new connection of the packet being tracked, until `confirm`
    /// enters it (one packet is in the pipeline at a time).
    public private(set) var pending: ConnEntry
    public private(set) var invalidCounts: [UInt64] = Array(repeating: 0, count: InvalidReason.allCases.count)
    /// Connections helpers announced (Expectation.swift).
    public var expectations = ExpectationTable()
    /// For a pending connection an expectation let in: its translated
    /// original tuple (the NAT mapping that follows its master), if any.
    public private(set) var pendingTranslation: ConnTuple? = nil
    /// Expectations used by a connection, refused, and missed (for stats).
    public private(set) var expectationsUsed: UInt64 = 0
    /// Events for `conntrack -E`, collected only while someone listens.
    public private(set) var eventsEnabled = false
    var pendingEvents: [ConntrackEvent] = []

    public init(capacity: Int = 65_536, timeouts: ConntrackTimeouts = .linux) {
        table = FlowTable(capacity: capacity)
        self.timeouts = timeouts
        let none = ConnTuple(source: .any, destination: .any, sourcePort: 0, destinationPort: 0, protocol: .tcp, family: .ipv4)
        pending = ConnEntry(original: none, reply: none)
    }

    // MARK: Track

    public mutating func track(_ packet: TrackedPacket, now: Timestamp) -> TrackResult {
        let result = classify(packet, now: now)
        if result.state == .invalid, let reason = result.invalidReason {
            invalidCounts[reason.rawValue] &+= 1   // a statistic: wraps, never traps
        }
        return result
    }

    private mutating func classify(_ packet: TrackedPacket, now: Timestamp) -> TrackResult {
        let tuple = packet.tuple
        if tuple.protocol == .tcp && !TCPStateTable.hasValidFlags(packet.tcpFlags) {
            return .invalid(.tcpFlags)
        }
        if let quoted = packet.quotedTuple {
            return related(quoted, outerDestination: tuple.destination, now: now)
        }
        if let (position, direction) = table.lookup(tuple, now: now) {
            if tuple.protocol == .tcp, let reopened = reopen(position, direction, packet, now: now) {
                return reopened
            }
            return update(position, direction, packet, now: now)
        }
        return newConnection(packet, now: now)
    }

    /// An ICMP error is RELATED to the connection of the packet it quotes
    /// (icmp_error_message: the quoted tuple, inverted, is looked up). The
    /// quoted packet was sent by the host the error goes back to, so the
    /// inverse is what the error's own direction of the connection carries.
    /// Only when it could be genuine (nf_conntrack_inet_error): the error
    /// must go to the quoted packet's sender. Otherwise anybody who knows a
    /// connection could send a "RELATED" error quoting it to a third host,
    /// and the rules that let RELATED through would let it in.
    private mutating func related(_ quoted: ConnTuple, outerDestination: IPv6Address, now: Timestamp) -> TrackResult {
        guard let inverse = quoted.inverted(),
              let (position, direction) = table.lookup(inverse, now: now) else {
            return .invalid(.icmpErrorUnmatched)
        }
        guard outerDestination == quoted.source else { return .invalid(.icmpErrorOuterDestination) }
        return TrackResult(state: .related, direction: direction, entry: position)
    }

    private mutating func newConnection(_ packet: TrackedPacket, now: Timestamp) -> TrackResult {
        let tuple = packet.tuple
        var state = TCPState.none
        switch tuple.protocol {
        case .tcp:
            break   // below, once the entry exists
        case .icmp, .icmpv6:
            guard ICMPQuery.isRequest(tuple.icmpType, v6: tuple.protocol == .icmpv6) else {
                return .invalid(.icmpNotNew)
            }
        default:
            break
        }
        guard let reply = tuple.inverted() else { return .invalid(.icmpNotNew) }
        var entry = ConnEntry(original: tuple, reply: reply)
        var timeout: UInt32? = nil
        if tuple.protocol == .tcp {
            // tcp_new: a SYN starts SYN_SENT; with nf_conntrack_tcp_loose=1
            // (the default) a bare ACK picks up a connection already under
            // way. Then tcp_packet on the same segment, from NONE.
            guard TCPConntrack.start(&entry, packet, settings: timeouts),
                  case .accept(let next, let seconds) = TCPConntrack.packet(
                    &entry, .original, packet, ack: packet.tcpAcknowledgment.rawValue,
                    sackRight: packet.tcpSACKRight.rawValue, now: now, settings: timeouts)
            else { return .invalid(.tcpNotNew) }
            state = next
            timeout = seconds
        }
        pending = entry
        pendingTranslation = nil
        let expected = expectations.isEmpty ? false : matchExpectation(tuple, now: now)
        pending.created = now
        pending.tcpState = state
        // A UInt32 of seconds times 10^9 fits 64 bits; the sum saturates (any `now` is accepted).
        pending.expires = saturatingAdd(now, UInt64(timeout ?? initialTimeout(pending)) * nanosecondsPerSecond)
        pending.packets.original = 1
        pending.bytes.original = UInt64(packet.length)
        return TrackResult(state: expected ? .related : .new, direction: .original, isPending: true)
    }

    /// init_conntrack's expectation lookup: a new connection that a live
    /// expectation names is RELATED to its master, takes the expectation's
    /// NAT mapping, and uses the expectation up.
    private mutating func matchExpectation(_ tuple: ConnTuple, now: Timestamp) -> Bool {
        let key = ExpectationKey(tuple)
        guard let expectation = expectations.expectation(key) else { return false }
        guard isAlive(expectation, now: now) else {
            expectations.remove(key)
            return false
        }
        expectations.remove(key)
        expectationsUsed &+= 1
        pending.status.insert(.expected)
        pending.masterPosition = Int32(expectation.masterPosition)
        pending.masterID = expectation.masterID
        pending.expectedBy = expectation.helper
        if let to = expectation.translation {
            pendingTranslation = ConnTuple(source: to.source, destination: to.destination, sourcePort: tuple.sourcePort,
                                           destinationPort: to.destinationPort, protocol: tuple.protocol,
                                           family: tuple.family)
        }
        return true
    }

    /// An expectation lives while it has not expired and its master is still
    /// the live connection it was made for.
    public func isAlive(_ expectation: ConnExpectation, now: Timestamp) -> Bool {
        Self.isAlive(expectation, in: table, now: now)
    }

    private static func isAlive(_ expectation: ConnExpectation, in table: FlowTable, now: Timestamp) -> Bool {
        let position = expectation.masterPosition
        guard expectation.expires > now, position >= 0, position < table.capacity else { return false }
        let master = table.entries[position]
        return master.inUse && master.id == expectation.masterID && master.expires > now
    }

    /// True if the table position holds a connection that has not expired.
    public func isLive(_ position: Int, now: Timestamp) -> Bool {
        position >= 0 && position < table.capacity && table.entries[position].inUse && table.entries[position].expires > now
    }

    /// Adds an expectation (ExpectationTable.add), judging liveness at `now`.
    public mutating func expect(_ expectation: ConnExpectation, now: Timestamp) -> Result<Void, ExpectationRefusal> {
        let table = self.table
        return expectations.add(expectation) { Self.isAlive($0, in: table, now: now) }
    }

    /// Attaches a helper to the pending connection (`ct helper set` on a new
    /// connection; Linux ignores it once the connection is confirmed).
    public mutating func setPendingHelper(_ helper: HelperKind) {
        pending.helper = helper
    }

    /// The live expectations, oldest first, one `conntrack -L expect` line each.
    public func expectationListing(now: Timestamp) -> [String] {
        expectations.all.filter { isAlive($0, now: now) }.map { $0.conntrackLine(now: now) }
    }

    private func initialTimeout(_ entry: ConnEntry) -> UInt32 {
        switch entry.original.protocol {
        case .tcp: return timeouts.tcp(entry.tcpState)
        case .udp: return timeouts.udpUnreplied
        case .icmp, .icmpv6: return timeouts.icmp
        default: return timeouts.generic
        }
    }

    /// A SYN for a connection in TIME_WAIT or CLOSE reopens it: Linux kills
    /// the old entry and starts over (nf_ct_kill + NF_REPEAT).
    private mutating func reopen(_ position: Int, _ direction: Direction, _ packet: TrackedPacket,
                                 now: Timestamp) -> TrackResult? {
        let old = table[position].tcpState
        guard old == .timeWait || old == .close,
              case .to(.synSent) = TCPStateTable.transition(direction, TCPFlagClass(packet.tcpFlags), from: old)
        else { return nil }
        table.remove(position)
        return newConnection(packet, now: now)
    }

    /// A packet of a known connection: protocol state, timeout, counters,
    /// changed in place in the table.
    private mutating func update(_ position: Int, _ direction: Direction, _ packet: TrackedPacket,
                                 now: Timestamp) -> TrackResult {
        let before = eventsEnabled ? (table[position].tcpState, table[position].status) : (.none, [])
        // tcp_in_window reads acknowledgments in the receiver's own numbering:
        // undo what sequence adjustment added to the data they acknowledge
        // (nf_ct_seq_offset of the other direction).
        var ack = packet.tcpAcknowledgment
        var sackRight = packet.tcpSACKRight
        if table.entries[position].status.contains(.sequenceAdjusted) && packet.tuple.protocol == .tcp {
            let other = table.adjustment(position, direction.opposite)
            ack = other.unadjusted(acknowledgment: ack)
            sackRight = other.unadjusted(acknowledgment: sackRight)
        }
        let outcome = Self.apply(&table[position], direction, packet, ack: ack.rawValue, sackRight: sackRight.rawValue,
                                 now: now, timeouts: timeouts)
        if eventsEnabled {
            let entry = table[position]
            // ctnetlink sends UPDATE when the protocol state or the status changes.
            var status = entry.status
            status.remove(.sequenceAdjusted)
            var old = before.1
            old.remove(.sequenceAdjusted)
            if entry.tcpState != before.0 || status != old {
                pendingEvents.append(ConntrackEvent(kind: .update, entry: entry, time: now))
            }
        }
        switch outcome {
        case .invalid(let reason):
            return .invalid(reason)
        case .ignore, .to:
            return TrackResult(state: outcome.state, direction: direction, entry: position)
        }
    }

    private enum Outcome {
        case invalid(InvalidReason)
        case ignore(ConnState)
        case to(ConnState)

        var state: ConnState {
            switch self {
            case .invalid: return .invalid
            case .ignore(let s), .to(let s): return s
            }
        }
    }

    private static func apply(_ entry: inout ConnEntry, _ direction: Direction, _ packet: TrackedPacket,
                              ack: UInt32, sackRight: UInt32, now: Timestamp, timeouts: ConntrackTimeouts) -> Outcome {
        let seenReplyBefore = entry.hasSeenReply
        var timeout: UInt32?
        switch entry.original.protocol {
        case .tcp:
            switch TCPConntrack.packet(&entry, direction, packet, ack: ack, sackRight: sackRight, now: now,
                                       settings: timeouts) {
            case .invalid(let reason):
                return .invalid(reason)
            case .ignore:
                return .ignore(classification(entry, direction))
            case .accept(_, let seconds):
                timeout = seconds
                // tcp_packet: "If only reply is a RST, we can consider
                // ourselves not to have an established connection ... delete
                // the conntrack immediately." It ends with this packet, which
                // still goes through the connection's NAT (a SYN flood at a
                // closed port leaves no table full of CLOSE entries). Linux
                // tests th->rst alone: a RST from either side before any reply.
                if !seenReplyBefore && packet.tcpFlags.contains(.rst) {
                    entry.expires = now
                    timeout = nil
                }
            }
        case .udp:
            // udp_packet: after a reply, traffic still flowing two seconds
            // after the first packet makes a stream: longer timeout, ASSURED.
            if seenReplyBefore && now > saturatingAdd(entry.created, 2 * nanosecondsPerSecond) {
                timeout = timeouts.udpStream
                entry.status.insert(.assured)
            } else {
                timeout = timeouts.udpUnreplied
            }
        case .icmp, .icmpv6:
            timeout = timeouts.icmp
        default:
            timeout = timeouts.generic
        }
        if let timeout { entry.expires = saturatingAdd(now, UInt64(timeout) * nanosecondsPerSecond) }
        if direction == .original {
            entry.packets.original &+= 1
            entry.bytes.original &+= UInt64(packet.length)
        } else {
            entry.packets.reply &+= 1
            entry.bytes.reply &+= UInt64(packet.length)
        }
        let state = classification(entry, direction)
        if direction == .reply { entry.status.insert(.seenReply) }
        return .to(state)
    }

    /// nf_conntrack_in's ctinfo: replies are established; original-direction
    /// packets are new until a reply has been seen (related if expected).
    private static func classification(_ entry: ConnEntry, _ direction: Direction) -> ConnState {
        if direction == .reply || entry.hasSeenReply { return .established }
        return entry.status.contains(.expected) ? .related : .new
    }

    /// NAT decided where the new connection goes: its reply tuple is the
    /// inverse of the translated original (nf_nat_setup_info), and the status
    /// says which halves are translated.
    public mutating func translatePending(to translated: ConnTuple) {
        guard let reply = translated.inverted() else { return }
        if translated.source != pending.original.source || translated.sourcePort != pending.original.sourcePort {
            pending.status.insert(.sourceNAT)
        }
        if translated.destination != pending.original.destination
            || translated.destinationPort != pending.original.destinationPort {
            pending.status.insert(.destinationNAT)
        }
        pending.reply = reply
    }

    /// True if some live connection already has this tuple (either
    /// direction): a NAT mapping that would produce it is taken.
    public mutating func isInUse(_ tuple: ConnTuple, now: Timestamp) -> Bool {
        table.lookup(tuple, now: now) != nil
    }

    /// Counts an invalid packet found by the caller (e.g. a bad checksum).
    public mutating func countInvalid(_ reason: InvalidReason) {
        invalidCounts[reason.rawValue] &+= 1
    }

    // MARK: Confirm

    /// Enters a pending connection into the table. Returns false if it could
    /// not be (table full of ASSURED entries, or a clash): drop the packet.
    public mutating func confirm(_ result: inout TrackResult, now: Timestamp) -> Bool {
        guard result.isPending else { return true }
        result.isPending = false
        switch table.insert(pending, now: now) {
        case .success(let position):
            result.entry = position
            if eventsEnabled { pendingEvents.append(ConntrackEvent(kind: .new, entry: table[position], time: now)) }
            return true
        case .failure(let error):
            invalidCounts[(error == .full ? InvalidReason.tableFull : .clash).rawValue] &+= 1
            return false
        }
    }

    /// Turns event collection on or off (on while a `conntrack -E` listens).
    public mutating func setEventsEnabled(_ enabled: Bool) {
        eventsEnabled = enabled
        table.recordsRemovals = enabled
        if !enabled {
            pendingEvents.removeAll()
            table.destroyed.removeAll()
        }
    }

    /// The events since the last call, in order, DESTROY ones last.
    public mutating func takeEvents(now: Timestamp) -> [ConntrackEvent] {
        guard eventsEnabled, !(pendingEvents.isEmpty && table.destroyed.isEmpty) else { return [] }
        var events = pendingEvents
        events += table.destroyed.map { ConntrackEvent(kind: .destroy, entry: $0, time: now) }
        pendingEvents.removeAll(keepingCapacity: true)
        table.destroyed.removeAll(keepingCapacity: true)
        return events
    }

    /// Removes connections that expired; a few per call (see FlowTable.sweep).
    public mutating func sweep(now: Timestamp, budget: Int = 64) {
        table.sweep(now: now, budget: budget)
    }

    /// Drops expectations that expired or whose master is gone (call when idle).
    public mutating func purgeExpectations(now: Timestamp) {
        guard !expectations.isEmpty else { return }
        let table = self.table
        expectations.purge { Self.isAlive($0, in: table, now: now) }
    }
}

// TCP connection tracking as Linux 6.18 does it (net/netfilter/
// nf_conntrack_proto_tcp.c): the state table plus everything tcp_packet
// decides around it, and tcp_in_window, which holds each segment against the
// sequence space both sides have opened. A segment outside it is INVALID (the
// rules decide: `ct state invalid drop`) and changes nothing, so a forged RST
// or SYN-ACK with a guessed sequence number cannot close or reset a tracked
// connection.
//
// The four bounds of tcp_in_window (after Guido van Rooij, "Real Stateful TCP
// Packet Filtering in IP Filter"), with sack the highest SACK right edge or
// else the ack:
//   I.   seq <= sender.maxEnd                       (data within what the receiver allowed)
//   II.  seq + len >= sender.end - receiver.maxWindow (not older than a window)
//   III. sack <= receiver.end                       (acknowledges only data that was sent)
//   IV.  sack >= receiver.end - MAXACKWINDOW         (not an ancient ack)
// I or III broken: INVALID; II or IV broken: ignored (passed, no state change).
//
// Example: client seq 1000..2448 sent, server window 64240 from ack 1000:
// original.maxEnd = 65240. A forged RST from the server side with seq 7 is
// before the client's highest ack (td_maxack): INVALID ("RST out of window"),
// the connection stays ESTABLISHED.

import Wire

/// What tcp_packet decided.
enum TCPVerdict: Equatable {
    /// In window: the new state and the timeout to set (nil: keep the expiry,
    /// Linux's "do not renew timeout on SYN retransmit").
    case accept(TCPState, timeout: UInt32?)
    /// NF_ACCEPT without touching the connection (sIG, or II/IV broken).
    case ignore
    case invalid(InvalidReason)
}

/// What tcp_in_window decided (enum nf_ct_tcp_action; `.acceptOutOfWindow`
/// is its ACCEPT for a segment only a liberal setting let through, or a
/// side's first segment: the retransmission check is skipped then).
private enum WindowAction {
    case accept, acceptOutOfWindow, ignore, invalid(InvalidReason)
}

/// MAXACKWINCONST: bound IV never closer than this (Linux: "what about big packets?").
private let maximumAckWindowConstant: UInt32 = 66_000

enum TCPConntrack {
    /// tcp_new: the first segment of a connection. A SYN starts SYN_SENT with
    /// the sender's sequence space and options; any other segment the state
    /// table lets start a connection (a bare ACK) picks it up mid-stream if
    /// `tcpLoose` allows, with a liberal window for both sides (its history,
    /// window scale included, is lost). Returns false if it cannot start one.
    static func start(_ entry: inout ConnEntry, _ packet: TrackedPacket, settings: ConntrackTimeouts) -> Bool {
        guard case .to(let state) = TCPStateTable.transition(.original, TCPFlagClass(packet.tcpFlags), from: .none)
        else { return false }
        let end = packet.tcpSequence.rawValue &+ UInt32(truncatingIfNeeded: packet.tcpSequenceLength)
        let window = max(UInt32(truncatingIfNeeded: packet.tcpWindow), 1)
        entry.tcp = TCPTracking()
        if state == .synSent {
            entry.tcp.original.end = end
            entry.tcp.original.maxWindow = window
            entry.tcp.original.maxEnd = end
            readOptions(packet, into: &entry.tcp.original)
        } else {
            guard settings.tcpLoose else { return false }
            entry.tcp.original.end = end
            entry.tcp.original.maxWindow = window
            entry.tcp.original.maxEnd = end &+ window
            // "We assume SACK and liberal window checking to handle window scaling."
            entry.tcp.original.flags = [.sackPermitted, .beLiberal]
            entry.tcp.reply.flags = [.sackPermitted, .beLiberal]
        }
        entry.tcp.lastIndex = .none
        return true
    }

    /// nf_conntrack_tcp_packet for a segment of `entry` travelling in `dir`.
    /// `ack` and `sackRight` are the segment's, already moved back into the
    /// receiver's own numbering when a helper changed payload lengths
    /// (nf_ct_seq_offset in tcp_in_window).
    static func packet(_ entry: inout ConnEntry, _ dir: Direction, _ packet: TrackedPacket, ack: UInt32,
                       sackRight: UInt32, now: Timestamp, settings: ConntrackTimeouts) -> TCPVerdict {
        let index = TCPFlagClass(packet.tcpFlags)
        let seq = packet.tcpSequence.rawValue
        let end = seq &+ UInt32(truncatingIfNeeded: packet.tcpSequenceLength)
        let rawAck = packet.tcpAcknowledgment.rawValue
        var old = entry.tcpState
        var new: TCPState
        var checkWindow = true
        switch TCPStateTable.transition(dir, index, from: old) {
        case .invalid:
            return .invalid(.tcpTransition)
        case .ignore:
            let tcp = entry.tcp
            if index == .synAck && tcp.lastIndex == .syn && tcp.lastDirection != dir && rawAck == tcp.lastEnd {
                // b) This SYN-ACK answers a SYN we ignored: client and server
                // are in sync, the firewall is not. Take the SYN's annotations.
                old = .synSent
                new = .synReceived
                var side = entry.tcp[tcp.lastDirection]
                side.end = tcp.lastEnd
                side.maxEnd = tcp.lastEnd
                side.maxWindow = max(UInt32(truncatingIfNeeded: tcp.lastWindow), 1)
                side.scale = tcp.lastWindowScale
                entry.tcp.lastFlags.remove(.expectChallengeACK)
                side.flags = entry.tcp.lastFlags
                entry.tcp[tcp.lastDirection] = side
                entry.tcp[dir].reset()
            } else {
                noteIgnored(&entry.tcp, dir, index, old, packet, seq: seq, end: end)
                return .ignore
            }
        case .to(let next):
            new = next
            switch next {
            case .timeWait:
                // RFC 5961: a challenge ACK answering a spurious SYN in
                // LAST_ACK does not acknowledge the last FIN.
                if old == .lastAck && index == .ack && entry.tcp.lastDirection != dir && entry.tcp.lastIndex == .syn
                    && entry.tcp.lastFlags.contains(.expectChallengeACK) {
                    entry.tcp.lastFlags.remove(.expectChallengeACK)
                    return .ignore
                }
            case .synSent2:
                entry.tcp.lastFlags.insert(.simultaneousOpen)
            case .synReceived:
                if dir == .reply && index == .ack && entry.tcp.lastFlags.contains(.simultaneousOpen) { new = .established }
            case .close where index == .rst:
                switch resetDecision(entry, dir, old: old, seq: seq, rawAck: rawAck) {
                case .invalid:
                    return .invalid(.tcpResetOutOfWindow)
                case .checkWindow(let keepState):
                    if keepState { new = old }
                case .skipWindow(let keepState):
                    if keepState { new = old }
                    checkWindow = false
                }
            default:
                break
            }
        }

        if checkWindow {
            // The two sides in place (disjoint stored properties of the entry).
            let action = dir == .original
                ? inWindow(&entry.tcp.original, &entry.tcp.reply, state: entry.tcpState, dir, packet, seq: seq, end: end,
                           ack: ack, sackRight: sackRight, liberal: settings.tcpBeLiberal)
                : inWindow(&entry.tcp.reply, &entry.tcp.original, state: entry.tcpState, dir, packet, seq: seq, end: end,
                           ack: ack, sackRight: sackRight, liberal: settings.tcpBeLiberal)
            switch action {
            case .accept:
                if index == .ack { noteRetransmission(&entry.tcp, dir, packet, seq: seq, end: end, ack: ack) }
            case .acceptOutOfWindow:
                break
            case .ignore:
                return .ignore
            case .invalid(let reason):
                handleInvalid(&entry, dir, index, now: now, settings: settings)
                return .invalid(reason)
            }
        }

        // In window from here on.
        entry.tcp.lastIndex = index
        entry.tcp.lastDirection = dir
        entry.tcpState = new
        if old != new && new == .finWait { entry.tcp[dir].flags.insert(.closeInit) }

        let stateTimeout = settings.tcp(new)
        var timeout: UInt32
        if entry.tcp.retransmissions >= settings.tcpMaxRetransmissions && stateTimeout > settings.tcpRetransmission {
            timeout = settings.tcpRetransmission
        } else if index == .rst {
            timeout = settings.tcp(.close)
        } else if entry.tcp.original.flags.union(entry.tcp.reply.flags).contains(.dataUnacknowledged)
                    && stateTimeout > settings.tcpUnacknowledged {
            timeout = settings.tcpUnacknowledged
        } else if entry.tcp.lastWindow == 0 && stateTimeout > settings.tcpRetransmission {
            timeout = settings.tcpRetransmission
        } else {
            timeout = stateTimeout
        }

        if !entry.hasSeenReply {
            if index == .rst {
                // "If only reply is a RST, we can consider ourselves not to
                // have an established connection": Linux deletes the entry at
                // once; tunwall closes it (CLOSE, 10 s), which refuses the same.
                entry.tcpState = .close
                return .accept(.close, timeout: settings.tcp(.close))
            }
            if index == .syn && old == .synSent {
                // A retransmitted SYN does not renew the timeout, or a client
                // (or a NAT in front of it) reusing the port would keep an
                // unanswered entry alive for ever.
                return .accept(new, timeout: nil)
            }
            // ESTABLISHED without a reply: a connection picked up mid-stream
            // (or never answered) gets the unacknowledged timeout, not 5 days.
            if new == .established && timeout > settings.tcpUnacknowledged { timeout = settings.tcpUnacknowledged }
        } else if !entry.isAssured && (old == .synReceived || old == .established) && new == .established {
            // A valid ACK in ESTABLISHED after SYN_RECV, or a valid answer
            // for a picked-up connection.
            entry.status.insert(.assured)
        }
        return .accept(new, timeout: timeout)
    }

    // MARK: Resets

    private enum ResetDecision {
        case invalid
        case checkWindow(keepState: Bool)
        case skipWindow(keepState: Bool)
    }

    /// tcp_packet's TCP_CONNTRACK_CLOSE case for a RST (Linux 5.x+, as in
    /// 6.18): a reset whose seq is below the highest ack its receiver sent is
    /// invalid ("invalid rst"); one that is exactly that ack, or ends a train
    /// of segments, closes; one elsewhere in the window keeps the state
    /// (with the CLOSE timeout) so that the endpoint's RFC 5961 challenge ACK
    /// can follow and refresh it. A reset answering a SYN or ACK we let
    /// through while out of sync closes without the window check.
    private static func resetDecision(_ entry: ConnEntry, _ dir: Direction, old: TCPState, seq: UInt32,
                                      rawAck: UInt32) -> ResetDecision {
        let tcp = entry.tcp
        // tcp_can_early_drop: closing already; the tuple may have been reused.
        if old.isClosing { return .skipWindow(keepState: false) }
        let established = old == .established && entry.isAssured
        var keepState = false
        let receiver = tcp[dir.opposite]
        if receiver.flags.contains(.maxAckSet) && tcp.lastIndex != .syn {
            // Not established and seq 0: most likely the answer to a SYN we let through.
            if seq == 0 && !established { return .checkWindow(keepState: false) }
            if before(seq, receiver.maxAck) { return .invalid }
            if !established || seq == receiver.maxAck { return .checkWindow(keepState: false) }
            // A RST ending a train: "P 235946583:235946602(19), R 235946602:235946602(0)".
            if tcp.lastIndex == .ack && tcp.lastDirection == dir && seq == tcp.lastEnd {
                return .checkWindow(keepState: false)
            }
            keepState = true
        }
        if ((entry.hasSeenReply && tcp.lastIndex == .syn) || (!entry.isAssured && tcp.lastIndex == .ack))
            && rawAck == tcp.lastEnd {
            // The RST answers an invalid SYN or ACK we let through: it may
            // acknowledge segments we ignored, so no window check.
            return .skipWindow(keepState: keepState)
        }
        // A reset answering a challenge ACK we let through earlier.
        if old == .synSent && tcp.lastIndex == .ack && tcp.lastDirection == .reply && seq == tcp.lastAcknowledgment {
            return .skipWindow(keepState: keepState)
        }
        return .checkWindow(keepState: keepState)
    }

    // MARK: The window

    /// tcp_in_window (but for its retransmission check, noteRetransmission).
    /// Updates both sides when the segment is in window.
    private static func inWindow(_ sender: inout TCPWindowSide, _ receiver: inout TCPWindowSide, state: TCPState,
                                 _ dir: Direction, _ packet: TrackedPacket, seq: UInt32, end: UInt32, ack: UInt32,
                                 sackRight: UInt32, liberal globalLiberal: Bool) -> WindowAction {
        // The flag bits (RFC 9293 §3.1) read once: TCPFlags' static members
        // live in Wire and cost an accessor call each on this hot path.
        let bits = packet.tcpFlags.rawValue
        let syn = bits & 0x02 != 0, rst = bits & 0x04 != 0, hasAck = bits & 0x10 != 0
        var window = UInt32(truncatingIfNeeded: packet.tcpWindow)
        var seq = seq
        var end = end
        var ack = ack
        var sack = ack
        if receiver.flags.contains(.sackPermitted) && packet.tcpOptions.contains(.sack) && after(sackRight, sack) {
            sack = sackRight
        }

        if sender.maxWindow == 0 {
            if syn {
                // A SYN-ACK answering a SYN, or the reply side's SYN in a simultaneous open.
                initSender(&sender, &receiver, packet, end: end, window: window, dir)
                if !hasAck { return .acceptOutOfWindow }
            } else {
                // Mid-stream: this side's history is lost; use the segment's.
                sender.end = end
                let scaled = window << UInt32(truncatingIfNeeded: sender.scale)
                sender.maxWindow = scaled == 0 ? 1 : scaled
                sender.maxEnd = end &+ sender.maxWindow
                if receiver.maxWindow == 0 {
                    // Nothing seen the other way yet: let III and IV pass until then.
                    receiver.end = sack
                    receiver.maxEnd = sack
                } else if sack == receiver.end &+ 1 {
                    // Likely the answer to a keepalive (needed for III).
                    receiver.end &+= 1
                }
            }
        } else if syn && after(end, sender.end) && (state == .synSent || state == .synReceived) {
            // RFC 793: a reinitialised TCP "must only be sure to use sequence
            // numbers larger than those recently used": start this side over.
            initSender(&sender, &receiver, packet, end: end, window: window, dir)
            if dir == .reply && !hasAck { return .acceptOutOfWindow }
        }

        if !hasAck {
            // No ACK: pretend it acknowledged everything.
            ack = receiver.end
            sack = ack
        } else if rst && ack == 0 {
            // Broken stacks that set ACK on a RST with a zero ack.
            ack = receiver.end
            sack = ack
        }
        if rst && seq == 0 && state == .synSent {
            // A RST answering a SYN.
            seq = sender.end
            end = sender.end
        }

        let liberal = globalLiberal || sender.flags.contains(.beLiberal)
        let maximumAckWindow = max(sender.maxWindow, maximumAckWindowConstant)

        // I: upper bound for data.
        if !before(seq, sender.maxEnd &+ 1) {
            let overshot = end &- sender.maxEnd &+ 1
            let ackInWindow = after(sack, receiver.end &- maximumAckWindow &- 1)
            let inReceiveWindow = receiver.maxWindow != 0 && after(end, sender.end &- receiver.maxWindow &- 1)
            if inReceiveWindow && ackInWindow && overshot <= receiver.maxWindow && before(sack, receiver.end &+ 1) {
                // TCPs that send more than the receive window allows: pass
                // it unchanged but remember its end, or the peer's ack of it
                // would break III for every later segment.
                sender.end = end
                sender.flags.insert(.dataUnacknowledged)
                return liberal ? .acceptOutOfWindow : .ignore
            }
            return liberal ? .acceptOutOfWindow : .invalid(.tcpSequenceOverWindow)
        }
        // III: upper bound for (s)ack.
        if !before(sack, receiver.end &+ 1) {
            return liberal ? .acceptOutOfWindow : .invalid(.tcpAckOverWindow)
        }
        // II: lower bound for data (already acknowledged data retransmitted).
        if receiver.maxWindow != 0 && !after(end, sender.end &- receiver.maxWindow &- 1) {
            return liberal ? .acceptOutOfWindow : .ignore
        }
        // IV: lower bound for (s)ack (possibly overly delayed).
        if !after(sack, receiver.end &- maximumAckWindow &- 1) {
            return liberal ? .acceptOutOfWindow : .ignore
        }

        // RFC 7323: a SYN's window is never scaled.
        if !syn { window <<= UInt32(truncatingIfNeeded: sender.scale) }

        let senderWindow = window &+ (sack &- ack)
        if sender.maxWindow < senderWindow { sender.maxWindow = senderWindow }
        if after(end, sender.end) {
            sender.end = end
            sender.flags.insert(.dataUnacknowledged)
        }
        if hasAck {
            if !sender.flags.contains(.maxAckSet) {
                sender.maxAck = ack
                sender.flags.insert(.maxAckSet)
            } else if after(ack, sender.maxAck) {
                sender.maxAck = ack
            }
        }

        if receiver.maxWindow != 0 && after(end, sender.maxEnd) { receiver.maxWindow &+= end &- sender.maxEnd }
        if after(sack &+ window, receiver.maxEnd &- 1) {
            receiver.maxEnd = sack &+ window
            if window == 0 { receiver.maxEnd &+= 1 }
        }
        if ack == receiver.end { receiver.flags.remove(.dataUnacknowledged) }
        return .accept
    }

    /// The end of tcp_in_window for an in-window ACK segment: the same
    /// segment again counts as a retransmission (tcp_max_retrans). An ACK
    /// segment's seq, end and ack are the ones the window check used.
    private static func noteRetransmission(_ tcp: inout TCPTracking, _ dir: Direction, _ packet: TrackedPacket,
                                           seq: UInt32, end: UInt32, ack: UInt32) {
        if tcp.lastDirection == dir && tcp.lastSequence == seq && tcp.lastAcknowledgment == ack
            && tcp.lastEnd == end && tcp.lastWindow == packet.tcpWindow {
            tcp.retransmissions &+= 1
        } else {
            tcp.lastDirection = dir
            tcp.lastSequence = seq
            tcp.lastAcknowledgment = ack
            tcp.lastEnd = end
            tcp.lastWindow = packet.tcpWindow
            tcp.retransmissions = 0
        }
    }

    /// tcp_init_sender: a SYN or SYN-ACK (re)starts its side.
    private static func initSender(_ sender: inout TCPWindowSide, _ receiver: inout TCPWindowSide,
                                   _ packet: TrackedPacket, end: UInt32, window: UInt32, _ dir: Direction) {
        sender.end = end
        sender.maxEnd = end
        sender.maxWindow = window == 0 ? 1 : window
        readOptions(packet, into: &sender)
        // RFC 7323 §2.2: scaling applies only if both SYNs carried the option.
        if dir == .reply && !(sender.flags.contains(.windowScale) && receiver.flags.contains(.windowScale)) {
            sender.scale = 0
            receiver.scale = 0
        }
    }

    /// tcp_options: window scale and SACK-permitted of a SYN.
    private static func readOptions(_ packet: TrackedPacket, into side: inout TCPWindowSide) {
        side.scale = 0
        side.flags = side.flags.intersection(.beLiberal)
        if packet.tcpOptions.contains(.sackPermitted) { side.flags.insert(.sackPermitted) }
        if packet.tcpOptions.contains(.windowScale) {
            side.scale = min(packet.tcpWindowScale, 14)
            side.flags.insert(.windowScale)
        }
    }

    /// The sIG case of tcp_packet: remember the segment, so that a SYN-ACK
    /// answering an ignored SYN can resynchronise and a RST answering it is
    /// recognised.
    private static func noteIgnored(_ tcp: inout TCPTracking, _ dir: Direction, _ index: TCPFlagClass, _ old: TCPState,
                                    _ packet: TrackedPacket, seq: UInt32, end: UInt32) {
        tcp.lastIndex = index
        tcp.lastDirection = dir
        tcp.lastSequence = seq
        tcp.lastEnd = end
        tcp.lastWindow = packet.tcpWindow
        if index == .syn && dir == .original {
            // a) A SYN in the original direction: keep its options; if the
            // server answers it with a SYN-ACK we resynchronise from them.
            tcp.lastFlags = []
            tcp.lastWindowScale = 0
            if packet.tcpOptions.contains(.windowScale) {
                tcp.lastFlags.insert(.windowScale)
                tcp.lastWindowScale = min(packet.tcpWindowScale, 14)
            }
            if packet.tcpOptions.contains(.sackPermitted) { tcp.lastFlags.insert(.sackPermitted) }
            // In LAST_ACK the server may answer with an RFC 5961 challenge ACK.
            if old == .lastAck { tcp.lastFlags.insert(.expectChallengeACK) }
        }
        // A possible challenge ACK answering a SYN.
        if old == .synSent && index == .ack && dir == .reply { tcp.lastAcknowledgment = packet.tcpAcknowledgment.rawValue }
    }

    /// nf_tcp_handle_invalid: an out-of-window FIN or RST answering the other
    /// side's FIN or RST on an ASSURED connection means conntrack and the
    /// endpoints disagree: shorten the timeout to the unacknowledged one
    /// rather than hold a dead entry for days. Otherwise remember it.
    private static func handleInvalid(_ entry: inout ConnEntry, _ dir: Direction, _ index: TCPFlagClass,
                                      now: Timestamp, settings: ConntrackTimeouts) {
        guard entry.isAssured, index == .rst || index == .fin else { return }
        if entry.tcp.lastDirection != dir && (entry.tcp.lastIndex == .fin || entry.tcp.lastIndex == .rst) {
            let left = entry.expires > now ? entry.expires - now : 0
            if left < 120 * nanosecondsPerSecond { return }
            let unacknowledged = UInt64(settings.tcpUnacknowledged) * nanosecondsPerSecond
            if left > unacknowledged { entry.expires = saturatingAdd(now, unacknowledged) }
        } else {
            entry.tcp.lastIndex = index
            entry.tcp.lastDirection = dir
        }
    }
}

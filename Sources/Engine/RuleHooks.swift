// Where the ruleset meets the pipeline: what a rule sees of a packet
// (`RulePacket`, filled once and reused across hooks), running a hook's base
// chains, carrying out `reject`, and the output hook for the packets the
// firewall makes itself (ICMP errors, echo replies, resets), which Linux
// also runs through OUTPUT and POSTROUTING.
//
// Example: with `iifname "lan0" tcp dport 23 reject with tcp reset` in the
// forward chain, a client's SYN to 203.0.113.10:23 is answered at once with a
// RST from 203.0.113.10 (as Linux's nf_reject builds it), and the SYN is
// dropped under `rule-reject`.

import Conntrack
import Rules
import Wire

extension Engine {
    /// What the rules see of a packet that arrived on `input`.
    func rulePacket(_ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket, input: InterfaceID,
                    state: ConnState, now: Timestamp = 0, entry: Int? = nil) -> RulePacket {
        var packet = RulePacket()
        packet.family = parsed.family
        packet.time = now
        // What `ct count` counts: the connection's original tuple (a new one's is the packet's).
        // Only for a ruleset with `ct count`: reading the entry copies it whole.
        if ruleset.countsConnections {
            if let entry, entry >= 0, entry < conntrack.table.capacity {
                packet.connection = conntrack.table[entry].original
            } else {
                packet.connection = parsed.tuple
            }
        }
        packet.inputInterface = input
        packet.source = parsed.tuple.source
        packet.destination = parsed.tuple.destination
        packet.l4Protocol = parsed.l4Protocol
        packet.ctState = state
        packet.length = parsed.length
        packet.l4Length = parsed.length - parsed.l4Offset
        packet.ttl = parsed.ttl
        switch parsed.family {
        case .ipv4:
            let ip = IPv4Packet(parsed: bytes)
            packet.tos = ip.typeOfService
            packet.ipIdentification = ip.identification
            packet.dontFragment = parsed.dontFragment
        case .ipv6:
            let ip = IPv6Packet(parsed: bytes)
            packet.tos = ip.trafficClass
            packet.flowLabel = ip.flowLabel
        }
        guard !parsed.isLaterFragment else { return packet }
        let l4 = bytes.suffix(from: parsed.l4Offset)
        switch parsed.l4Protocol {
        case .tcp:
            packet.sourcePort = parsed.tuple.sourcePort
            packet.destinationPort = parsed.tuple.destinationPort
            packet.tcpFlags = parsed.tracked.tcpFlags
            if l4.count >= TCPSegment.minimumHeaderLength {
                let segment = TCPSegment(parsed: l4)
                packet.tcpWindow = segment.window
                packet.tcpUrgentPointer = segment.urgentPointer
            }
        case .udp:
            packet.sourcePort = parsed.tuple.sourcePort
            packet.destinationPort = parsed.tuple.destinationPort
        case .icmp:
            if let message = try? ICMPv4Message(validating: l4) { fillICMP(&packet, message) }
        case .icmpv6:
            if let message = try? ICMPv6Message(validating: l4) { fillICMP(&packet, message) }
        default:
            break
        }
        return packet
    }

    private func fillICMP(_ packet: inout RulePacket, _ message: some ICMPMessageView) {
        packet.icmpType = message.typeNumber
        packet.icmpCode = message.code
        packet.icmpEchoIdentifier = message.identifier
        packet.icmpEchoSequence = message.sequenceNumber
    }

    /// Runs `hook`'s base chains for the packet in the pipeline; log lines go
    /// to `pendingLog`, the deciding rule to the packet's trace. A rule that
    /// marks the packet (`meta nftrace set 1`) starts its trace here.
    @inline(__always)
    func runHook(_ hook: Hook, _ ctx: inout PacketContext, _ packet: PacketBuffer) -> RuleVerdict {
        guard tracing || tracingMarked else { return ruleset.evaluate(hook, &ctx.rules, log: &pendingLog) }
        ctx.rules.decision = -1
        let verdict = ruleset.evaluate(hook, &ctx.rules, log: &pendingLog)
        if tracingMarked && ctx.rules.nftrace { markTrace(hook, verdict: verdict, &ctx, packet) }
        traceRule(hook, verdict, decision: ctx.rules.decision, &ctx.trace)
        return verdict
    }

    /// Runs `hook`'s base chains for a packet the engine made (no marking:
    /// such a packet is traced only while everything is).
    @inline(__always)
    func runHook(_ hook: Hook, _ packet: inout RulePacket, _ trace: inout PacketTrace?) -> RuleVerdict {
        guard tracing else { return ruleset.evaluate(hook, &packet, log: &pendingLog) }
        packet.decision = -1
        let verdict = ruleset.evaluate(hook, &packet, log: &pendingLog)
        traceRule(hook, verdict, decision: packet.decision, &trace)
        return verdict
    }

    /// A drop or reject from the rules: carries out the reject and counts.
    func ruleDrop(_ verdict: RuleVerdict, _ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket,
                  input: InterfaceID, state: ConnState, now: Timestamp) -> Verdict {
        guard case .reject(let kind) = verdict else { return drop(.ruleDrop) }
        switch kind {
        case .tcpReset:
            if parsed.l4Protocol == .tcp && !parsed.isFragment {
                sendReset(for: parsed, arrivedOn: input, state: state, now: now)
            }
        case .icmpPortUnreachable:
            sendICMPError(.portUnreachable, about: bytes, parsed: parsed, now: now)
        case .icmpv6PortUnreachable:
            sendICMPError(.portUnreachable, about: bytes, parsed: parsed, now: now)
        case .icmpv6AdministrativelyProhibited:
            sendICMPError(.raw(type: ICMPv6Type.destinationUnreachable.rawValue,
                               code: ICMPv6UnreachableCode.administrativelyProhibited), about: bytes, parsed: parsed, now: now)
        case .icmp(let type, let code):
            sendICMPError(.raw(type: type, code: code), about: bytes, parsed: parsed, now: now)
        }
        return drop(.ruleReject)
    }

    /// OUTPUT and POSTROUTING for a packet the engine made in outbox `slot`
    /// (going out of `interface`): commits it if the rules let it out. While
    /// tracing, the rules' steps go in the made packet's own record.
    func commitGenerated(_ slot: Int, interface: InterfaceID, state: ConnState) {
        var trace = tracing
            ? PacketTrace(record: generatedTrace(slot, interface: interface, origin: .generated), endpoints: TraceEndpoints())
            : nil
        if hasRules {
            let bytes = outbox.buffers[slot].bytes
            var parsed = ParsedPacket.empty
            if (try? PacketParser.parse(bytes, virtio: .init(), into: &parsed)) != nil {
                var packet = rulePacket(bytes, parsed, input: -1, state: state)
                packet.outputInterface = interface
                guard runHook(.output, &packet, &trace) == .accept, runHook(.postrouting, &packet, &trace) == .accept else {
                    count(.ruleDrop)
                    return
                }
            }
        }
        outbox.commit(slot, interface: interface)
        statistics.generated &+= 1
        if let trace { traceGenerated(trace.record) }
    }

    /// Installs a new ruleset at once: every tracked connection is kept
    /// (nft -f's atomic replace). The old one is dropped with its counters.
    public func replaceRuleset(_ new: Ruleset) {
        // meta iiftype: ARPHRD_ETHER for TAP, ARPHRD_NONE for TUN (drivers/net/tun.c).
        new.bind(interfaceNames: interfaces.map(\.name), interfaceTypes: isEthernet.map { $0 ? 1 : 0xfffe })
        if new.countsConnections {
            // nf_conncount's question to conntrack: is the connection still there, and not a TCP
            // connection that is closing (TIME_WAIT, CLOSE), which Linux stops counting?
            new.connectionPresence = { [weak self] tuple, now in
                guard let self else { return .absent }
                guard let found = self.conntrack.table.lookup(tuple, now: now) else {
                    // With several workers the lists are shared: a connection another
                    // worker owns is counted while it is in the directory (its owner
                    // takes it out of the lists when it closes: Engine.track).
                    if let steering = self.steering, let owner = steering.directory.owner(of: tuple),
                       owner != steering.worker {
                        return .counted
                    }
                    return .absent
                }
                let entry = self.conntrack.table[found.entry]
                if entry.original.protocol == .tcp && (entry.tcpState == .timeWait || entry.tcpState == .close) {
                    return .closed
                }
                return .counted
            }
        }
        ruleset = new
        hasRules = new !== Ruleset.empty
        tracingMarked = followsNftrace && new.setsNftrace
    }

    /// Log lines the rules wrote since the last call (kernel log format).
    public func takeLog() -> [String] {
        guard !pendingLog.isEmpty else { return [] }
        defer { pendingLog.removeAll(keepingCapacity: true) }
        return pendingLog
    }
}

// The evaluator: one hook, one packet, the chain walk of nf_tables_core.c
// (nft_do_chain) over the compiled arrays.
//
// Base chains of the hook run in priority order. In a chain, rules run in
// order; a rule whose matches all hold runs its actions: counters count,
// `log` appends a kernel-format line, `accept` ends this base chain (the
// next one still sees the packet), `drop` and `reject` end everything,
// `jump` runs the target and, if it ends or returns, goes on with the next
// rule, `goto` continues in the target without coming back, `return` leaves
// the chain, `continue` goes to the next rule. A base chain that ends without
// a verdict applies its policy. `jump` recurses (the validator bounds the
// depth at 15, netfilter's limit), so nothing is allocated per packet; only
// `log` allocates, for the line it appends.
//
// `evaluate` runs the filter (and route) base chains only; `type nat` base
// chains are `evaluateNAT`'s, which runs them the way nf_nat_inet_fn does for
// the first packet of a connection: each nat base chain of the hook in
// priority order until one sets up a binding. A NAT statement is a terminal
// verdict there (nft_nat_eval: accept, with the binding made); a chain that
// accepts without one, explicitly or by policy, hands the packet to the next
// nat chain; a drop ends it all. `ct helper set` marks the packet's new
// connection for its helper (RulePacket.helper); the engine attaches it.

import Conntrack
import Wire

enum ChainOutcome {
    case accept, drop, end
    case reject(RuleVerdict)
    /// A NAT statement was reached: natActions[index].
    case nat(Int32)
}

extension Ruleset {
    /// Runs every filter (and route) base chain attached to `hook` for the packet's family, in priority
    /// order; `type nat` chains are left to `evaluateNAT`.
    public func evaluate(_ hook: Hook, _ packet: inout RulePacket, log: inout [String]) -> RuleVerdict {
        let slot = CompiledProgram.slot(hook, ipv6: packet.family == .ipv6)
        var index = Int(hookOffsets[slot])
        let end = Int(hookOffsets[slot + 1])
        while index < end {
            let chain = hookChains[index]
            switch run(chain, &packet, &log) {
            case .accept, .nat:
                // (.nat cannot happen: NAT statements are only reachable from nat chains, the validator says.)
                break
            case .drop:
                return .drop
            case .reject(let verdict):
                return verdict
            case .end:
                // The chain's policy decided (RulePacket.decision: -2 - chain).
                packet.decision = -2 - chain
                if chains[Int(chain)].policyDrop { return .drop }
            }
            index += 1
        }
        return .accept
    }

    /// Runs the `type nat` base chains attached to `hook` for the packet's family, in priority order,
    /// the way Linux runs nat chains for the first packet of a connection (nf_nat_inet_fn; the engine
    /// only calls this for ct state new). Matches and non-terminal statements (counter, log) work as in
    /// filter chains; the first NAT statement reached is the result (in Linux a terminal verdict: accept
    /// with a NAT binding); `drop` (and `reject`, which cannot answer here) gives .drop; jump/goto/return
    /// as usual. A chain that accepts without reaching a NAT statement, by an `accept` or by its
    /// policy, hands the packet to the next nat base chain of the hook, as netfilter does (the nat core
    /// only stops early once a binding is set up); when none is left the result is .none. A policy drop
    /// gives .drop. In an inet table, `snat ip …`/`dnat ip6 …` (a statement with an address) passes
    /// over packets of the other family and the rule goes on (nft_nat_inet_eval).
    ///
    /// Which hooks: dnat and redirect in prerouting and output; snat and masquerade in postrouting and
    /// input (masquerade postrouting only; the validator enforces this). Allocates nothing unless a
    /// `log` statement fires.
    public func evaluateNAT(_ hook: Hook, _ packet: inout RulePacket, log: inout [String]) -> NATVerdict {
        let slot = CompiledProgram.slot(hook, ipv6: packet.family == .ipv6)
        var index = Int(natHookOffsets[slot])
        let end = Int(natHookOffsets[slot + 1])
        while index < end {
            let chain = natHookChains[index]
            switch run(chain, &packet, &log) {
            case .nat(let entry):
                return .translate(natActions[Int(entry)].action)
            case .accept:
                break
            case .drop, .reject:
                return .drop
            case .end:
                packet.decision = -2 - chain
                if chains[Int(chain)].policyDrop { return .drop }
            }
            index += 1
        }
        return .none
    }

    /// True if any `type nat` base chain (of either family) is attached to `hook`: the engine can skip
    /// `evaluateNAT` otherwise.
    public func hasNATChains(_ hook: Hook) -> Bool {
        natHooks & (1 << UInt8(hook.rawValue)) != 0
    }

    private func run(_ start: Int32, _ packet: inout RulePacket, _ log: inout [String]) -> ChainOutcome {
        var chain = chains[Int(start)]
        var ruleIndex = Int(chain.ruleStart)
        while ruleIndex < Int(chain.ruleEnd) {
            let rule = rules[ruleIndex]
            ruleIndex += 1
            guard matchesAll(rule, &packet) else { continue }
            var actionIndex = Int(rule.actionStart)
            actions: while actionIndex < Int(rule.actionEnd) {
                var action = actions[actionIndex]
                switch action {
                case .vmap(let field, let start, let count, let interfaces):
                    // The element's verdict, carried out below; a miss ends the rule.
                    guard let found = lookup(field, Int(start), Int(count), interfaces: interfaces, &packet) else {
                        break actions
                    }
                    action = mapEntries[found].action
                case .limit(let index):
                    guard limit(Int(index), now: packet.time) else { break actions }
                    actionIndex += 1
                    continue actions
                case .connlimit(let index):
                    guard connlimit(Int(index), &packet) else { break actions }
                    actionIndex += 1
                    continue actions
                case .check(let index):
                    guard matches(lateMatches[Int(index)], &packet) else { break actions }
                    actionIndex += 1
                    continue actions
                default:
                    break
                }
                switch action {
                case .counter(let counter):
                    counterPackets[Int(counter)] &+= 1
                    counterBytes[Int(counter)] &+= UInt64(truncatingIfNeeded: packet.length)
                case .log(let entry):
                    log.append(logLine(prefix: logs[Int(entry)].prefix, packet))
                case .accept:
                    packet.decision = Int32(ruleIndex - 1)
                    return .accept
                case .drop:
                    packet.decision = Int32(ruleIndex - 1)
                    return .drop
                case .reject(let ipv4, let ipv6):
                    packet.decision = Int32(ruleIndex - 1)
                    return .reject(packet.family == .ipv6 ? ipv6 : ipv4)
                case .jump(let target):
                    let outcome = run(target, &packet, &log)
                    if case .end = outcome { break actions }
                    return outcome
                case .goto(let target):
                    chain = chains[Int(target)]
                    ruleIndex = Int(chain.ruleStart)
                    break actions
                case .return:
                    return .end
                case .continue:
                    break actions
                case .nat(let entry):
                    let family = natActions[Int(entry)].nfproto
                    if family == 0 || family == (packet.family == .ipv6 ? 10 : 2) {
                        packet.decision = Int32(ruleIndex - 1)
                        return .nat(entry)
                    }
                case .helper(let helper, let l4, let nfproto):
                    // Only a connection not yet confirmed gets a helper, and only one of the
                    // helper's protocol and family (nft_ct_helper_obj_eval).
                    if packet.ctState == .new && packet.l4Protocol.rawValue == l4
                        && (nfproto == 0 || nfproto == (packet.family == .ipv6 ? 10 : 2)) {
                        packet.helper = helper
                    }
                case .nftrace(let on):
                    // nft_meta_set_eval: skb->nf_trace = !!value. The packet stays marked for
                    // the rest of its way (later rules, chains and hooks), as an skb flag does.
                    packet.nftrace = on
                    if on { packet.nftraceRule = Int32(ruleIndex - 1) }
                case .vmap, .limit, .connlimit, .check:
                    break  // (handled above; a map element holds a verdict only)
                }
                actionIndex += 1
            }
        }
        return .end
    }

    @inline(__always)
    private func matchesAll(_ rule: CompiledRule, _ packet: inout RulePacket) -> Bool {
        if rule.nfproto != 0 && rule.nfproto != (packet.family == .ipv6 ? 10 : 2) { return false }
        if rule.checksL4 && rule.l4Protocol != packet.l4Protocol.rawValue { return false }
        var index = Int(rule.matchStart)
        let end = Int(rule.matchEnd)
        while index < end {
            if !matches(matches[index], &packet) { return false }
            index += 1
        }
        return true
    }

    @inline(__always)
    private func matches(_ match: CompiledMatch, _ packet: inout RulePacket) -> Bool {
        let result: Bool
        switch match.kind {
        case .interface:
            let interface = match.field == .inputInterface ? packet.inputInterface : packet.outputInterface
            let slot = interface >= 0 && interface < interfaceNames.count ? interface : interfaceNames.count
            let word = interfaceBits[Int(match.start) * interfaceWords + slot / 64]
            result = word & (1 << UInt64(slot % 64)) != 0
        case .equal:
            result = value(match.field, packet) == match.value
        case .maskedEqual:
            result = value(match.field, packet) & match.mask == match.value
        case .anyBit:
            result = value(match.field, packet) & match.mask != 0
        case .inIntervals:
            result = contains(value(match.field, packet), Int(match.start), Int(match.count))
        }
        // A layer-2 field the packet lacks matches neither way: nft puts
        // `meta iiftype ether` in front of an ether match, and the kernel's
        // payload and meta expressions break the rule (NFT_BREAK) without a
        // MAC header or an input device.
        if match.negate && !result && match.field.isLinkLayer && value(match.field, packet) == Self.absent { return false }
        return result != match.negate
    }

    /// The verdict map element the packet's field selects (index into mapEntries). (Out of line,
    /// as `limit` and `connlimit`: the rule walk's loop stays as small as it was without them.
    /// The packet goes `inout` here and to the matches: a RulePacket passed by value to a call
    /// not inlined is copied, which cost the 1,000-rule bench 21% of its instructions in memcpy.)
    @inline(never)
    private func lookup(_ field: PacketField, _ start: Int, _ count: Int, interfaces: Bool, _ packet: inout RulePacket) -> Int? {
        if interfaces {
            let interface = field == .inputInterface ? packet.inputInterface : packet.outputInterface
            let slot = interface >= 0 && interface < interfaceNames.count ? interface : interfaceNames.count
            for index in start..<(start + count) {
                let row = Int(truncatingIfNeeded: UInt64(truncatingIfNeeded: mapEntries[index].low))
                let word = interfaceBits[row * interfaceWords + slot / 64]
                if word & (1 << UInt64(slot % 64)) != 0 { return index }
            }
            return nil
        }
        let key = value(field, packet)
        var low = start
        var high = start + count
        while low < high {
            let middle = (low + high) / 2
            if mapEntries[middle].high < key {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low < start + count && mapEntries[low].low <= key ? low : nil
    }

    /// nft_limit_eval for packets: refill by the time since the last packet, capped at the burst;
    /// true if the statement holds (under the rate, or over it with `over`).
    @inline(never)
    private func limit(_ index: Int, now: UInt64) -> Bool {
        let spec = limits[index]
        let bucket = limitBuckets
        return bucket.withLock(index) {
            var tokens = spec.maximum
            if bucket.started[index] {
                let elapsed = now > bucket.last[index] ? now - bucket.last[index] : 0
                let (sum, overflow) = bucket.tokens[index].addingReportingOverflow(elapsed)
                tokens = overflow ? spec.maximum : min(sum, spec.maximum)
            }
            bucket.started[index] = true
            bucket.last[index] = max(now, bucket.last[index])
            if tokens >= spec.cost {
                bucket.tokens[index] = tokens - spec.cost
                return !spec.invert
            }
            bucket.tokens[index] = tokens
            return spec.invert
        }
    }

    /// nf_conncount_add and nft_connlimit_do_eval: forget connections that are gone or closed
    /// (keeping one not yet confirmed for a jiffy), add the packet's own, then compare the count.
    /// True if the statement holds (count <= limit, or count > limit with `over`).
    @inline(never)
    private func connlimit(_ index: Int, _ packet: inout RulePacket) -> Bool {
        let spec = connlimits[index]
        let start = Int(spec.start)
        let lists = connlimitLists
        let count = lists.withList(index) { () -> Int in
            var count = Int(lists.counts[index])
            var present = false
            var slot = 0
            while slot < count {
                let tuple = lists.tuples[start + slot]
                if tuple == packet.connection {
                    present = true
                    slot += 1
                    continue
                }
                let presence = connectionPresence?(tuple, packet.time) ?? .absent
                let young = packet.time >= lists.added[start + slot]
                    && packet.time - lists.added[start + slot] <= Ruleset.jiffy
                if presence == .counted || (presence == .absent && young) {
                    slot += 1
                    continue
                }
                lists.drop(slot, start: start, count: &count)
            }
            // Shared by several workers, a closing connection's own packet does not put it back:
            // its owner has taken it out (Ruleset.forgetCounted) and the others cannot see it close.
            if !present && count < Int(spec.capacity)
                && !(lists.shared && connectionPresence?(packet.connection, packet.time) == .closed) {
                lists.tuples[start + count] = packet.connection
                lists.added[start + count] = packet.time
                count += 1
            }
            // count <= spec.capacity, which the compiler bounds to 2^20 slots.
            lists.counts[index] = Int32(truncatingIfNeeded: count)
            return count
        }
        return (UInt64(count) > spec.limit) == spec.invert
    }

    /// How long nf_conncount keeps a connection it cannot find yet (two jiffies at HZ=250).
    static let jiffy: UInt64 = 8_000_000

    /// Binary search in sorted, disjoint intervals.
    @inline(__always)
    private func contains(_ key: Key, _ start: Int, _ count: Int) -> Bool {
        var low = start
        var high = start + count
        while low < high {
            let middle = (low + high) / 2
            if intervals[middle].high < key {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low < start + count && intervals[low].low <= key
    }

    @inline(__always)
    private func value(_ field: PacketField, _ packet: RulePacket) -> Key {
        switch field {
        case .source: return Key(packet.source)
        case .destination: return Key(packet.destination)
        case .l4Protocol: return Key(packet.l4Protocol.rawValue)
        case .nfproto: return packet.family == .ipv6 ? 10 : 2
        case .mark: return Key(packet.mark)
        case .sourcePort: return Key(packet.sourcePort)
        case .destinationPort: return Key(packet.destinationPort)
        case .tcpFlags: return Key(packet.tcpFlags.rawValue & 0xFF)
        case .icmpType: return Key(packet.icmpType)
        case .icmpCode: return Key(packet.icmpCode)
        case .ctState: return Ruleset.ctStateBit(packet.ctState)
        case .inputInterface: return Key(UInt64(bitPattern: Int64(packet.inputInterface)))
        case .outputInterface: return Key(UInt64(bitPattern: Int64(packet.outputInterface)))
        // Without an Ethernet header (a TUN interface, a packet the firewall
        // made) no value of the type: a key above every MAC and number.
        case .etherSource: return packet.linkType != 0 ? Key(packet.linkSource) : Self.absent
        case .etherDestination: return packet.linkType != 0 ? Key(packet.linkDestination) : Self.absent
        case .etherType: return packet.linkType != 0 ? Key(packet.linkType) : Self.absent
        case .inputInterfaceType:
            let input = packet.inputInterface
            return input >= 0 && input < interfaceTypes.count ? Key(interfaceTypes[input]) : Self.absent
        }
    }

    static let absent = Key(1) << 127

    /// nft's ct state bits (NF_CT_STATE_INVALID_BIT, NF_CT_STATE_BIT(IP_CT_ESTABLISHED), …).
    @inline(__always)
    static func ctStateBit(_ state: ConnState) -> Key {
        switch state {
        case .invalid: return 1
        case .established: return 2
        case .related: return 4
        case .new: return 8
        case .untracked: return 64
        }
    }

    // MARK: Counters

    /// Packets and bytes of each `counter` statement, in the order they appear in the file.
    public var counterValues: [(packets: UInt64, bytes: UInt64)] {
        (0..<counterPackets.count).map { (counterPackets[$0], counterBytes[$0]) }
    }

    /// How many connections each `ct count` statement counts now, in file order.
    public var connectionCounts: [Int] { (0..<connlimits.count).map { Int(connlimitLists.counts[$0]) } }

    /// Sets every counter to zero.
    public func resetCounters() {
        counterPackets.update(repeating: 0)
        counterBytes.update(repeating: 0)
    }
}

// The compiler: the checked model → flat arrays of plain values that the
// evaluator walks without allocating, comparing strings or hashing.
//
// Every match becomes one `CompiledMatch`: a packet field, a comparison kind
// and operands (a 128-bit value and mask, or a slice of the shared sorted
// interval array, or a row of the interface bitmask `bind` fills in). Rules
// are slices of the match and action arrays, chains slices of the rule
// array, and each (hook, family) has its base chains in priority order
// (ties in declaration order, as netfilter registers them).
//
// `type nat` base chains get hook tables of their own (natHookChains): the
// filter walk (`evaluate`) never sees them, `evaluateNAT` sees only them. A
// NAT statement compiles to an action naming its entry in `natActions`: the
// public NATAction and, for `snat ip …`/`dnat ip6 …` in an inet table, the
// one family it applies to (nft_nat_inet_eval: the other family passes over it).
//
// Example: `ip saddr 10.0.1.0/24 tcp dport { 21, 2121 } accept` in an inet
// table compiles to five matches — nfproto == 2, saddr in
// [::ffff:10.0.1.0, ::ffff:10.0.1.255], l4proto == 6, dport in
// {[21,21], [2121,2121]} — and one action, accept.

import Conntrack

/// Which part of the RulePacket a compiled match reads.
enum PacketField: UInt8, Sendable {
    case inputInterface, outputInterface, source, destination, l4Protocol, nfproto, mark
    case sourcePort, destinationPort, tcpFlags, icmpType, icmpCode, ctState
    /// Layer 2: present only for packets that came in by a TAP interface.
    case etherSource, etherDestination, etherType, inputInterfaceType

    var isLinkLayer: Bool { rawValue >= PacketField.etherSource.rawValue }
}

enum MatchKind: UInt8, Sendable {
    /// field == value
    case equal
    /// field & mask == value
    case maskedEqual
    /// field & mask != 0
    case anyBit
    /// field within one of intervals[start ..< start + count] (sorted, disjoint)
    case inIntervals
    /// bit of the packet's interface in interface row `start`
    case interface
}

/// 32 bytes, so that a chain of rules streams through the cache.
struct CompiledMatch: Sendable {
    var field: PacketField
    var kind: MatchKind
    var negate: Bool
    var count: Int32 = 0
    var valueHigh: UInt64 = 0
    var valueLow: UInt64 = 0
    /// The mask (maskedEqual, anyBit), or the first interval (inIntervals) or interface row (interface).
    var operand: UInt64 = 0

    init(field: PacketField, kind: MatchKind, negate: Bool) {
        self.field = field
        self.kind = kind
        self.negate = negate
    }

    var value: Key {
        get { Key(valueHigh) << 64 | Key(valueLow) }
        set {
            valueHigh = UInt64(truncatingIfNeeded: newValue >> 64)
            valueLow = UInt64(truncatingIfNeeded: newValue)
        }
    }

    var mask: Key {
        get { Key(operand) }
        set { operand = UInt64(truncatingIfNeeded: newValue) }
    }

    var start: Int32 {
        get { Int32(truncatingIfNeeded: operand) }
        set { operand = UInt64(UInt32(bitPattern: newValue)) }
    }
}

enum CompiledAction: Sendable {
    case counter(Int32)
    case log(Int32)
    case accept
    case drop
    case reject(ipv4: RuleVerdict, ipv6: RuleVerdict)
    case jump(Int32)
    case goto(Int32)
    case `return`
    case `continue`
    /// A NAT statement: natActions[index] (ends the nat chain walk with that translation).
    case nat(Int32)
    /// `ct helper set`: attach this helper to a new connection of this layer-4 protocol (and
    /// family: 2 ip, 10 ip6, 0 any), as nft_ct_helper_obj_eval does.
    case helper(HelperKind, l4Protocol: UInt8, nfproto: UInt8)
    /// A verdict map: the field's value looked up in mapEntries[start ..< start + count] (sorted,
    /// disjoint intervals; for an interface field, interface rows in `low`, checked in order). A
    /// miss ends the rule (nft_lookup: NFT_BREAK).
    case vmap(field: PacketField, start: Int32, count: Int32, interfaces: Bool)
    /// `limit rate`: limits[index]'s token bucket; ends the rule when it says so.
    case limit(Int32)
    /// `ct count`: connlimits[index]; ends the rule when it says so.
    case connlimit(Int32)
    /// A match written after a `limit` or `ct count` (lateMatches[index]), checked in its place.
    case check(Int32)
}

/// One element of a verdict map.
struct CompiledMapEntry: Sendable {
    var low: Key
    var high: Key
    /// accept, drop, jump, goto, return or continue.
    var action: CompiledAction
}

/// nft_limit_pkts: tokens are nanoseconds; a packet costs `cost`, the bucket holds at most `maximum`.
struct CompiledLimit: Sendable {
    var cost: UInt64
    var maximum: UInt64
    /// `over`: the statement holds when the bucket is short (NFT_LIMIT_F_INV).
    var invert: Bool

    init(_ limit: Limit) {
        let nanoseconds = limit.unit.seconds &* nanosecondsPerSecond
        cost = nanoseconds / max(limit.rate, 1)
        let (product, overflow) = cost.multipliedReportingOverflow(by: limit.burst ?? 5)
        maximum = overflow ? .max : product
        invert = limit.over
    }
}

/// nft_connlimit: the connections this statement has seen, in slots [start, start + capacity).
struct CompiledConnlimit: Sendable {
    var start: Int32
    var capacity: Int32
    var limit: UInt64
    /// Without `over` (NFT_CONNLIMIT_F_INV clear) the statement holds while count <= limit.
    var invert: Bool
}

/// A NAT statement as the evaluator reads it.
struct CompiledNAT: Sendable {
    var action: NATAction
    /// 2 or 10 when the statement applies to one family only (`snat ip to …` in an inet table), 0 for any.
    var nfproto: UInt8
}

struct CompiledRule: Sendable {
    var matchStart: Int32
    var matchEnd: Int32
    var actionStart: Int32
    var actionEnd: Int32
    /// The rule's protocol dependencies, checked before its matches (nfproto 2 or 10, 0 for
    /// any; the layer-4 protocol if `checksL4`): most rules of a chain are passed over here.
    var nfproto: UInt8 = 0
    var l4Protocol: UInt8 = 0
    var checksL4 = false
}

struct CompiledChain: Sendable {
    var ruleStart: Int32
    var ruleEnd: Int32
    var policyDrop: Bool
}

struct CompiledLog: Sendable {
    var prefix: String
}

struct CompiledProgram {
    var matches: [CompiledMatch] = []
    var actions: [CompiledAction] = []
    var rules: [CompiledRule] = []
    var chains: [CompiledChain] = []
    var intervals: [Interval] = []
    /// Interface patterns of each interface row.
    var interfaceRows: [[IfnamePattern]] = []
    var logs: [CompiledLog] = []
    /// Base chains per (hook, family): hookChains[hookOffsets[slot] ..< hookOffsets[slot + 1]],
    /// slot = hook * 2 + (0 for IPv4, 1 for IPv6).
    var hookChains: [Int32] = []
    var hookOffsets: [Int32] = []
    /// The same for `type nat` base chains (which hookChains leaves out).
    var natHookChains: [Int32] = []
    var natHookOffsets: [Int32] = []
    var natActions: [CompiledNAT] = []
    var mapEntries: [CompiledMapEntry] = []
    var limits: [CompiledLimit] = []
    var connlimits: [CompiledConnlimit] = []
    var connlimitSlots = 0
    var lateMatches: [CompiledMatch] = []

    /// How many connections one `ct count` statement keeps (more are not counted): twice its
    /// limit and some, at most 65,536; once a ruleset's statements hold 2^20 slots (40 MiB),
    /// further ones get limit + 1, which still tells over from not over while none goes away.
    static func connlimitCapacity(_ limit: UInt64, used: Int) -> Int {
        let wanted = Int(min(limit &* 2 &+ 64, 65_536))
        return used + wanted > 1 << 20 ? Int(min(limit &+ 1, 65_536)) : wanted
    }

    static func slot(_ hook: Hook, ipv6: Bool) -> Int { hook.rawValue * 2 + (ipv6 ? 1 : 0) }

    init() {}

    init(tables: [Table]) {
        var chainBase: [Int] = []
        var total = 0
        for table in tables {
            chainBase.append(total)
            total += table.chains.count
        }
        for (t, table) in tables.enumerated() {
            // Named sets: compiled once per table, shared by the matches that use them.
            var setSlices: [(Int32, Int32)] = []
            var setRows: [Int32] = []
            var mapSlices: [(Int32, Int32)] = []
            for set in table.sets {
                setSlices.append((Int32(intervals.count), Int32(set.intervals.count)))
                intervals += set.intervals
                setRows.append(Int32(interfaceRows.count))
                interfaceRows.append(set.ifnames)
                if let verdicts = set.verdicts {
                    mapSlices.append(compileMap(MapElements(intervals: set.intervals, ifnames: set.ifnames, verdicts: verdicts),
                                                type: set.type, chainBase: chainBase[t]))
                } else {
                    mapSlices.append((0, 0))
                }
            }
            for chain in table.chains {
                let ruleStart = Int32(rules.count)
                for rule in chain.rules {
                    compile(rule, family: table.family, helpers: table.helpers, chainBase: chainBase[t],
                            setSlices: setSlices, setRows: setRows, mapSlices: mapSlices)
                }
                chains.append(CompiledChain(ruleStart: ruleStart, ruleEnd: Int32(rules.count),
                                            policyDrop: chain.base?.policyDrop ?? false))
            }
        }
        // Base chains by hook and family, by priority (stable: declaration order on ties, as
        // nf_hook_entries_insert_raw and the nat core's lookup list order them); nat chains apart.
        var entries: [(slot: Int, priority: Int, order: Int, chain: Int32, nat: Bool)] = []
        for (t, table) in tables.enumerated() {
            for (c, chain) in table.chains.enumerated() {
                guard let base = chain.base else { continue }
                let families: [Bool] = switch table.family {
                case .ip: [false]
                case .ip6: [true]
                case .inet: [false, true]
                }
                for ipv6 in families {
                    entries.append((CompiledProgram.slot(base.hook, ipv6: ipv6), base.priority, entries.count,
                                    Int32(chainBase[t] + c), base.type == .nat))
                }
            }
        }
        entries.sort { ($0.slot, $0.priority, $0.order) < ($1.slot, $1.priority, $1.order) }
        (hookChains, hookOffsets) = CompiledProgram.hookTable(entries.filter { !$0.nat }.map { ($0.slot, $0.chain) })
        (natHookChains, natHookOffsets) = CompiledProgram.hookTable(entries.filter(\.nat).map { ($0.slot, $0.chain) })
    }

    /// Chains per slot (entries already in order) → the chain list and each slot's offset into it.
    static func hookTable(_ entries: [(slot: Int, chain: Int32)]) -> (chains: [Int32], offsets: [Int32]) {
        let slots = Hook.allCases.count * 2
        var chains: [Int32] = []
        var offsets = Array(repeating: Int32(0), count: slots + 1)
        for slot in 0..<slots {
            offsets[slot] = Int32(chains.count)
            chains += entries.filter { $0.slot == slot }.map(\.chain)
        }
        offsets[slots] = Int32(chains.count)
        return (chains, offsets)
    }

    /// A verdict map's elements into mapEntries: (start, count).
    private mutating func compileMap(_ elements: MapElements, type: Datatype, chainBase: Int) -> (Int32, Int32) {
        let start = Int32(mapEntries.count)
        for (index, verdict) in elements.verdicts.enumerated() {
            let action = CompiledProgram.action(verdict, chainBase: chainBase)
            if type == .ifname {
                guard index < elements.ifnames.count else { break }
                let row = Key(interfaceRows.count)
                interfaceRows.append([elements.ifnames[index]])
                mapEntries.append(CompiledMapEntry(low: row, high: row, action: action))
            } else {
                guard index < elements.intervals.count else { break }
                let interval = elements.intervals[index]
                mapEntries.append(CompiledMapEntry(low: interval.low, high: interval.high, action: action))
            }
        }
        return (start, Int32(mapEntries.count) - start)
    }

    static func action(_ verdict: Verdict, chainBase: Int) -> CompiledAction {
        switch verdict {
        case .accept: return .accept
        case .drop: return .drop
        case .continue: return .continue
        case .return: return .return
        case .jump(let target): return .jump(Int32(chainBase + target))
        case .goto(let target): return .goto(Int32(chainBase + target))
        }
    }

    private mutating func compile(_ rule: Rule, family: TableFamily, helpers: [Helper], chainBase: Int,
                                  setSlices: [(Int32, Int32)], setRows: [Int32], mapSlices: [(Int32, Int32)]) {
        let matchStart = Int32(matches.count)
        let actionStart = Int32(actions.count)
        var nfproto: UInt8 = 0
        var l4Protocol: UInt8? = nil
        // After a `limit` or `ct count`, matches are checked in their place (the bucket is only
        // charged by packets that reached it, as in nft).
        var stateful = false
        for statement in rule.statements {
            switch statement {
            case .match(let match):
                let compiled = compile(match, setSlices: setSlices, setRows: setRows)
                if stateful {
                    lateMatches.append(compiled)
                    actions.append(.check(Int32(lateMatches.count - 1)))
                    continue
                }
                // Equality on nfproto or the layer-4 protocol: into the rule header (matches are ANDed,
                // so their order does not matter).
                if compiled.kind == .equal && !compiled.negate {
                    if compiled.field == .nfproto && nfproto == 0 {
                        nfproto = UInt8(truncatingIfNeeded: compiled.valueLow)
                        continue
                    }
                    if compiled.field == .l4Protocol && l4Protocol == nil {
                        l4Protocol = UInt8(truncatingIfNeeded: compiled.valueLow)
                        continue
                    }
                }
                matches.append(compiled)
            case .counter(let index):
                actions.append(.counter(Int32(index)))
            case .log(let prefix, _):
                logs.append(CompiledLog(prefix: prefix ?? ""))
                actions.append(.log(Int32(logs.count - 1)))
            case .verdict(let verdict):
                actions.append(CompiledProgram.action(verdict, chainBase: chainBase))
            case .vmap(let map):
                let field = CompiledProgram.packetField(map.field)
                let slice: (Int32, Int32)
                if let elements = map.elements {
                    slice = compileMap(elements, type: map.datatype, chainBase: chainBase)
                } else if let named = map.named, named < mapSlices.count {
                    slice = mapSlices[named]
                } else {
                    slice = (0, 0)
                }
                actions.append(.vmap(field: field, start: slice.0, count: slice.1, interfaces: map.datatype == .ifname))
            case .limit(let limit):
                stateful = true
                limits.append(CompiledLimit(limit))
                actions.append(.limit(Int32(limits.count - 1)))
            case .ctCount(let limit, let over):
                stateful = true
                let capacity = CompiledProgram.connlimitCapacity(limit, used: connlimitSlots)
                connlimits.append(CompiledConnlimit(start: Int32(connlimitSlots), capacity: Int32(capacity), limit: limit,
                                                    invert: over))
                connlimitSlots += capacity
                actions.append(.connlimit(Int32(connlimits.count - 1)))
            case .reject(let spec):
                actions.append(.reject(ipv4: CompiledProgram.verdict(spec, ipv6: false),
                                       ipv6: CompiledProgram.verdict(spec, ipv6: true)))
            case .nat(let nat):
                natActions.append(CompiledProgram.nat(nat, family: family))
                actions.append(.nat(Int32(natActions.count - 1)))
            case .ctHelperSet(let name):
                // The resolver made sure the table has it; the parser that its type is one tunwall knows.
                if let helper = helpers.first(where: { $0.name == name }), let kind = HelperKind(type: helper.type) {
                    let nfproto: UInt8 = switch helper.l3Family {
                    case "ip": 2
                    case "ip6": 10
                    default: 0
                    }
                    actions.append(.helper(kind, l4Protocol: helper.l4Protocol, nfproto: nfproto))
                }
            }
        }
        rules.append(CompiledRule(matchStart: matchStart, matchEnd: Int32(matches.count),
                                  actionStart: actionStart, actionEnd: Int32(actions.count),
                                  nfproto: nfproto, l4Protocol: l4Protocol ?? 0, checksL4: l4Protocol != nil))
    }

    /// A NAT statement as the public NATAction (nft_nat_init's range: a prefix is the range of
    /// addresses it covers), and the family it is limited to: nft gives a statement with an address
    /// its address's family (NFTA_NAT_FAMILY), and in an inet table nft_nat_inet_eval passes over it
    /// for packets of the other family; without an address (masquerade, redirect, `dnat to :80`) it
    /// is NFPROTO_INET there, for both.
    static func nat(_ nat: NATStatement, family: TableFamily) -> CompiledNAT {
        var target = NATTarget()
        for (name, flag) in [("random", NATFlags.random), ("fully-random", .fullyRandom), ("persistent", .persistent)]
        where nat.flags.contains(name) {
            target.flags.insert(flag)
        }
        let width = nat.isIPv6 ? 128 : 32
        switch nat.address {
        case .value(let key)?:
            (target.minimumAddress, target.maximumAddress) = (key.ipv6Address, key.ipv6Address)
        case .range(let low, let high)?:
            (target.minimumAddress, target.maximumAddress) = (low.ipv6Address, high.ipv6Address)
        case .prefix(let network, let length)?:
            let hostBits = width - length
            let hostMask: Key = hostBits <= 0 ? 0 : (hostBits >= 128 ? ~Key(0) : (Key(1) << hostBits) - 1)
            (target.minimumAddress, target.maximumAddress) = (network.ipv6Address, (network | hostMask).ipv6Address)
        default:
            break
        }
        if let ports = nat.ports {
            (target.minimumPort, target.maximumPort) = (ports.low, ports.high)
        }
        let action: NATAction = switch nat.kind {
        case .masquerade: .masquerade(target)
        case .snat: .snat(target)
        case .dnat: .dnat(target)
        case .redirect: .redirect(target)
        }
        let nfproto: UInt8 = family == .inet && nat.address != nil ? (nat.isIPv6 ? 10 : 2) : 0
        return CompiledNAT(action: action, nfproto: nfproto)
    }

    /// What a reject sends (nft_reject_inet_eval; icmpx codes mapped by nft_reject_icmp_code and
    /// nft_reject_icmpv6_code: no-route → net unreachable / no route, port-unreachable → port
    /// unreachable, host-unreachable → host / address unreachable, admin-prohibited → packet
    /// filtered (13) / administratively prohibited (1)).
    static func verdict(_ spec: RejectSpec, ipv6: Bool) -> RuleVerdict {
        func v4(_ code: UInt8) -> RuleVerdict {
            code == 3 ? .reject(.icmpPortUnreachable) : .reject(.icmp(type: 3, code: code))
        }
        func v6(_ code: UInt8) -> RuleVerdict {
            switch code {
            case 4: return .reject(.icmpv6PortUnreachable)
            case 1: return .reject(.icmpv6AdministrativelyProhibited)
            default: return .reject(.icmp(type: 1, code: code))
            }
        }
        switch spec {
        case .tcpReset: return .reject(.tcpReset)
        case .icmp(let code): return v4(code)
        case .icmpv6(let code): return v6(code)
        case .icmpx(let code):
            if ipv6 { return v6([0, 4, 3, 1][Int(min(code, 3))]) }
            return v4([0, 3, 1, 13][Int(min(code, 3))])
        }
    }

    static func packetField(_ field: Field) -> PacketField {
        switch field {
        case .iifname: return .inputInterface
        case .oifname: return .outputInterface
        case .ipSaddr, .ip6Saddr: return .source
        case .ipDaddr, .ip6Daddr: return .destination
        case .ipProtocol, .ip6Nexthdr, .metaL4proto: return .l4Protocol
        case .metaNfproto: return .nfproto
        case .metaMark: return .mark
        case .tcpSport, .udpSport, .thSport: return .sourcePort
        case .tcpDport, .udpDport, .thDport: return .destinationPort
        case .tcpFlags: return .tcpFlags
        case .icmpType, .icmpv6Type: return .icmpType
        case .icmpCode, .icmpv6Code: return .icmpCode
        case .ctState: return .ctState
        case .etherSaddr: return .etherSource
        case .etherDaddr: return .etherDestination
        case .etherType: return .etherType
        case .metaIiftype: return .inputInterfaceType
        }
    }

    private mutating func compile(_ match: Match, setSlices: [(Int32, Int32)], setRows: [Int32]) -> CompiledMatch {
        let field = CompiledProgram.packetField(match.field)
        let negate = match.op == .neq
        var compiled = CompiledMatch(field: field, kind: .equal, negate: negate)
        func intervalsMatch(_ list: [Interval]) {
            compiled.kind = .inIntervals
            compiled.start = Int32(intervals.count)
            compiled.count = Int32(list.count)
            intervals += list
        }
        func interfaceMatch(_ patterns: [IfnamePattern]) {
            compiled.kind = .interface
            compiled.start = Int32(interfaceRows.count)
            interfaceRows.append(patterns)
        }
        let minimum: Key = match.datatype == .ipv4Address ? Key.ipv4Mapped(0) : 0
        let maximum = match.datatype.maximum
        switch match.value {
        case .value(let value):
            switch match.op {
            case .lt: intervalsMatch(value > minimum ? [Interval(low: minimum, high: value - 1)] : [])
            case .le: intervalsMatch([Interval(low: minimum, high: value)])
            case .gt: intervalsMatch(value < maximum ? [Interval(low: value + 1, high: maximum)] : [])
            case .ge: intervalsMatch([Interval(low: value, high: maximum)])
            case .implicit, .eq, .neq:
                compiled.value = value
                if match.maskForm != .none {
                    compiled.kind = .maskedEqual
                    compiled.mask = Key(match.mask)
                } else if match.datatype.isBitmask && match.op == .implicit {
                    // nft: `ct state new,established` is state & mask != 0.
                    compiled.kind = .anyBit
                    compiled.mask = value
                }
            }
        case .range(let low, let high):
            intervalsMatch([Interval(low: low, high: high)])
        case .prefix(let network, let length):
            let hostBits = match.datatype.width - length
            let hostMask: Key = hostBits == 0 ? 0 : (hostBits >= 128 ? ~Key(0) : (Key(1) << hostBits) - 1)
            intervalsMatch([Interval(low: network, high: network | hostMask)])
        case .set(let list, _):
            intervalsMatch(list)
        case .named(let index):
            if match.datatype == .ifname {
                compiled.kind = .interface
                compiled.start = setRows[index]
            } else {
                compiled.kind = .inIntervals
                (compiled.start, compiled.count) = setSlices[index]
            }
        case .ifname(let pattern):
            interfaceMatch([pattern])
        case .ifnameSet(let patterns):
            interfaceMatch(patterns)
        }
        return compiled
    }
}

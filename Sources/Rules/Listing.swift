// `nft list ruleset` output, as nft 1.0.6 prints what it reads back from the
// kernel (nftables src/rule.c table_print/chain_print/set_print,
// src/statement.c, src/expression.c), checked line by line against nft in a
// throwaway namespace:
//
// - a table lists its ct helpers, then its sets, then its chains, each
//   separated by an empty line; a chain's hook line is
//   `type filter hook input priority filter; policy accept;`, the priority by
//   name when within ±10 of a standard one (src/rule.c prio2str);
// - values come back canonical: ports as numbers, protocols by their
//   /etc/protocols name, marks as 0x%08x, ICMP types and codes by name,
//   ct states and TCP flags by name in bit order (`established,new`; with
//   `==`/`!=`, `established | new`), prefixes with the host bits cleared;
// - anonymous sets come back sorted and, if they hold ranges, merged
//   (`{ 80, 81, 90-100 }` → `{ 80-81, 90-100 }`); named sets are sorted,
//   and their elements wrap as nft's calculate_delim wraps them;
// - the dependencies nft adds are not printed, except `meta l4proto tcp`
//   before `reject with tcp reset` in an inet table, which nft prints;
// - `counter` shows the live counts, `log level warn` (the default) is not
//   shown, plain `reject` is printed for the family's default reject.

import Wire

extension Ruleset {
    /// `nft list ruleset` output.
    /// `nft list ruleset`; with `handles`, `nft -a list ruleset` (each object's `# handle N`).
    public func listing(handles: Bool = false) -> String {
        var out = ""
        func handle(_ value: Int) -> String { handles ? " # handle \(value)" : "" }
        for table in tables {
            out += "table \(table.family.rawValue) \(table.name) {\(handle(table.handle))\n"
            var separator = ""
            for helper in table.helpers {
                out += separator
                out += "\tct helper \(helper.name) {\(handle(helper.handle))\n\t\ttype \"\(helper.type)\" protocol \(helper.l4Protocol == 6 ? "tcp" : "udp")\n"
                out += "\t\tl3proto \(helper.l3Family)\n\t}\n"
                separator = "\n"
            }
            for set in table.sets {
                out += separator
                var text = setText(set, table: table)
                if handles, let brace = text.firstIndex(of: "\n") { text.insert(contentsOf: handle(set.handle), at: brace) }
                out += text
                separator = "\n"
            }
            for chain in table.chains {
                out += separator
                out += "\tchain \(chain.name) {\(handle(chain.handle))\n"
                if let base = chain.base {
                    out += "\t\ttype \(base.type.rawValue) hook \(base.hook) priority \(Keywords.priorityText(base.priority, hook: base.hook)); "
                    out += "policy \(base.policyDrop ? "drop" : "accept");\n"
                }
                for rule in chain.rules {
                    out += "\t\t" + ruleText(rule, table: table) + handle(rule.handle) + "\n"
                }
                out += "\t}\n"
                separator = "\n"
            }
            out += "}\n"
        }
        return out
    }

    private func setText(_ set: NamedSet, table: Table) -> String {
        let kind = set.verdicts == nil ? "set" : "map"
        var out = "\t\(kind) \(set.name) {\n\t\ttype \(set.type.rawValue)\(set.verdicts == nil ? "" : " : verdict")\n"
        if set.interval { out += "\t\tflags interval\n" }
        if set.autoMerge { out += "\t\tauto-merge\n" }
        var elements: [String] = set.type == .ifname
            ? set.ifnames.map { "\"\($0.text)\"" }
            : set.intervals.map { Ruleset.elementText($0, set.type) }
        if let verdicts = set.verdicts {
            elements = zip(elements, verdicts).map { "\($0) : \(Ruleset.verdictText($1, table: table))" }
        }
        if !elements.isEmpty {
            // nft's calculate_delim: numbers 5 per line, IPv4 addresses 2, other types 1.
            let perLine: Int
            switch set.type {
            case .inetService, .inetProtocol, .mark: perLine = 5
            case .ipv4Address: perLine = 2
            default: perLine = 1
            }
            out += "\t\telements = { "
            for (index, element) in elements.enumerated() {
                if index > 0 { out += index % perLine == 0 ? ",\n\t\t\t     " : ", " }
                out += element
            }
            out += " }\n"
        }
        return out + "\t}\n"
    }

    func ruleText(_ rule: Rule, table: Table, counts: Bool = true) -> String {
        var parts: [String] = []
        for statement in rule.statements {
            switch statement {
            case .match(let match):
                if !match.hidden { parts.append(matchText(match, table: table)) }
            case .counter(let index):
                parts.append(counts ? "counter packets \(counterPackets[index]) bytes \(counterBytes[index])" : "counter")
            case .log(let prefix, let level):
                var text = "log"
                if let prefix { text += " prefix \"\(prefix)\"" }
                if let level, level != "warn" { text += " level \(level)" }
                parts.append(text)
            case .verdict(let verdict):
                parts.append(Ruleset.verdictText(verdict, table: table))
            case .vmap(let map):
                parts.append(vmapText(map, table: table))
            case .limit(let limit):
                var text = "limit rate \(limit.over ? "over " : "")\(limit.rate)/\(limit.unit.rawValue)"
                if let burst = limit.burst, burst != 5 { text += " burst \(burst) packets" }
                parts.append(text)
            case .ctCount(let limit, let over):
                parts.append("ct count \(over ? "over " : "")\(limit)")
            case .reject(let spec):
                parts.append(Ruleset.rejectText(spec, family: table.family))
            case .ctHelperSet(let name):
                parts.append("ct helper set \"\(name)\"")
            case .nat(let nat):
                parts.append(natText(nat, family: table.family))
            }
        }
        var text = parts.joined(separator: " ")
        if let comment = rule.comment { text += " comment \"\(comment)\"" }
        return text
    }

    static func verdictText(_ verdict: Verdict, table: Table) -> String {
        func name(_ target: Int) -> String { target < table.chains.count ? table.chains[target].name : "?" }
        switch verdict {
        case .accept: return "accept"
        case .drop: return "drop"
        case .continue: return "continue"
        case .return: return "return"
        case .jump(let target): return "jump \(name(target))"
        case .goto(let target): return "goto \(name(target))"
        }
    }

    private func vmapText(_ map: VerdictMap, table: Table) -> String {
        let field = map.label ?? map.field.rawValue
        if let named = map.named, named < table.sets.count { return "\(field) vmap @\(table.sets[named].name)" }
        guard let elements = map.elements else { return "\(field) vmap { }" }
        let keys: [String] = map.datatype == .ifname
            ? elements.ifnames.map { "\"\($0.text)\"" }
            : elements.intervals.map { Ruleset.elementText($0, map.datatype) }
        let items = zip(keys, elements.verdicts).map { "\($0) : \(Ruleset.verdictText($1, table: table))" }
        return "\(field) vmap { " + items.joined(separator: ", ") + " }"
    }

    static func rejectText(_ spec: RejectSpec, family: TableFamily) -> String {
        func named(_ table: [(String, UInt8)], _ code: UInt8) -> String { Keywords.name(table, code) ?? String(code) }
        switch spec {
        case .tcpReset: return "reject with tcp reset"
        case .icmp(let code):
            return family == .ip && code == 3 ? "reject" : "reject with icmp \(named(Keywords.icmpCodes, code))"
        case .icmpv6(let code):
            return family == .ip6 && code == 4 ? "reject" : "reject with icmpv6 \(named(Keywords.icmpv6Codes, code))"
        case .icmpx(let code):
            return code == 1 ? "reject" : "reject with icmpx \(named(Keywords.icmpxCodes, code))"
        }
    }

    private func natText(_ nat: NATStatement, family: TableFamily) -> String {
        var text = nat.kind.rawValue
        if family == .inet, let explicit = nat.family { text += " \(explicit.rawValue)" }
        let type: Datatype = nat.isIPv6 ? .ipv6Address : .ipv4Address
        let bracket = nat.isIPv6 && nat.ports != nil
        func address(_ key: Key) -> String {
            let plain = Ruleset.valueText(key, type, op: .implicit)
            return bracket ? "[\(plain)]" : plain
        }
        var target = ""
        if let value = nat.address {
            switch value {
            case .value(let key):
                target = address(key)
            case .range(let low, let high):
                if let length = Ruleset.prefixLength(Interval(low: low, high: high), type), !bracket {
                    target = Ruleset.prefixText(low, length, type)
                } else {
                    target = "\(address(low))-\(address(high))"
                }
            case .prefix(let network, let length):
                target = "\(address(network))/\(length)"  // nft keeps /32 here
            default:
                break
            }
        }
        if let ports = nat.ports {
            target += ports.low == ports.high ? ":\(ports.low)" : ":\(ports.low)-\(ports.high)"
        }
        if !target.isEmpty { text += " to \(target)" }
        if !nat.flags.isEmpty { text += " " + nat.flags.joined(separator: ",") }
        return text
    }

    private func matchText(_ match: Match, table: Table) -> String {
        let field = match.label ?? match.field.rawValue
        let type = match.datatype
        if type == .tcpFlag, match.op == .implicit, match.maskForm == .none, case .value(0xFF) = match.value {
            return "\(field) != 0x0"  // any of all eight flags: nft says "not zero"
        }
        if match.maskForm != .none, case .value(let value) = match.value {
            let op = match.op == .neq ? "!=" : "=="
            if value == 0 && match.op != .neq {
                // nft prints `flags & (syn|ack) == 0` as `flags ! syn,ack`.
                return "\(field) ! \(Ruleset.valueText(Key(match.mask), type, op: .implicit))"
            }
            if match.mask.nonzeroBitCount == 1 {
                return "\(field) & \(Ruleset.valueText(Key(match.mask), type, op: .implicit)) \(op) \(Ruleset.valueText(value, type, op: .implicit))"
            }
            let prefix = match.op == .neq ? "!= " : ""
            return "\(field) \(prefix)\(Ruleset.valueText(value, type, op: .implicit)) / \(Ruleset.valueText(Key(match.mask), type, op: .implicit))"
        }
        var op = ""
        switch match.op {
        case .implicit: break
        case .eq: op = type.isBitmask ? "== " : ""
        default: op = match.op.rawValue + " "
        }
        // An exact comparison of several bits: nft writes ct states as `a | b` (and drops the `==`),
        // TCP flags as a number.
        if type.isBitmask, match.op == .eq || match.op == .neq, case .value(let bits) = match.value,
           bits.nonzeroBitCount > 1 {
            let prefix = match.op == .neq ? "!= " : (type == .tcpFlag ? "== " : "")
            let text = type == .tcpFlag ? "0x" + String(UInt8(truncatingIfNeeded: bits), radix: 16) : Ruleset.valueText(bits, type, op: .eq)
            return "\(field) \(prefix)\(text)"
        }
        let value: String
        switch match.value {
        case .value(let key):
            value = Ruleset.valueText(key, type, op: match.op)
        case .range(let low, let high):
            value = "\(Ruleset.valueText(low, type, op: .implicit))-\(Ruleset.valueText(high, type, op: .implicit))"
        case .prefix(let network, let length):
            value = Ruleset.prefixText(network, length, type)
        case .set(let intervals, _):
            value = "{ " + intervals.map { Ruleset.elementText($0, type) }.joined(separator: ", ") + " }"
        case .named(let index):
            value = "@\(table.sets[index].name)"
        case .ifname(let pattern):
            value = "\"\(pattern.text)\""
        case .ifnameSet(let patterns):
            value = "{ " + patterns.map { "\"\($0.text)\"" }.joined(separator: ", ") + " }"
        }
        return "\(field) \(op)\(value)"
    }

    /// One element of a set: a value, a prefix (for types nft prints prefixes of) or a range.
    static func elementText(_ interval: Interval, _ type: Datatype) -> String {
        if interval.low == interval.high { return valueText(interval.low, type, op: .implicit) }
        if let length = prefixLength(interval, type) { return prefixText(interval.low, length, type) }
        return "\(valueText(interval.low, type, op: .implicit))-\(valueText(interval.high, type, op: .implicit))"
    }

    /// The prefix length if the interval is exactly one prefix of a type nft prints as prefixes.
    static func prefixLength(_ interval: Interval, _ type: Datatype) -> Int? {
        guard type.printsPrefixes else { return nil }
        let span = interval.high &- interval.low
        guard span & (span &+ 1) == 0, interval.low & span == 0 else { return nil }
        let hostBits = span == ~Key(0) ? 128 : (span &+ 1).trailingZeroBitCount
        return type.width - hostBits
    }

    static func prefixText(_ network: Key, _ length: Int, _ type: Datatype) -> String {
        if length == type.width { return valueText(network, type, op: .implicit) }
        return "\(valueText(network, type, op: .implicit))/\(length)"
    }

    static func valueText(_ key: Key, _ type: Datatype, op: RelOp) -> String {
        func named(_ table: [(String, UInt8)]) -> String {
            Keywords.name(table, UInt8(truncatingIfNeeded: key)) ?? String(UInt8(truncatingIfNeeded: key))
        }
        switch type {
        case .ipv4Address: return IPv4Address(key.ipv4Value).description
        case .ipv6Address: return key.ipv6Address.description
        case .inetService: return String(UInt16(truncatingIfNeeded: key))
        case .inetProtocol: return Keywords.protocolName(UInt8(truncatingIfNeeded: key)) ?? String(UInt8(truncatingIfNeeded: key))
        case .mark:
            let hex = String(UInt32(truncatingIfNeeded: key), radix: 16)
            return "0x" + String(repeating: "0", count: 8 - hex.count) + hex
        case .ctState, .tcpFlag:
            let table = type == .ctState ? Keywords.ctStates : Keywords.tcpFlags
            let names = table.filter { UInt64(key) & $0.1 != 0 }.map(\.0)
            if names.isEmpty { return "0x0" }
            return names.joined(separator: op == .implicit ? "," : " | ")
        case .icmpType: return named(Keywords.icmpTypes)
        case .icmpCode: return named(Keywords.icmpCodes)
        case .icmpv6Type: return named(Keywords.icmpv6Types)
        case .icmpv6Code: return named(Keywords.icmpv6Codes)
        case .nfproto: return key == 2 ? "ipv4" : (key == 10 ? "ipv6" : String(UInt8(truncatingIfNeeded: key)))
        case .ifname: return ""
        case .etherAddress: return MACAddress(UInt64(truncatingIfNeeded: key)).description
        case .etherType:
            // nft: a known EtherType by name, another in hex (0x88cc).
            let value = UInt16(truncatingIfNeeded: key)
            if let name = Keywords.etherTypes.first(where: { $0.1 == value })?.0 { return name }
            let hex = String(value, radix: 16)
            return "0x" + String(repeating: "0", count: 4 - hex.count) + hex
        case .ifaceType:
            let value = UInt16(truncatingIfNeeded: key)
            return Keywords.interfaceTypes.first(where: { $0.1 == value })?.0 ?? String(value)
        }
    }
}

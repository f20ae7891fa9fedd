// `nft -j list ruleset`: the ruleset in libnftables-json(5)'s schema, as nft
// 1.0.6 prints it (one line, `", "` and `": "` between items):
//
//   {"nftables": [{"metainfo": {…}}, {"table": {…}}, {"ct helper": {…}}, {"set"|"map": {…}},
//                 {"chain": {…}}, …, {"rule": {"family": …, "table": …, "chain": …, "handle": N,
//                 "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp",
//                 "field": "dport"}}, "right": 22}}, {"accept": null}]}}]}
//
// Per table: the table, its ct helpers, sets and maps, chains, then every
// chain's rules. Values are typed as nft types them: ports, marks and
// numbers as JSON numbers, addresses, names and symbols as strings, prefixes
// {"prefix": {"addr": A, "len": N}}, ranges {"range": [A, B]}, anonymous sets
// {"set": […]}, named ones "@name"; a bitmask match without operator is op
// "in" (`ct state established,related`). Checked against nft -j in
// NFTAgreementTests for the forms there.

extension Ruleset {
    /// `nft -j list ruleset` output (with a newline at the end, as nft prints it).
    public func jsonListing() -> String {
        var items: [String] = [#"{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}"#]
        for table in tables {
            let family = JSON.string(table.family.rawValue)
            let tableName = JSON.string(table.name)
            items.append(#"{"table": {"family": \#(family), "name": \#(tableName), "handle": \#(table.handle)}}"#)
            for helper in table.helpers {
                items.append(#"{"ct helper": {"family": \#(family), "name": \#(JSON.string(helper.name)), "table": \#(tableName), "handle": \#(helper.handle), "type": \#(JSON.string(helper.type)), "protocol": "\#(helper.l4Protocol == 6 ? "tcp" : "udp")", "l3proto": \#(JSON.string(helper.l3Family))}}"#)
            }
            for set in table.sets {
                var fields = [#""family": \#(family)"#, #""name": \#(JSON.string(set.name))"#, #""table": \#(tableName)"#,
                              #""type": \#(JSON.string(set.type.rawValue))"#, #""handle": \#(set.handle)"#]
                if set.verdicts != nil { fields.append(#""map": "verdict""#) }
                if set.interval { fields.append(#""flags": ["interval"]"#) }
                var elements: [String] = set.type == .ifname
                    ? set.ifnames.map { JSON.string($0.text) }
                    : set.intervals.map { jsonElement($0, set.type) }
                if let verdicts = set.verdicts {
                    elements = zip(elements, verdicts).map { "[\($0), \(jsonVerdict($1, table: table))]" }
                }
                if !elements.isEmpty { fields.append(#""elem": [\#(elements.joined(separator: ", "))]"#) }
                items.append(#"{"\#(set.verdicts == nil ? "set" : "map")": {\#(fields.joined(separator: ", "))}}"#)
            }
            for chain in table.chains {
                var fields = [#""family": \#(family)"#, #""table": \#(tableName)"#, #""name": \#(JSON.string(chain.name))"#,
                              #""handle": \#(chain.handle)"#]
                if let base = chain.base {
                    fields += [#""type": "\#(base.type.rawValue)""#, #""hook": "\#(base.hook)""#, #""prio": \#(base.priority)"#,
                               #""policy": "\#(base.policyDrop ? "drop" : "accept")""#]
                }
                items.append(#"{"chain": {\#(fields.joined(separator: ", "))}}"#)
            }
            for chain in table.chains {
                for rule in chain.rules {
                    let expressions = rule.statements.compactMap { jsonStatement($0, table: table) }
                    var fields = [#""family": \#(family)"#, #""table": \#(tableName)"#, #""chain": \#(JSON.string(chain.name))"#,
                                  #""handle": \#(rule.handle)"#]
                    if let comment = rule.comment { fields.append(#""comment": \#(JSON.string(comment))"#) }
                    fields.append(#""expr": [\#(expressions.joined(separator: ", "))]"#)
                    items.append(#"{"rule": {\#(fields.joined(separator: ", "))}}"#)
                }
            }
        }
        return #"{"nftables": [\#(items.joined(separator: ", "))]}"# + "\n"
    }

    private func jsonStatement(_ statement: Statement, table: Table) -> String? {
        switch statement {
        case .match(let match):
            guard !match.hidden else { return nil }
            return jsonMatch(match, table: table)
        case .counter(let index):
            return #"{"counter": {"packets": \#(counterPackets[index]), "bytes": \#(counterBytes[index])}}"#
        case .log(let prefix, let level):
            var fields: [String] = []
            if let prefix { fields.append(#""prefix": \#(JSON.string(prefix))"#) }
            if let level, level != "warn" { fields.append(#""level": \#(JSON.string(level))"#) }
            return fields.isEmpty ? #"{"log": null}"# : #"{"log": {\#(fields.joined(separator: ", "))}}"#
        case .verdict(let verdict):
            return jsonVerdict(verdict, table: table)
        case .reject(let spec):
            func named(_ list: [(String, UInt8)], _ code: UInt8) -> String { JSON.string(Keywords.name(list, code) ?? String(code)) }
            switch spec {
            case .tcpReset: return #"{"reject": {"type": "tcp reset"}}"#
            case .icmp(let code): return #"{"reject": {"type": "icmp", "expr": \#(named(Keywords.icmpCodes, code))}}"#
            case .icmpv6(let code): return #"{"reject": {"type": "icmpv6", "expr": \#(named(Keywords.icmpv6Codes, code))}}"#
            case .icmpx(let code): return #"{"reject": {"type": "icmpx", "expr": \#(named(Keywords.icmpxCodes, code))}}"#
            }
        case .ctHelperSet(let name):
            return #"{"ct helper": \#(JSON.string(name))}"#
        case .nat(let nat):
            var fields: [String] = []
            if let family = nat.family, table.family == .inet { fields.append(#""family": "\#(family.rawValue)""#) }
            let type: Datatype = nat.isIPv6 ? .ipv6Address : .ipv4Address
            switch nat.address {
            case .value(let key)?: fields.append(#""addr": \#(jsonValue(key, type))"#)
            case .range(let low, let high)?: fields.append(#""addr": {"range": [\#(jsonValue(low, type)), \#(jsonValue(high, type))]}"#)
            case .prefix(let network, let length)?: fields.append(#""addr": {"prefix": {"addr": \#(jsonValue(network, type)), "len": \#(length)}}"#)
            default: break
            }
            if let ports = nat.ports {
                fields.append(ports.low == ports.high ? #""port": \#(ports.low)"# : #""port": {"range": [\#(ports.low), \#(ports.high)]}"#)
            }
            if !nat.flags.isEmpty { fields.append(#""flags": [\#(nat.flags.map(JSON.string).joined(separator: ", "))]"#) }
            return fields.isEmpty ? #"{"\#(nat.kind.rawValue)": null}"# : #"{"\#(nat.kind.rawValue)": {\#(fields.joined(separator: ", "))}}"#
        case .vmap(let map):
            let key = jsonField(map.field, label: map.label)
            if let named = map.named, named < table.sets.count {
                return #"{"vmap": {"key": \#(key), "data": \#(JSON.string("@" + table.sets[named].name))}}"#
            }
            guard let elements = map.elements else { return nil }
            let keys: [String] = map.datatype == .ifname
                ? elements.ifnames.map { JSON.string($0.text) }
                : elements.intervals.map { jsonElement($0, map.datatype) }
            let pairs = zip(keys, elements.verdicts).map { "[\($0), \(jsonVerdict($1, table: table))]" }
            return #"{"vmap": {"key": \#(key), "data": {"set": [\#(pairs.joined(separator: ", "))]}}}"#
        case .limit(let limit):
            let invert = limit.over ? #", "inv": true"# : ""
            return #"{"limit": {"rate": \#(limit.rate), "burst": \#(limit.burst ?? 5), "per": "\#(limit.unit.rawValue)"\#(invert)}}"#
        case .ctCount(let limit, let over):
            return #"{"ct count": {"val": \#(limit)\#(over ? #", "inv": true"# : "")}}"#
        case .nftraceSet(let on):
            return #"{"mangle": {"key": {"meta": {"key": "nftrace"}}, "value": \#(on ? 1 : 0)}}"#
        }
    }

    private func jsonVerdict(_ verdict: Verdict, table: Table) -> String {
        func name(_ target: Int) -> String { JSON.string(target < table.chains.count ? table.chains[target].name : "?") }
        switch verdict {
        case .accept: return #"{"accept": null}"#
        case .drop: return #"{"drop": null}"#
        case .continue: return #"{"continue": null}"#
        case .return: return #"{"return": null}"#
        case .jump(let target): return #"{"jump": {"target": \#(name(target))}}"#
        case .goto(let target): return #"{"goto": {"target": \#(name(target))}}"#
        }
    }

    /// The left side: payload, meta or ct.
    private func jsonField(_ field: Field, label: String?) -> String {
        let words = (label ?? field.rawValue).split(separator: " ").map(String.init)
        switch field {
        case .iifname: return #"{"meta": {"key": "iifname"}}"#
        case .oifname: return #"{"meta": {"key": "oifname"}}"#
        case .metaL4proto, .metaNfproto, .metaMark, .metaIiftype: return #"{"meta": {"key": "\#(words.last ?? "")"}}"#
        case .ctState: return #"{"ct": {"key": "state"}}"#
        default:
            guard words.count == 2 else { return "null" }
            return #"{"payload": {"protocol": "\#(words[0])", "field": "\#(words[1])"}}"#
        }
    }

    private func jsonMatch(_ match: Match, table: Table) -> String {
        var left = jsonField(match.field, label: match.label)
        let type = match.datatype
        var op: String
        switch match.op {
        case .implicit:
            var single = false
            if case .value = match.value { single = true }
            op = type.isBitmask && match.maskForm == .none && single ? "in" : "=="
        case .eq: op = "=="
        default: op = match.op.rawValue
        }
        if match.maskForm != .none {
            left = #"{"&": [\#(left), \#(jsonBits(Key(match.mask), type))]}"#
            if match.op == .implicit { op = "==" }
        }
        let right: String
        switch match.value {
        case .value(let key): right = type.isBitmask ? jsonBits(key, type) : jsonValue(key, type)
        case .range(let low, let high): right = #"{"range": [\#(jsonValue(low, type)), \#(jsonValue(high, type))]}"#
        case .prefix(let network, let length):
            right = length == type.width ? jsonValue(network, type)
                : #"{"prefix": {"addr": \#(jsonValue(network, type)), "len": \#(length)}}"#
        case .set(let intervals, _): right = #"{"set": [\#(intervals.map { jsonElement($0, type) }.joined(separator: ", "))]}"#
        case .named(let index): right = JSON.string("@" + (index < table.sets.count ? table.sets[index].name : "?"))
        case .ifname(let pattern): right = JSON.string(pattern.text)
        case .ifnameSet(let patterns): right = #"{"set": [\#(patterns.map { JSON.string($0.text) }.joined(separator: ", "))]}"#
        }
        return #"{"match": {"op": "\#(op)", "left": \#(left), "right": \#(right)}}"#
    }

    private func jsonElement(_ interval: Interval, _ type: Datatype) -> String {
        if interval.low == interval.high { return type.isBitmask ? jsonBits(interval.low, type) : jsonValue(interval.low, type) }
        if let length = Ruleset.prefixLength(interval, type) {
            return #"{"prefix": {"addr": \#(jsonValue(interval.low, type)), "len": \#(length)}}"#
        }
        return #"{"range": [\#(jsonValue(interval.low, type)), \#(jsonValue(interval.high, type))]}"#
    }

    /// A bitmask value: one name, or a list of names.
    private func jsonBits(_ key: Key, _ type: Datatype) -> String {
        let table = type == .ctState ? Keywords.ctStates : Keywords.tcpFlags
        let names = table.filter { UInt64(truncatingIfNeeded: key) & $0.1 != 0 }.map { JSON.string($0.0) }
        if names.count == 1 { return names[0] }
        return "[\(names.joined(separator: ", "))]"
    }

    private func jsonValue(_ key: Key, _ type: Datatype) -> String {
        switch type {
        case .inetService, .mark: return String(UInt64(truncatingIfNeeded: key))
        case .inetProtocol:
            if let name = Keywords.protocolName(UInt8(truncatingIfNeeded: key)) { return JSON.string(name) }
            return String(UInt8(truncatingIfNeeded: key))
        default:
            return JSON.string(Ruleset.valueText(key, type, op: .implicit))
        }
    }
}

/// JSON text as nft -j and tunwall's traces write it.
public enum JSON {
    /// A JSON string literal (RFC 8259 §7: quote, backslash and control
    /// characters escaped).
    public static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

// Values given their datatype: how nft reads a symbol where a value of a type
// is expected (nftables src/datatype.c *_type_parse): addresses in dotted-quad
// or RFC 4291 text (no host names: tunwall does not resolve names), services
// by number or /etc/services name, protocols by number or /etc/protocols
// name, ICMP types and codes, ct states and TCP flags by their nft names.
// Ranges must not run backwards, prefixes must fit the type, and an
// anonymous set with one element is that element (nft does the same).

import Wire

extension Resolver {
    static func datatype(of field: Field) -> Datatype {
        switch field {
        case .iifname, .oifname: return .ifname
        case .ipSaddr, .ipDaddr: return .ipv4Address
        case .ip6Saddr, .ip6Daddr: return .ipv6Address
        case .ipProtocol, .ip6Nexthdr, .metaL4proto: return .inetProtocol
        case .metaNfproto: return .nfproto
        case .metaMark: return .mark
        case .tcpSport, .tcpDport, .udpSport, .udpDport, .thSport, .thDport: return .inetService
        case .tcpFlags: return .tcpFlag
        case .icmpType: return .icmpType
        case .icmpCode: return .icmpCode
        case .icmpv6Type: return .icmpv6Type
        case .icmpv6Code: return .icmpv6Code
        case .ctState: return .ctState
        case .etherSaddr, .etherDaddr: return .etherAddress
        case .etherType: return .etherType
        case .metaIiftype: return .ifaceType
        }
    }

    /// A match's value; nil after an error.
    mutating func matchValue(_ expr: ValueExpr, _ type: Datatype, table: Int, field: SourceRange? = nil) -> MatchValue? {
        switch expr {
        case .invalid:
            return nil
        case .range(let low, let high, let range):
            guard type != .ifname else {
                diagnostics.error(range, "ranges are not valid for interface names")
                return nil
            }
            guard let lo = scalar(low, type), let hi = scalar(high, type) else { return nil }
            guard lo <= hi else {
                diagnostics.error(range, "Range has zero or negative size")
                return nil
            }
            return .range(lo, hi)
        case .prefix(let base, let length, let range):
            guard let (network, _) = prefix(base, length, range, type) else { return nil }
            return .prefix(network, length)
        case .set(let items, let range):
            if items.count == 1 { return matchValue(items[0], type, table: table) }
            if type == .ifname {
                var patterns: [IfnamePattern] = []
                for item in items {
                    guard let pattern = ifname(item) else { continue }
                    if !patterns.contains(pattern) { patterns.append(pattern) }
                }
                return .ifnameSet(IfnamePattern.sorted(patterns, interval: false))
            }
            var intervals: [Interval] = []
            var isInterval = false
            var failed = false
            for item in items {
                if case .range = item { isInterval = true }
                if case .prefix = item { isInterval = true }
                guard let interval = element(item, type) else { failed = true; continue }
                intervals.append(interval)
            }
            if failed { return nil }
            if intervals.isEmpty {
                diagnostics.error(range, "empty set")
                return nil
            }
            return .set(Resolver.normalize(intervals, merge: isInterval), interval: isInterval)
        case .setReference(let name, let range):
            guard let index = tableSets[table].firstIndex(where: { $0.name == name }) else {
                diagnostics.error(range, "set '\(name)' does not exist in table \(tableNames[table])")
                return nil
            }
            let setType = tableSets[table][index].type
            guard setType == type else {
                diagnostics.error(range, "datatype mismatch, expected \(type.description), expression has type \(setType.description)",
                                  related: field)
                return nil
            }
            return .named(index)
        case .list(let items, _), .bitwiseOr(let items, _):
            guard type.isBitmask else {
                diagnostics.error(items[0].range, "Basetype of type \(type.description) is not bitmask")
                return nil
            }
            var bits: Key = 0
            for item in items {
                guard let value = scalar(item, type) else { return nil }
                bits |= value
            }
            return .value(bits)
        default:
            if type == .ifname {
                guard let pattern = ifname(expr) else { return nil }
                return .ifname(pattern)
            }
            guard let value = scalar(expr, type) else { return nil }
            return .value(value)
        }
    }

    /// One set element as an interval.
    mutating func element(_ expr: ValueExpr, _ type: Datatype) -> Interval? {
        switch expr {
        case .range(let low, let high, let range):
            guard let lo = scalar(low, type), let hi = scalar(high, type) else { return nil }
            guard lo <= hi else {
                diagnostics.error(range, "Range has zero or negative size")
                return nil
            }
            return Interval(low: lo, high: hi)
        case .prefix(let base, let length, let range):
            guard let (network, last) = prefix(base, length, range, type) else { return nil }
            return Interval(low: network, high: last)
        case .set, .setReference, .list, .bitwiseOr:
            diagnostics.error(expr.range, "not a set element")
            return nil
        default:
            guard let value = scalar(expr, type) else { return nil }
            return Interval(low: value, high: value)
        }
    }

    /// Network and last address of `base/length`.
    private mutating func prefix(_ base: ValueExpr, _ length: Int, _ range: SourceRange, _ type: Datatype) -> (Key, Key)? {
        guard type.printsPrefixes else {
            diagnostics.error(range, "prefixes are not valid for type \(type.description)")
            return nil
        }
        guard let address = scalar(base, type) else { return nil }
        guard length >= 0, length <= type.width else {
            diagnostics.error(range, "Prefix length \(length) is invalid for type of \(type.width) bits width")
            return nil
        }
        let hostBits = type.width - length
        let hostMask: Key = hostBits == 0 ? 0 : (hostBits >= 128 ? ~Key(0) : (Key(1) << hostBits) - 1)
        return (address & ~hostMask, address | hostMask)
    }

    /// Sorted, duplicates removed; overlapping and adjacent intervals joined when `merge`.
    static func normalize(_ intervals: [Interval], merge: Bool) -> [Interval] {
        let sorted = intervals.sorted { ($0.low, $0.high) < ($1.low, $1.high) }
        var result: [Interval] = []
        for interval in sorted {
            if let last = result.last {
                if last == interval { continue }
                if merge, last.high == ~Key(0) || interval.low <= last.high + 1 {
                    result[result.count - 1].high = max(last.high, interval.high)
                    continue
                }
            }
            result.append(interval)
        }
        return result
    }

    mutating func ifname(_ expr: ValueExpr) -> IfnamePattern? {
        var text: String
        switch expr {
        case .symbol(let s, _), .quoted(let s, _), .wildcard(let s, _): text = s
        case .number(_, let s, _): text = s
        case .invalid: return nil
        default:
            diagnostics.error(expr.range, "datatype mismatch, expected network interface name")
            return nil
        }
        guard text.utf8.count <= 16 else {
            diagnostics.error(expr.range, "String exceeds maximum length of 16")
            return nil
        }
        let wildcard = text.hasSuffix("*") && !text.hasSuffix("\\*")
        if wildcard { text.removeLast() }
        return IfnamePattern(name: text, wildcard: wildcard)
    }

    /// A single value of `type`; nil after an error.
    mutating func scalar(_ expr: ValueExpr, _ type: Datatype) -> Key? {
        switch expr {
        case .invalid:
            return nil
        case .number(let value, _, let range):
            return number(value, type, range)
        case .address(let text, let range, _):
            return address(text, type, range)
        case .symbol(let text, let range), .quoted(let text, let range):
            if let value = Resolver.parseNumber(text) { return number(value, type, range) }
            if text.contains(":") || (text.first.map { $0.isNumber } ?? false) {
                return address(text, type, range)
            }
            return symbol(text, type, range)
        case .wildcard(let text, let range):
            diagnostics.error(range, "datatype mismatch, expected \(type.description), expression has type string ('\(text)')")
            return nil
        default:
            diagnostics.error(expr.range, "datatype mismatch, expected a single \(type.description)")
            return nil
        }
    }

    static func parseNumber(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, Lexer.isDigit(first) else { return nil }
        let (length, value) = Lexer.scanNumber(bytes, from: 0)
        return length == bytes.count ? value : nil
    }

    private mutating func number(_ value: UInt64, _ type: Datatype, _ range: SourceRange) -> Key? {
        switch type {
        case .ipv4Address, .ipv6Address:
            // nft would read 22 as the address 0.0.0.22; that is never what a rule means.
            diagnostics.error(range, "datatype mismatch, expected \(type.description), expression has type integer")
            return nil
        case .inetService:
            guard value <= 0xFFFF else {
                diagnostics.error(range, "Service out of range")
                return nil
            }
        case .nfproto:
            guard value == 2 || value == 10 else {
                diagnostics.error(range, "Could not parse netfilter protocol")
                return nil
            }
        default:
            let maximum = UInt64(type.maximum)
            guard value <= maximum else {
                diagnostics.error(range, "Value \(value) exceeds valid range 0-\(maximum)")
                return nil
            }
        }
        return Key(value)
    }

    private mutating func address(_ text: String, _ type: Datatype, _ range: SourceRange) -> Key? {
        if type == .etherAddress {
            // nft's ether_addr: six groups of one or two hex digits (02:0:0:0:0:a).
            let groups = text.split(separator: ":", omittingEmptySubsequences: false)
            var value: UInt64 = 0
            for group in groups {
                guard groups.count == 6, (1...2).contains(group.count), let byte = UInt8(group, radix: 16) else {
                    diagnostics.error(range, "Could not parse Ethernet address '\(text)'")
                    return nil
                }
                value = value << 8 | UInt64(byte)
            }
            return Key(value)
        }
        let v4 = IPv4Address(text)
        let v6 = v4 == nil ? IPv6Address(text) : nil
        switch type {
        case .ipv4Address:
            if let v4 { return Key.ipv4Mapped(v4.value) }
            if v6 != nil {
                diagnostics.error(range, "datatype mismatch, expected IPv4 address, expression has type IPv6 address")
            } else {
                diagnostics.error(range, "invalid IPv4 address '\(text)'")
            }
        case .ipv6Address:
            if let v6 { return Key(v6) }
            if v4 != nil {
                diagnostics.error(range, "datatype mismatch, expected IPv6 address, expression has type IPv4 address")
            } else {
                diagnostics.error(range, "invalid IPv6 address '\(text)'")
            }
        default:
            let kind = v4 != nil ? "IPv4 address" : (v6 != nil ? "IPv6 address" : "string")
            diagnostics.error(range, "datatype mismatch, expected \(type.description), expression has type \(kind)")
        }
        return nil
    }

    private mutating func symbol(_ text: String, _ type: Datatype, _ range: SourceRange) -> Key? {
        func table(_ entries: [(String, UInt8)], _ message: String) -> Key? {
            if let value = Keywords.lookup(entries, text) { return Key(value) }
            diagnostics.error(range, message)
            return nil
        }
        switch type {
        case .ipv4Address, .ipv6Address:
            diagnostics.error(range, "not supported by tunwall: host name '\(text)' (write the address)")
            return nil
        case .inetService:
            if let port = ServiceNames.ports[text] { return Key(port) }
            diagnostics.error(range, "Could not resolve service: unknown service name '\(text)'")
            return nil
        case .inetProtocol:
            if let number = Keywords.protocolNumber(text) { return Key(number) }
            diagnostics.error(range, "Could not resolve protocol name")
            return nil
        case .mark:
            diagnostics.error(range, "Could not parse packet mark")
            return nil
        case .etherAddress:
            diagnostics.error(range, "Could not parse Ethernet address '\(text)'")
            return nil
        case .etherType:
            if let value = Keywords.etherTypes.first(where: { $0.0 == text })?.1 { return Key(value) }
            diagnostics.error(range, "Could not parse Ethernet protocol")
            return nil
        case .ifaceType:
            if let value = Keywords.interfaceTypes.first(where: { $0.0 == text })?.1 { return Key(value) }
            diagnostics.error(range, "Could not parse network interface type")
            return nil
        case .nfproto:
            if text == "ipv4" { return 2 }
            if text == "ipv6" { return 10 }
            diagnostics.error(range, "Could not parse netfilter protocol")
            return nil
        case .ctState:
            if let bit = Keywords.ctStates.first(where: { $0.0 == text })?.1 { return Key(bit) }
            diagnostics.error(range, "Could not parse conntrack state")
            return nil
        case .tcpFlag:
            if let bit = Keywords.tcpFlags.first(where: { $0.0 == text })?.1 { return Key(bit) }
            diagnostics.error(range, "Could not parse TCP flag")
            return nil
        case .icmpType: return table(Keywords.icmpTypes, "Could not parse ICMP type")
        case .icmpv6Type: return table(Keywords.icmpv6Types, "Could not parse ICMPv6 type")
        case .icmpCode: return table(Keywords.icmpCodes, "Could not parse ICMP code")
        case .icmpv6Code: return table(Keywords.icmpv6Codes, "Could not parse ICMPv6 code")
        case .ifname:
            return nil
        }
    }
}

// The checker, rules: each statement checked in order against the rule's
// protocol context, as nft's evaluator does (src/evaluate.c, src/payload.c):
//
// - a match on a header field depends on its protocol: `tcp dport 22` first
//   checks `meta l4proto tcp`, and in an inet table `ip saddr` first checks
//   `meta nfproto ipv4`; these dependencies are added here (hidden in the
//   listing, as nft hides them) unless the context already holds them;
// - a match that contradicts the context is an error ("conflicting protocols
//   specified: udp vs. tcp"), as is any statement after a terminal one
//   (accept, drop, reject, jump, goto, return, continue, NAT);
// - `reject` gets its kind here: plain `reject` is ICMP port unreachable in
//   ip tables, ICMPv6 port unreachable in ip6 tables and icmpx
//   port-unreachable in inet tables, whatever the rule matched. (nft 1.0.6
//   does not turn it into a TCP reset after `tcp dport 22`: checked with
//   `nft --debug=netlink`, it emits `reject type 2 code 1`.) `reject with tcp
//   reset` depends on `meta l4proto tcp`; `with icmp` on IPv4, `with icmpv6`
//   on IPv6.

struct RuleContext {
    var l3: UInt8? = nil
    var l3Explicit: Int? = nil
    var l4: UInt8? = nil
    var l4Explicit: Int? = nil
    /// After a match on a set of protocols (`meta l4proto { tcp, udp }`): nft then reports a
    /// conflict for any later match that needs one protocol, naming the first other one.
    var l4Choices: [UInt8] = []
    /// The match that set the transport protocol (for the `~` under it in some errors).
    var l4Range: SourceRange? = nil
    /// The terminal statement (accept, drop, reject, jump, NAT, …) once there is one.
    var terminal: SourceRange? = nil
    var statements: [Statement] = []
    var ranges: [SourceRange] = []
}

extension Resolver {
    mutating func rule(_ ast: RuleAST, _ chain: ChainContext) -> (Rule, [SourceRange])? {
        var context = RuleContext()
        switch chain.family {
        case .ip: context.l3 = 4
        case .ip6: context.l3 = 6
        case .inet: break
        }
        for statement in ast.statements {
            if let terminal = context.terminal {
                diagnostics.error(statement.range, "Statement after terminal statement has no effect", related: terminal)
                return nil
            }
            self.statement(statement, chain, &context)
        }
        Resolver.orderMergedPayloads(&context.statements, &context.ranges)
        Resolver.nameTransportMatches(&context.statements, family: chain.family)
        return (Rule(statements: context.statements, comment: ast.comment, range: ast.range), context.ranges)
    }

    /// nft merges equality matches on adjacent header fields into one comparison when the
    /// load stays within four bytes (src/evaluate.c payload_try_merge: ports, ICMP type and
    /// code), across other matches but not across actions, and puts the merged match where the
    /// field at the lower offset was: `tcp dport 22 tcp sport 1024` lists as `tcp sport 1024 tcp
    /// dport 22`. Reordering matches does not change what the rule matches; it is done here so
    /// that the listing comes out as nft's.
    static func orderMergedPayloads(_ statements: inout [Statement], _ ranges: inout [SourceRange]) {
        func place(_ statement: Statement) -> (group: Int, offset: Int)? {
            guard case .match(let m) = statement, !m.hidden, m.maskForm == .none,
                  m.op == .implicit || m.op == .eq, case .value = m.value else { return nil }
            switch m.field {
            case .tcpSport, .udpSport, .thSport: return (0, 0)
            case .tcpDport, .udpDport, .thDport: return (0, 2)
            case .icmpType: return (1, 0)
            case .icmpCode: return (1, 1)
            case .icmpv6Type: return (2, 0)
            case .icmpv6Code: return (2, 1)
            default: return nil
            }
        }
        var start = 0
        while start < statements.count {
            var end = start
            while end < statements.count, case .match = statements[end] { end += 1 }
            for group in 0..<3 {
                let members = (start..<end).filter { place(statements[$0])?.group == group }
                guard let low = members.first(where: { place(statements[$0])?.offset == 0 }),
                      let high = members.first(where: { place(statements[$0])?.offset != 0 }) else { continue }
                let statement = statements.remove(at: high)
                let range = ranges.remove(at: high)
                let target = high < low ? low : low + 1
                statements.insert(statement, at: target)
                ranges.insert(range, at: target)
            }
            start = end + 1
        }
    }

    /// nft lists a `th` match after a single `meta l4proto tcp` (written or implied) as `tcp`'s own
    /// field, and then drops that `meta l4proto` as its dependency: `th dport 22 reject with tcp
    /// reset` comes back as `tcp dport 22 reject with tcp reset`. (After ICMP, offset 2 is the checksum.)
    static func nameTransportMatches(_ statements: inout [Statement], family: TableFamily) {
        var l4: UInt8? = nil
        var source: Int? = nil
        for index in statements.indices {
            guard case .match(var match) = statements[index] else { continue }
            var single: UInt8? = nil
            if case .value(let v) = match.value, match.maskForm == .none, match.op == .implicit || match.op == .eq {
                single = UInt8(truncatingIfNeeded: v)
            }
            switch match.field {
            case .metaL4proto:
                if let single { (l4, source) = (single, index) }
            case .ipProtocol, .ip6Nexthdr:
                if let single { (l4, source) = (single, family == .inet ? nil : index) }
            case .thSport, .thDport:
                let destination = match.field == .thDport
                switch l4 {
                case 6: match.label = destination ? "tcp dport" : "tcp sport"
                case 17: match.label = destination ? "udp dport" : "udp sport"
                case 1 where destination: match.label = "icmp checksum"
                case 58 where destination: match.label = "icmpv6 checksum"
                default: break
                }
                if match.label != nil, let source, case .match(var dependency) = statements[source] {
                    dependency.hidden = true
                    statements[source] = .match(dependency)
                }
                statements[index] = .match(match)
            default:
                break
            }
        }
    }

    private mutating func append(_ statement: Statement, _ range: SourceRange, _ context: inout RuleContext) {
        context.statements.append(statement)
        context.ranges.append(range)
    }

    /// Adds `meta nfproto`/`meta l4proto` dependencies; false after a conflict.
    private func hideExplicitNetworkMatch(_ context: inout RuleContext) {
        if let explicit = context.l3Explicit, case .match(var m) = context.statements[explicit] {
            m.hidden = true
            context.statements[explicit] = .match(m)
            context.l3Explicit = nil
        }
    }

    private mutating func depend(l3 needed: UInt8?, strict: Bool, l4: UInt8?, at range: SourceRange,
                                 visible: Bool = false, family: TableFamily, _ context: inout RuleContext) -> Bool {
        // An explicit `meta l4proto tcp` before `tcp dport` is what nft's listing drops (it is the
        // dependency); before `reject with tcp reset` it stays, as the dependency nft prints there.
        func name(_ l3: UInt8) -> String { l3 == 4 ? "ip" : "ip6" }
        if let l4, let other = context.l4Choices.first(where: { $0 != l4 }) {
            diagnostics.error(range, "conflicting protocols specified: \(Keywords.protocolDescription(other)) vs. \(Keywords.protocolDescription(l4))")
            return false
        }
        if let needed {
            if let current = context.l3 {
                if current != needed && strict {
                    diagnostics.error(range, "conflicting protocols specified: \(name(current)) vs. \(name(needed))")
                    return false
                }
                if current == needed { hideExplicitNetworkMatch(&context) }
            } else if family == .inet {
                let dependency = Match(field: .metaNfproto, op: .implicit, value: .value(needed == 4 ? 2 : 10),
                                       hidden: true, datatype: .nfproto)
                append(.match(dependency), range, &context)
                context.l3 = needed
            }
        }
        if let l4 {
            if let current = context.l4 {
                if current != l4 {
                    diagnostics.error(range, "conflicting protocols specified: \(Keywords.protocolDescription(current)) vs. \(Keywords.protocolDescription(l4))")
                    return false
                }
                if !visible, let explicit = context.l4Explicit, case .match(var m) = context.statements[explicit] {
                    m.hidden = true
                    context.statements[explicit] = .match(m)
                    context.l4Explicit = nil
                }
            } else {
                let dependency = Match(field: .metaL4proto, op: .implicit, value: .value(Key(l4)),
                                       hidden: !visible, datatype: .inetProtocol)
                append(.match(dependency), range, &context)
                context.l4 = l4
            }
        }
        return true
    }

    private mutating func statement(_ ast: StatementAST, _ chain: ChainContext, _ context: inout RuleContext) {
        switch ast {
        case .match(let match):
            self.match(match, chain, &context)
        case .counter(let packets, let bytes, let range):
            counters.append(CounterSeed(packets: packets, bytes: bytes))
            append(.counter(index: counters.count - 1), range, &context)
        case .log(let prefix, let level, let range):
            append(.log(prefix: prefix, level: level), range, &context)
        case .verdict(let verdict, let range):
            context.terminal = range
            guard let resolved = self.verdict(verdict, chains: chain.chains, table: chain.table) else { return }
            append(.verdict(resolved), range, &context)
        case .reject(let reject, let range):
            context.terminal = range
            guard let spec = rejectSpec(reject, range, chain.family, &context) else { return }
            append(.reject(spec), range, &context)
        case .ctHelperSet(let name, let nameRange, let range):
            usesHelpers = true
            guard chain.helpers.contains(name) else {
                diagnostics.error(nameRange, "ct helper '\(name)' does not exist in table \(tableNames[chain.table])")
                return
            }
            append(.ctHelperSet(name), range, &context)
        case .vmap(let vmap):
            self.vmap(vmap, chain, &context)
        case .limit(let limit):
            append(.limit(Limit(rate: limit.rate, unit: limit.unit, burst: limit.burst, over: limit.over)), limit.range, &context)
        case .ctCount(let limit, let over, let range):
            append(.ctCount(limit: limit, over: over), range, &context)
        case .nftraceSet(let on, let range):
            append(.nftraceSet(on), range, &context)
        case .nat(let nat):
            context.terminal = nat.range
            usesNAT = true
            guard let action = natAction(nat, chain, &context) else { return }
            append(.nat(action), nat.range, &context)
        }
    }

    /// The protocol a field's header belongs to, added to the rule's context (false after a conflict).
    private mutating func fieldDependency(_ field: Field, _ range: SourceRange, _ family: TableFamily,
                                          _ context: inout RuleContext) -> Bool {
        switch field {
        case .ipSaddr, .ipDaddr, .ipProtocol:
            return depend(l3: 4, strict: true, l4: nil, at: range, family: family, &context)
        case .ip6Saddr, .ip6Daddr, .ip6Nexthdr:
            return depend(l3: 6, strict: true, l4: nil, at: range, family: family, &context)
        case .tcpSport, .tcpDport, .tcpFlags:
            return depend(l3: nil, strict: false, l4: 6, at: range, family: family, &context)
        case .udpSport, .udpDport:
            return depend(l3: nil, strict: false, l4: 17, at: range, family: family, &context)
        case .icmpType, .icmpCode:
            return depend(l3: 4, strict: false, l4: 1, at: range, family: family, &context)
        case .icmpv6Type, .icmpv6Code:
            return depend(l3: 6, strict: false, l4: 58, at: range, family: family, &context)
        case .metaNfproto:
            guard family == .inet else {
                diagnostics.error(range, "meta nfproto is only useful in the inet family")
                return false
            }
            return true
        default:
            return true
        }
    }

    /// A verdict of a rule or a map element: jump and goto name a regular chain of the table.
    mutating func verdict(_ ast: VerdictAST, chains: [ChainAST], table: Int) -> Verdict? {
        switch ast {
        case .accept: return .accept
        case .drop: return .drop
        case .continue: return .continue
        case .return: return .return
        case .jump(let name, let nameRange), .goto(let name, let nameRange):
            guard let target = chains.firstIndex(where: { $0.name == name }) else {
                diagnostics.error(nameRange, "chain '\(name)' does not exist in table \(tableNames[table])")
                return nil
            }
            if chains[target].base != nil {
                diagnostics.error(nameRange, "cannot jump to base chain '\(name)'")
                return nil
            }
            if case .jump = ast { return .jump(target) }
            return .goto(target)
        }
    }

    /// `FIELD vmap { … }` / `FIELD vmap @name`: a terminal statement.
    private mutating func vmap(_ ast: VmapAST, _ chain: ChainContext, _ context: inout RuleContext) {
        context.terminal = ast.range
        let type = Resolver.datatype(of: ast.field)
        guard fieldDependency(ast.field, ast.fieldRange, chain.family, &context) else { return }
        var map = VerdictMap(field: ast.field, datatype: type, elements: nil, named: nil)
        if let (name, range) = ast.mapName {
            guard let index = tableSets[chain.table].firstIndex(where: { $0.name == name }) else {
                diagnostics.error(range, "map '\(name)' does not exist in table \(tableNames[chain.table])")
                return
            }
            let set = tableSets[chain.table][index]
            guard set.verdicts != nil else {
                diagnostics.error(range, "'\(name)' is a set, not a verdict map")
                return
            }
            guard set.type == type else {
                diagnostics.error(range, "datatype mismatch, expected \(type.description), expression has type \(set.type.description)",
                                  related: ast.fieldRange)
                return
            }
            map.named = index
        } else if let elements = ast.elements {
            guard !elements.isEmpty else {
                diagnostics.error(ast.range, "empty map")
                return
            }
            guard let resolved = mapElements(elements, type, interval: nil, chains: chain.chains, table: chain.table) else { return }
            map.elements = resolved
        }
        append(.vmap(map), ast.range, &context)
    }

    /// A map's elements, keys of `type` sorted as nft lists them; nil after an error. `interval`
    /// nil: an anonymous map (ranges and prefixes allowed); else the named map's `flags interval`.
    mutating func mapElements(_ elements: [MapElementAST], _ type: Datatype, interval: Bool?, chains: [ChainAST],
                              table: Int, removals: [(after: Int, value: ValueExpr)] = []) -> MapElements? {
        var failed = false
        var result = MapElements()
        if type == .ifname {
            var pairs: [(IfnamePattern, Verdict)] = []
            func remove(_ index: Int) {
                for removal in removals where removal.after == index {
                    guard let pattern = ifname(removal.value) else { continue }
                    guard let found = pairs.firstIndex(where: { $0.0 == pattern }) else {
                        diagnostics.error(removal.value.range, "Could not process rule: No such file or directory")
                        failed = true
                        continue
                    }
                    pairs.remove(at: found)
                }
            }
            for (index, element) in elements.enumerated() {
                remove(index)
                guard let pattern = ifname(element.key),
                      let verdict = self.verdict(element.verdict, chains: chains, table: table) else { failed = true; continue }
                if pairs.contains(where: { $0.0 == pattern }) { continue }
                pairs.append((pattern, verdict))
            }
            remove(elements.count)
            if failed { return nil }
            let order = IfnamePattern.sorted(pairs.map(\.0), interval: interval ?? false)
            result.ifnames = order
            result.verdicts = order.map { pattern in pairs.first { $0.0 == pattern }!.1 }
            return result
        }
        var pairs: [(Interval, Verdict, SourceRange)] = []
        func remove(_ index: Int) {
            for removal in removals where removal.after == index {
                guard let key = self.element(removal.value, type) else { failed = true; continue }
                guard let found = pairs.firstIndex(where: { $0.0 == key }) else {
                    diagnostics.error(removal.value.range, "Could not process rule: No such file or directory")
                    failed = true
                    continue
                }
                pairs.remove(at: found)
            }
        }
        for (index, element) in elements.enumerated() {
            remove(index)
            if interval == false {
                var kind: String? = nil
                if case .range = element.key { kind = "range" }
                if case .prefix = element.key { kind = "prefix" }
                if let kind {
                    diagnostics.error(element.key.range,
                        "You must add 'flags interval' to your map declaration if you want to add \(kind) elements")
                    failed = true
                    continue
                }
            }
            guard let key = self.element(element.key, type),
                  let verdict = self.verdict(element.verdict, chains: chains, table: table) else { failed = true; continue }
            if pairs.contains(where: { $0.0 == key }) { continue }
            pairs.append((key, verdict, element.key.range))
        }
        remove(elements.count)
        if failed { return nil }
        pairs.sort { ($0.0.low, $0.0.high) < ($1.0.low, $1.0.high) }
        for index in pairs.indices.dropFirst() where pairs[index].0.low <= pairs[index - 1].0.high {
            diagnostics.error(pairs[index].2, "conflicting intervals specified", related: pairs[index - 1].2)
            return nil
        }
        result.intervals = pairs.map(\.0)
        result.verdicts = pairs.map(\.1)
        return result
    }

    private mutating func match(_ ast: MatchAST, _ chain: ChainContext, _ context: inout RuleContext) {
        let type = Resolver.datatype(of: ast.field)
        guard fieldDependency(ast.field, ast.fieldRange, chain.family, &context) else { return }
        if ast.value.isInvalid { return }
        guard let value = matchValue(ast.value, type, table: chain.table, field: ast.fieldRange) else { return }
        if [.lt, .gt, .le, .ge].contains(ast.op) {
            guard case .value = value, type != .ifname, !type.isBitmask else {
                diagnostics.error(ast.value.range, "relational operator \(ast.op.rawValue) needs a single value")
                return
            }
        }
        var match = Match(field: ast.field, op: ast.op, value: value, datatype: type)
        if let maskExpr = ast.andMask ?? ast.slashMask {
            guard case .value(let bits) = value, let mask = matchValue(maskExpr, type, table: chain.table),
                  case .value(let maskBits) = mask else {
                diagnostics.error(maskExpr.range, "a mask needs single values")
                return
            }
            match.value = .value(bits & maskBits)
            match.mask = UInt64(maskBits)
            match.maskForm = ast.andMask != nil ? .and : .slash
        }
        let index = context.statements.count
        append(.match(match), ast.range, &context)
        // What an equality on a protocol field tells later matches.
        guard ast.op == .implicit || ast.op == .eq, match.maskForm == .none else { return }
        if [.metaL4proto, .ipProtocol, .ip6Nexthdr].contains(ast.field) { context.l4Range = ast.range }
        // (nft keeps the last such statement as the context's dependency: a later match that needs
        // the same protocol makes the listing drop it.)
        switch (ast.field, value) {
        case (.metaNfproto, .value(let v)):
            context.l3 = v == 2 ? 4 : 6
            context.l3Explicit = index
        case (.metaL4proto, .value(let v)):
            context.l4 = UInt8(truncatingIfNeeded: v)
            context.l4Explicit = index
            context.l4Choices = []
        case (.ipProtocol, .value(let v)), (.ip6Nexthdr, .value(let v)):
            if let known = Keywords.transportContext(UInt8(truncatingIfNeeded: v)) {
                context.l4 = known
                context.l4Choices = []
                // In ip and ip6 tables nft lists `ip protocol tcp` before `tcp dport` as the dependency
                // (and drops it); in inet tables it stays.
                context.l4Explicit = chain.family == .inet ? nil : index
            }
        case (.metaNfproto, .set(let intervals, _)):
            // nft takes the last element as the family: after `meta nfproto { ipv4, ipv6 }`,
            // `ip6 saddr` is fine and `ip saddr` a conflict.
            if let last = intervals.last { context.l3 = last.high == 10 ? 6 : 4 }
            context.l3Explicit = nil
        case (.metaL4proto, .set(let intervals, _)), (.ipProtocol, .set(let intervals, _)),
             (.ip6Nexthdr, .set(let intervals, _)):
            context.l4 = nil
            context.l4Choices = intervals.flatMap { $0.low...$0.high }.map { UInt8(truncatingIfNeeded: $0) }
            context.l4Explicit = nil
        default:
            break
        }
    }

    private mutating func rejectSpec(_ ast: RejectAST, _ range: SourceRange, _ family: TableFamily,
                                     _ context: inout RuleContext) -> RejectSpec? {
        switch ast {
        case .default:
            switch family {
            case .ip: return .icmp(3)
            case .ip6: return .icmpv6(4)
            case .inet:
                // With the family known from the rule, nft picks that family's port unreachable
                // (and drops an explicit `meta nfproto` that told it, as the reject's dependency).
                guard let l3 = context.l3 else { return .icmpx(1) }
                hideExplicitNetworkMatch(&context)
                return l3 == 4 ? .icmp(3) : .icmpv6(4)
            }
        case .tcpReset:
            if let current = context.l4 ?? context.l4Choices.first(where: { $0 != 6 }), current != 6 {
                let keyword = SourceRange(line: range.line, column: range.column, endColumn: range.column + 5)
                diagnostics.error(keyword, "you cannot use tcp reset with this protocol", related: context.l4Range)
                return nil
            }
            if family == .inet { hideExplicitNetworkMatch(&context) }
            if family != .inet, let explicit = context.l4Explicit, case .match(var m) = context.statements[explicit] {
                m.hidden = true  // in ip and ip6 tables nft lists `meta l4proto tcp` as this reject's dependency
                context.statements[explicit] = .match(m)
            }
            if context.l4 == nil {
                // nft puts this dependency first in the rule (and prints it in inet tables).
                let dependency = Match(field: .metaL4proto, op: .implicit, value: .value(6),
                                       hidden: family != .inet, datatype: .inetProtocol)
                context.statements.insert(.match(dependency), at: 0)
                context.ranges.insert(range, at: 0)
                context.l4 = 6
                if let explicit = context.l3Explicit { context.l3Explicit = explicit + 1 }
                context.l4Explicit = nil
            }
            return .tcpReset
        case .icmp(let kind, let codeExpr):
            let table: [(String, UInt8)]
            switch kind {
            case .icmp: table = Keywords.icmpCodes
            case .icmpv6: table = Keywords.icmpv6Codes
            case .icmpx: table = Keywords.icmpxCodes
            }
            var code: UInt8? = nil
            switch codeExpr {
            case .symbol(let text, _), .quoted(let text, _):
                code = Keywords.lookup(table, text) ?? Resolver.parseNumber(text).flatMap { UInt8(exactly: $0) }
            case .number(let value, _, _):
                code = UInt8(exactly: value)
            case .invalid:
                return nil
            default:
                break
            }
            guard let code else {
                diagnostics.error(codeExpr.range, "Could not parse \(kind.rawValue) code")
                return nil
            }
            switch kind {
            case .icmpx:
                guard family == .inet else {
                    diagnostics.error(codeExpr.range, "abstracted ICMP unreachable not supported",
                                      related: SourceRange(line: range.line, column: range.column, endColumn: range.column + 5))
                    return nil
                }
                return .icmpx(code)
            case .icmp:
                guard depend(l3: 4, strict: true, l4: nil, at: range, family: family, &context) else { return nil }
                return .icmp(code)
            case .icmpv6:
                guard depend(l3: 6, strict: true, l4: nil, at: range, family: family, &context) else { return nil }
                return .icmpv6(code)
            }
        }
    }

    private mutating func natAction(_ ast: NATAST, _ chain: ChainContext, _ context: inout RuleContext) -> NATStatement? {
        var action = NATStatement(kind: ast.kind, family: ast.family, address: nil, ports: nil, flags: [])
        for flag in ["random", "fully-random", "persistent"] where ast.flags.contains(flag) {
            action.flags.append(flag)
        }
        if let address = ast.address {
            var addressFamily = ast.family
            switch chain.family {
            case .inet:
                guard addressFamily != nil else {
                    diagnostics.error(ast.keywordRange, "ip or ip6 must be specified with address for inet tables.")
                    return nil
                }
            case .ip, .ip6:
                if let explicit = addressFamily, explicit != chain.family {
                    diagnostics.error(ast.keywordRange, "conflicting protocols specified: \(chain.family.rawValue) vs. \(explicit.rawValue)")
                    return nil
                }
                addressFamily = chain.family
            }
            let type: Datatype = addressFamily == .ip6 ? .ipv6Address : .ipv4Address
            guard let value = matchValue(address, type, table: chain.table) else { return nil }
            switch value {
            case .value, .range, .prefix: break
            default:
                diagnostics.error(address.range, "a NAT address must be an address, a range or a prefix")
                return nil
            }
            action.address = value
            action.isIPv6 = type == .ipv6Address
        }
        if let low = ast.portLow, let portRange = ast.portRange {
            guard context.l4 != nil || !context.l4Choices.isEmpty else {
                diagnostics.error(portRange, "transport protocol mapping is only valid after transport protocol match",
                                  related: ast.keywordRange)
                return nil
            }
            guard let lo = scalar(low, .inetService) else { return nil }
            var hi = lo
            if let high = ast.portHigh {
                guard let value = scalar(high, .inetService) else { return nil }
                hi = value
            }
            guard lo <= hi else {
                diagnostics.error(portRange, "Range has zero or negative size")
                return nil
            }
            action.ports = (UInt16(lo), UInt16(hi))
        }
        return action
    }
}

// The checker: syntax tree → checked model (Model.swift), reporting what nft
// reports when it evaluates a file (nftables src/evaluate.c) and what the
// kernel refuses when the batch is committed (net/netfilter/nf_tables_api.c):
// unknown set types, set elements of the wrong type, ranges and prefixes in
// a set without `flags interval`, jumps to chains that do not exist or are
// base chains, `ct helper set` of a helper the table lacks, `policy` on a
// regular chain, `type nat` on the forward hook, `type route` off the
// output hook, nat chains at priority -200 or below. Rules are checked in
// ResolverRules.swift; the walk from each base chain (loops, depth, hooks
// of reject and NAT) is in Validator.swift.

struct Resolver {
    var diagnostics = Diagnostics()
    let asts: [TableAST]
    /// Sets of each table, resolved before any rule (rules may use a set declared after them).
    var tableSets: [[NamedSet]] = []
    var tableNames: [String] = []
    var counters: [CounterSeed] = []
    var usesNAT = false
    var usesHelpers = false
    /// Places of each table's chains' statements, for the validator: [table][chain][rule][statement].
    var statementRanges: [[[[SourceRange]]]] = []
    /// The type of the named set being resolved (for its removals).
    var currentSetType: Datatype? = nil

    init(tables: [TableAST]) {
        asts = tables
    }

    mutating func resolve() -> [Table] {
        tableNames = asts.map(\.displayName)
        tableSets = asts.map { _ in [] }
        var tables: [Table] = []
        for (index, ast) in asts.enumerated() {
            tableSets[index] = ast.sets.map { namedSet($0, table: index) }
            let helpers = ast.helpers.map { helper in
                Helper(name: helper.name, type: helper.type, l4Protocol: helper.l4Protocol,
                       l3Family: helper.l3Family ?? ast.family.rawValue, handle: helper.handle)
            }
            if !helpers.isEmpty { usesHelpers = true }
            var chains: [Chain] = []
            var ranges: [[[SourceRange]]] = []
            for chainAST in ast.chains {
                let (chain, chainRanges) = self.chain(chainAST, table: index)
                chains.append(chain)
                ranges.append(chainRanges)
            }
            statementRanges.append(ranges)
            tables.append(Table(family: ast.family, name: ast.name, helpers: helpers, sets: tableSets[index], chains: chains,
                                handle: ast.handle))
        }
        return tables
    }

    // MARK: Chains

    private mutating func chain(_ ast: ChainAST, table: Int) -> (Chain, [[SourceRange]]) {
        var base: BaseChain? = nil
        if let spec = ast.base {
            switch (spec.type, spec.hook) {
            case (.nat, .forward):
                diagnostics.error(spec.hookRange, "chain type nat does not support hook forward")
            case (.route, let hook) where hook != .output:
                diagnostics.error(spec.hookRange, "chain type route does not support hook \(hook)")
            default:
                break
            }
            if spec.type == .nat && spec.priority <= -200 {
                diagnostics.error(spec.priorityRange, "nat chains need a priority above -200 (the conntrack hook)")
            }
            var drop = false
            if let policy = ast.policy, case .drop = policy.verdict { drop = true }
            base = BaseChain(type: spec.type, hook: spec.hook, priority: spec.priority, policyDrop: drop)
        } else if let policy = ast.policy {
            diagnostics.error(policy.range, "policy is only valid on base chains")
        }
        var rules: [Rule] = []
        var ranges: [[SourceRange]] = []
        let context = ChainContext(table: table, family: asts[table].family, chains: asts[table].chains,
                                   helpers: asts[table].helpers.map(\.name))
        for ruleAST in ast.rules {
            if let (resolved, ruleRanges) = self.rule(ruleAST, context) {
                var rule = resolved
                rule.handle = ruleAST.handle
                rules.append(rule)
                ranges.append(ruleRanges)
            }
        }
        return (Chain(name: ast.name, base: base, rules: rules, handle: ast.handle), ranges)
    }

    // MARK: Sets

    private mutating func namedSet(_ ast: SetAST, table: Int) -> NamedSet {
        var set = NamedSet(name: ast.name, type: .inetService, interval: ast.interval, autoMerge: ast.autoMerge,
                           intervals: [], ifnames: [])
        set.handle = ast.handle
        if ast.mapElements != nil { set.verdicts = [] }
        guard let typeName = ast.type else {
            diagnostics.error(ast.nameRange, "set definition does not specify key")
            return set
        }
        guard let type = Datatype(rawValue: typeName.name), Datatype.setTypes.contains(type) else {
            if Datatype.otherNFTTypes.contains(typeName.name) {
                diagnostics.error(typeName.range, "not supported by tunwall: set type \(typeName.name)")
            } else {
                diagnostics.error(typeName.range, "unknown datatype \(typeName.name)")
            }
            return set
        }
        set.type = type
        currentSetType = type
        if let elements = ast.mapElements {
            if let resolved = mapElements(elements, type, interval: ast.interval, chains: asts[table].chains, table: table,
                                          removals: ast.removals) {
                set.intervals = resolved.intervals
                set.ifnames = resolved.ifnames
                set.verdicts = resolved.verdicts
            }
            return set
        }
        if type == .ifname {
            for (index, element) in ast.elements.enumerated() {
                removeElements(ast.removals, at: index, from: &set.ifnames)
                guard let pattern = ifname(element) else { continue }
                if !set.ifnames.contains(pattern) { set.ifnames.append(pattern) }
            }
            removeElements(ast.removals, at: ast.elements.count, from: &set.ifnames)
            set.ifnames = IfnamePattern.sorted(set.ifnames, interval: ast.interval)
            return set
        }
        var intervals: [Interval] = []
        var placed: [(interval: Interval, range: SourceRange)] = []
        for (index, element) in ast.elements.enumerated() {
            removeElements(ast.removals, at: index, from: &intervals, &placed)
            var kind: String? = nil
            if case .range = element { kind = "range" }
            if case .prefix = element { kind = "prefix" }
            if let kind, !ast.interval {
                diagnostics.error(element.range,
                    "You must add 'flags interval' to your set declaration if you want to add \(kind) elements")
                continue
            }
            guard let interval = self.element(element, type) else { continue }
            intervals.append(interval)
            placed.append((interval, element.range))
        }
        removeElements(ast.removals, at: ast.elements.count, from: &intervals, &placed)
        if ast.interval && !ast.autoMerge {
            // Overlaps are an error without auto-merge; like nft, report the first overlap in
            // sorted order, at the element that starts later.
            let sorted = placed.sorted { ($0.interval.low, $0.interval.high) < ($1.interval.low, $1.interval.high) }
            var reach: (high: Key, range: SourceRange)? = nil
            var previous: Interval? = nil
            for (interval, range) in sorted {
                if let reach, interval.low <= reach.high, interval != previous {
                    diagnostics.error(range, "conflicting intervals specified", related: reach.range)
                    break
                }
                if reach == nil || interval.high > reach!.high { reach = (interval.high, range) }
                previous = interval
            }
        }
        set.intervals = Resolver.normalize(intervals, merge: ast.autoMerge)
        return set
    }
}

extension Resolver {
    /// `delete element` of interface names: each removal due once `index` elements were added.
    mutating func removeElements(_ removals: [(after: Int, value: ValueExpr)], at index: Int,
                                 from patterns: inout [IfnamePattern]) {
        for removal in removals where removal.after == index {
            guard let pattern = ifname(removal.value) else { continue }
            guard let found = patterns.firstIndex(of: pattern) else {
                diagnostics.error(removal.value.range, "Could not process rule: No such file or directory")
                continue
            }
            patterns.remove(at: found)
        }
    }

    /// `delete element` of values: the element must be there as written (a value, range or prefix).
    mutating func removeElements(_ removals: [(after: Int, value: ValueExpr)], at index: Int, from intervals: inout [Interval],
                                 _ placed: inout [(interval: Interval, range: SourceRange)]) {
        for removal in removals where removal.after == index {
            guard let type = currentSetType, let interval = element(removal.value, type) else { continue }
            guard let found = intervals.firstIndex(of: interval) else {
                diagnostics.error(removal.value.range, "Could not process rule: No such file or directory")
                continue
            }
            intervals.remove(at: found)
            if let other = placed.firstIndex(where: { $0.interval == interval }) { placed.remove(at: other) }
        }
    }
}

/// What rules of one chain are checked against.
struct ChainContext {
    var table: Int
    var family: TableFamily
    var chains: [ChainAST]
    var helpers: [String]
}

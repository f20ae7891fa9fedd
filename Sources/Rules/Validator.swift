// The walk the kernel does when a ruleset is committed
// (net/netfilter/nf_tables_api.c, nft_chain_validate / nft_table_validate):
// from every base chain through its jumps and gotos, checking that
//
// - no chain is reached again on its own path (a jump loop; the kernel says
//   "Too many links"),
// - no chain is reached 16 or more jumps deep (NFT_JUMP_STACK_SIZE is 16: a
//   base chain is level 0 and the kernel refuses level 16),
// - `reject` runs only at prerouting, input, forward and output
//   (nft_reject_validate),
// - NAT statements run only in nat chains, and masquerade only at
//   postrouting, snat at postrouting or input, dnat and redirect at
//   prerouting or output (nft_nat_validate, nft_masq_validate,
//   nft_redir_validate).
//
// Chains no base chain reaches are not checked, as in the kernel.

struct Validator {
    var diagnostics = Diagnostics()
    let tables: [Table]
    let ranges: [[[[SourceRange]]]]

    static let maximumDepth = 16

    init(tables: [Table], ranges: [[[[SourceRange]]]]) {
        self.tables = tables
        self.ranges = ranges
    }

    mutating func validate() {
        for (t, table) in tables.enumerated() {
            for (c, chain) in table.chains.enumerated() {
                guard let base = chain.base else { continue }
                var explored: [Int: Int] = [:]
                walk(table: t, chain: c, depth: 0, path: [c], base: base, baseName: chain.name, explored: &explored)
            }
        }
    }

    private mutating func walk(table t: Int, chain c: Int, depth: Int, path: [Int], base: BaseChain,
                               baseName: String, explored: inout [Int: Int]) {
        if let seen = explored[c], seen >= depth { return }
        explored[c] = depth
        let table = tables[t]
        let chain = table.chains[c]
        let via = c == path[0] ? "" : " (chain '\(chain.name)' is reached from base chain '\(baseName)')"
        for (r, rule) in chain.rules.enumerated() {
            for (s, statement) in rule.statements.enumerated() {
                let range = ranges[t][c][r][s]
                func follow(_ target: Int, range: SourceRange) {
                    let name = table.chains[target].name
                    if let start = path.firstIndex(of: target) {
                        let loop = (path[start...].map { table.chains[$0].name } + [name]).joined(separator: " -> ")
                        diagnostics.error(range, "jump loop: \(loop)")
                        return
                    }
                    if depth + 1 >= Validator.maximumDepth {
                        diagnostics.error(range,
                            "too many nested jumps: chain '\(name)' would be \(depth + 1) jumps deep from base chain '\(baseName)' (netfilter allows \(Validator.maximumDepth - 1))")
                        return
                    }
                    walk(table: t, chain: target, depth: depth + 1, path: path + [target], base: base,
                         baseName: baseName, explored: &explored)
                }
                switch statement {
                case .reject:
                    if base.hook == .postrouting {
                        diagnostics.error(range, "reject is only valid in prerouting, input, forward and output chains\(via)")
                    }
                case .nat(let nat):
                    checkNAT(nat, base: base, range: range, via: via)
                case .verdict(.jump(let target)), .verdict(.goto(let target)):
                    follow(target, range: range)
                case .vmap(let map):
                    // Every jump and goto of the map is a way out of this chain.
                    let verdicts = map.elements?.verdicts ?? map.named.flatMap { table.sets[$0].verdicts } ?? []
                    for verdict in verdicts {
                        switch verdict {
                        case .jump(let target), .goto(let target): follow(target, range: range)
                        default: break
                        }
                    }
                default:
                    break
                }
            }
        }
    }

    private mutating func checkNAT(_ nat: NATStatement, base: BaseChain, range: SourceRange, via: String) {
        let name = nat.kind.rawValue
        guard base.type == .nat else {
            diagnostics.error(range, "\(name) is only valid in nat chains\(via)")
            return
        }
        let hooks: [Hook]
        switch nat.kind {
        case .masquerade: hooks = [.postrouting]
        case .snat: hooks = [.postrouting, .input]
        case .dnat, .redirect: hooks = [.prerouting, .output]
        }
        if !hooks.contains(base.hook) {
            let list = hooks.map { "\($0)" }.joined(separator: " and ")
            diagnostics.error(range, "\(name) is only valid in \(list) chains\(via)")
        }
    }
}

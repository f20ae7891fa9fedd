// The syntax tree: a ruleset as written, before values are given types.
//
// Values stay symbolic here (`ssh`, `10.0.1.0/24`, `echo-request` are just
// words, numbers and addresses with their place in the file), because what a
// word means depends on where it is used: nft resolves `$VAR` and symbols
// against the datatype of the match they end up in (nft(8), "DATA TYPES"),
// and an error in a `define` is reported at the define, where the text is.

/// A value as written.
indirect enum ValueExpr: Sendable {
    case symbol(String, SourceRange)
    case quoted(String, SourceRange)
    /// `lan*` (unquoted, with the asterisk in the text).
    case wildcard(String, SourceRange)
    case number(UInt64, String, SourceRange)
    case address(String, SourceRange, bracketed: Bool)
    case range(ValueExpr, ValueExpr, SourceRange)
    case prefix(ValueExpr, Int, SourceRange)
    /// An anonymous set `{ a, b-c, d/24 }` (elements flattened when a `$VAR` holds a set).
    case set([ValueExpr], SourceRange)
    case setReference(String, SourceRange)
    /// `a,b,c`: a list, meaningful for bitmask types (ct state, tcp flags).
    case list([ValueExpr], SourceRange)
    /// `a|b`
    case bitwiseOr([ValueExpr], SourceRange)
    /// What an undefined `$VAR` became (already reported).
    case invalid(SourceRange)

    var range: SourceRange {
        switch self {
        case .symbol(_, let r), .quoted(_, let r), .wildcard(_, let r), .number(_, _, let r), .address(_, let r, _),
             .range(_, _, let r), .prefix(_, _, let r), .set(_, let r), .setReference(_, let r), .list(_, let r),
             .bitwiseOr(_, let r), .invalid(let r):
            return r
        }
    }

    var isInvalid: Bool {
        switch self {
        case .invalid: return true
        case .range(let a, let b, _): return a.isInvalid || b.isInvalid
        case .prefix(let a, _, _): return a.isInvalid
        case .set(let items, _), .list(let items, _), .bitwiseOr(let items, _): return items.contains { $0.isInvalid }
        default: return false
        }
    }
}

/// Packet fields a match can read, with the words that name them.
enum Field: String, Sendable, CaseIterable {
    case iifname, oifname
    case ipSaddr = "ip saddr", ipDaddr = "ip daddr", ipProtocol = "ip protocol"
    case ip6Saddr = "ip6 saddr", ip6Daddr = "ip6 daddr", ip6Nexthdr = "ip6 nexthdr"
    case metaL4proto = "meta l4proto", metaNfproto = "meta nfproto", metaMark = "meta mark"
    case tcpSport = "tcp sport", tcpDport = "tcp dport", tcpFlags = "tcp flags"
    case udpSport = "udp sport", udpDport = "udp dport"
    case thSport = "th sport", thDport = "th dport"
    case icmpType = "icmp type", icmpCode = "icmp code", icmpv6Type = "icmpv6 type", icmpv6Code = "icmpv6 code"
    case ctState = "ct state"
    /// Layer 2 (TAP interfaces): the Ethernet header the packet came in with, and the input's type.
    case etherSaddr = "ether saddr", etherDaddr = "ether daddr", etherType = "ether type"
    case metaIiftype = "meta iiftype"
}

enum RelOp: String, Sendable {
    case implicit = "", eq = "==", neq = "!=", lt = "<", gt = ">", le = "<=", ge = ">="
}

struct MatchAST: Sendable {
    var field: Field
    var fieldRange: SourceRange
    var op: RelOp
    var value: ValueExpr
    /// `tcp flags & MASK == VALUE`
    var andMask: ValueExpr? = nil
    /// `tcp flags VALUE / MASK`
    var slashMask: ValueExpr? = nil
    var range: SourceRange
}

enum VerdictAST: Sendable {
    case accept, drop, `continue`, `return`
    case jump(String, SourceRange)
    case goto(String, SourceRange)
}

enum RejectFamily: String, Sendable { case icmp, icmpv6, icmpx }

enum RejectAST: Sendable {
    case `default`
    case tcpReset
    case icmp(RejectFamily, ValueExpr)
}

enum NATKind: String, Sendable { case masquerade, snat, dnat, redirect }

struct NATAST: Sendable {
    var kind: NATKind
    var keywordRange: SourceRange
    /// `snat ip to` / `dnat ip6 to`.
    var family: TableFamily? = nil
    var address: ValueExpr? = nil
    var portLow: ValueExpr? = nil
    var portHigh: ValueExpr? = nil
    var portRange: SourceRange? = nil
    var flags: [String] = []
    var range: SourceRange
}

enum StatementAST: Sendable {
    case match(MatchAST)
    case counter(packets: UInt64, bytes: UInt64, SourceRange)
    case log(prefix: String?, level: String?, SourceRange)
    case verdict(VerdictAST, SourceRange)
    case reject(RejectAST, SourceRange)
    case ctHelperSet(String, nameRange: SourceRange, SourceRange)
    case nat(NATAST)
    /// `FIELD vmap { KEY : VERDICT, … }` or `FIELD vmap @map`.
    case vmap(VmapAST)
    /// `limit rate [over] N/UNIT [burst M packets]`.
    case limit(LimitAST)
    /// `ct count [over] N`.
    case ctCount(limit: UInt64, over: Bool, SourceRange)

    var range: SourceRange {
        switch self {
        case .match(let m): return m.range
        case .counter(_, _, let r), .log(_, _, let r), .verdict(_, let r), .reject(_, let r), .ctHelperSet(_, _, let r),
             .ctCount(_, _, let r):
            return r
        case .nat(let n): return n.range
        case .vmap(let v): return v.range
        case .limit(let l): return l.range
        }
    }
}

/// One `KEY : VERDICT` of a verdict map.
struct MapElementAST: Sendable {
    var key: ValueExpr
    var verdict: VerdictAST
    var verdictRange: SourceRange
}

struct VmapAST: Sendable {
    var field: Field
    var fieldRange: SourceRange
    /// The anonymous map's elements, or nil for `@name`.
    var elements: [MapElementAST]?
    var mapName: (name: String, range: SourceRange)?
    var range: SourceRange
}

/// nft_limit's time units (nft's `second`, `minute`, …), in seconds.
enum LimitUnit: String, Sendable, CaseIterable {
    case second, minute, hour, day, week

    var seconds: UInt64 {
        switch self {
        case .second: return 1
        case .minute: return 60
        case .hour: return 3600
        case .day: return 86400
        case .week: return 604_800
        }
    }
}

struct LimitAST: Sendable {
    var rate: UInt64
    var unit: LimitUnit
    /// nil: nft's default (5 packets), which the listing leaves out.
    var burst: UInt64?
    var over: Bool
    var range: SourceRange
}

struct RuleAST: Sendable {
    var statements: [StatementAST]
    var comment: String?
    var range: SourceRange
    /// nft's rule handle (what `list ruleset -a` shows and `delete rule … handle N` names).
    var handle = 0

    /// Anonymous sets and maps nft makes for this rule: each takes a handle before the rule's.
    var anonymousSets: Int {
        statements.reduce(0) { count, statement in
            switch statement {
            case .match(let match):
                if case .set(let items, _) = match.value, items.count > 1 { return count + 1 }
                return count
            case .vmap(let vmap):
                return count + (vmap.elements == nil ? 0 : 1)
            default:
                return count
            }
        }
    }
}

enum ChainType: String, Sendable { case filter, nat, route }

struct BaseChainAST: Sendable {
    var type: ChainType
    var typeRange: SourceRange
    var hook: Hook
    var hookRange: SourceRange
    var priority: Int
    var priorityRange: SourceRange
}

struct ChainAST: Sendable {
    var name: String
    var nameRange: SourceRange
    var base: BaseChainAST?
    var policy: (verdict: VerdictAST, range: SourceRange)?
    var rules: [RuleAST] = []
    var handle = 0
}

struct SetAST: Sendable {
    var name: String
    var nameRange: SourceRange
    var type: (name: String, range: SourceRange)?
    var interval = false
    var autoMerge = false
    var elements: [ValueExpr] = []
    /// A `map NAME { type KEY : verdict; … }`: its elements (keys with verdicts); nil for a set.
    var mapElements: [MapElementAST]? = nil
    /// `delete element`: the key to take out once `after` elements (or map elements) were added.
    var removals: [(after: Int, value: ValueExpr)] = []
    var handle = 0
}

struct HelperAST: Sendable {
    var name: String
    var nameRange: SourceRange
    var type: String
    var typeRange: SourceRange
    var l4Protocol: UInt8
    var l3Family: String?
    var handle = 0
}

struct TableAST: Sendable {
    var family: TableFamily
    var name: String
    var nameRange: SourceRange
    var chains: [ChainAST] = []
    var sets: [SetAST] = []
    var helpers: [HelperAST] = []
    /// nft's table handle, and the table's handle generator (chains, objects, sets and rules share it).
    var handle = 0
    var lastHandle = 0

    var displayName: String { "\(family.rawValue) \(name)" }
}

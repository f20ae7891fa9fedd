// The checked ruleset: every value resolved to its datatype, every name bound.
// The listing prints from this; the compiler flattens it for evaluation.
//
// Values are 128-bit keys (`UInt128`): IPv4 addresses IPv4-mapped
// (::ffff:a.b.c.d, as RulePacket holds them), IPv6 addresses as they are,
// everything else (ports, protocols, marks, ICMP types, ct state bits, TCP
// flags) as the plain number. Interface names stay strings until `bind`.

import Wire

typealias Key = UInt128

/// nft datatypes of the subset (nftables src/datatype.c), with nft's names.
enum Datatype: String, Sendable {
    case ipv4Address = "ipv4_addr", ipv6Address = "ipv6_addr", inetService = "inet_service"
    case inetProtocol = "inet_proto", ifname = "ifname", mark = "mark"
    case ctState = "ct_state", tcpFlag = "tcp_flag", icmpType = "icmp_type", icmpCode = "icmp_code"
    case icmpv6Type = "icmpv6_type", icmpv6Code = "icmpv6_code", nfproto = "nf_proto"
    case etherAddress = "ether_addr", etherType = "ether_type", ifaceType = "iface_type"

    /// nft's description, as in "datatype mismatch, expected …".
    var description: String {
        switch self {
        case .ipv4Address: return "IPv4 address"
        case .ipv6Address: return "IPv6 address"
        case .inetService: return "internet network service"
        case .inetProtocol: return "Internet protocol"
        case .ifname: return "network interface name"
        case .mark: return "packet mark"
        case .ctState: return "conntrack state"
        case .tcpFlag: return "TCP flag"
        case .icmpType: return "ICMP type"
        case .icmpCode: return "ICMP code"
        case .icmpv6Type: return "ICMPv6 type"
        case .icmpv6Code: return "ICMPv6 code"
        case .nfproto: return "netfilter protocol"
        case .etherAddress: return "Ethernet address"
        case .etherType: return "Ethernet protocol"
        case .ifaceType: return "network interface type"
        }
    }

    /// Types a named set may have here.
    static let setTypes: [Datatype] = [.ipv4Address, .ipv6Address, .inetService, .inetProtocol, .ifname, .mark]

    /// Other nft datatypes (a set of one of these is "not supported", not "unknown").
    static let otherNFTTypes: Set<String> = [
        "ether_addr", "integer", "string", "verdict", "nf_proto", "bitmask", "pkttype", "icmp_type", "icmp_code",
        "icmpx_code", "icmpv6_type", "icmpv6_code", "ct_state", "ct_status", "ct_dir", "ct_label", "ct_event",
        "iface_index", "iface_type", "realm", "tcp_flag", "dccp_pkttype", "mh_type", "time", "day", "hour",
        "boolean", "cgroupsv2", "uid", "gid", "classid", "arp_op", "ether_type", "dscp", "ecn", "fib_addrtype",
        "ipsec_dir", "devgroup", "ifkind", "igmp_type", "ipv6_addr", "osf",
    ]

    /// Width in bits (what a prefix length is measured against).
    var width: Int {
        switch self {
        case .ipv4Address, .mark, .ctState: return 32
        case .ipv6Address, .ifname: return 128
        case .inetService, .etherType, .ifaceType: return 16
        case .etherAddress: return 48
        case .inetProtocol, .tcpFlag, .icmpType, .icmpCode, .icmpv6Type, .icmpv6Code, .nfproto: return 8
        }
    }

    var maximum: Key {
        switch self {
        case .ipv4Address: return Key.ipv4Mapped(0xFFFF_FFFF)
        case .ipv6Address, .ifname: return ~Key(0)
        default: return (Key(1) << width) - 1
        }
    }

    /// Types nft prints set intervals of as prefixes (DTYPE_F_PREFIX).
    var printsPrefixes: Bool { self == .ipv4Address || self == .ipv6Address || self == .mark }
    var isBitmask: Bool { self == .ctState || self == .tcpFlag }
}

extension Key {
    static func ipv4Mapped(_ value: UInt32) -> Key { (Key(0xFFFF) << 32) | Key(value) }
    init(_ address: IPv6Address) { self = (Key(address.high) << 64) | Key(address.low) }
    var ipv6Address: IPv6Address { IPv6Address(high: UInt64(truncatingIfNeeded: self >> 64), low: UInt64(truncatingIfNeeded: self)) }
    var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: self) }
}

/// An inclusive interval of keys (a single value has low == high).
struct Interval: Hashable, Sendable {
    var low: Key
    var high: Key
}

/// An interface name or `name*` prefix (nft's wildcard: compare only the characters before the `*`).
struct IfnamePattern: Hashable, Sendable {
    var name: String
    var wildcard: Bool

    func matches(_ interface: String) -> Bool {
        wildcard ? interface.utf8.starts(with: name.utf8) : interface == name
    }

    var text: String { wildcard ? "\(name)*" : name }

    /// The order nft lists ifname set elements in: an interval set (one with
    /// `flags interval` or a wildcard) sorts by the bytes of the name; a hash
    /// set comes back sorted as little-endian integers of the zero-padded
    /// 16-byte name, i.e. from the last byte to the first.
    static func sorted(_ patterns: [IfnamePattern], interval: Bool) -> [IfnamePattern] {
        let isInterval = interval || patterns.contains { $0.wildcard }
        if isInterval {
            return patterns.sorted { ($0.name, $0.wildcard ? 1 : 0) < ($1.name, $1.wildcard ? 1 : 0) }
        }
        return patterns.sorted(by: nftOrder)
    }

    static func nftOrder(_ a: IfnamePattern, _ b: IfnamePattern) -> Bool {
        func padded(_ p: IfnamePattern) -> [UInt8] {
            var bytes = Array(p.name.utf8.prefix(16))
            bytes += Array(repeating: 0, count: 16 - bytes.count)
            return bytes
        }
        let x = padded(a), y = padded(b)
        for index in stride(from: 15, through: 0, by: -1) where x[index] != y[index] {
            return x[index] < y[index]
        }
        return !a.wildcard && b.wildcard
    }
}

/// The value side of a match.
enum MatchValue: Sendable {
    case value(Key)
    case range(Key, Key)
    /// Network (host bits cleared) and length in the type's bits.
    case prefix(Key, Int)
    /// An anonymous set: intervals sorted (merged when it is an interval set).
    case set([Interval], interval: Bool)
    /// A named set: its index in the table's sets.
    case named(Int)
    case ifname(IfnamePattern)
    case ifnameSet([IfnamePattern])
}

/// How a bitmask match was written (for printing it back as nft does).
enum MaskForm: Sendable { case none, and, slash }

struct Match: Sendable {
    var field: Field
    var op: RelOp
    var value: MatchValue
    var mask: UInt64 = 0
    var maskForm: MaskForm = .none
    /// A dependency nft adds and does not print (`meta nfproto ipv4` before `ip saddr` in inet),
    /// or an explicit match nft's listing drops because a later match implies it.
    var hidden = false
    var datatype: Datatype
    /// How nft lists the field when it is not the field's own name (`th dport` after `meta l4proto tcp`).
    var label: String? = nil
}

enum Verdict: Equatable, Sendable {
    case accept, drop, `continue`, `return`
    case jump(Int)
    case goto(Int)
}

/// `reject` as compiled: nft_reject's type and code (NFT_REJECT_*).
enum RejectSpec: Equatable, Sendable {
    case tcpReset
    case icmp(UInt8)
    case icmpv6(UInt8)
    case icmpx(UInt8)
}

struct NATStatement: Sendable {
    var kind: NATKind
    var family: TableFamily?
    var address: MatchValue?
    var isIPv6 = false
    var ports: (low: UInt16, high: UInt16)?
    var flags: [String]
}

enum Statement: Sendable {
    case match(Match)
    case counter(index: Int)
    case log(prefix: String?, level: String?)
    case verdict(Verdict)
    case reject(RejectSpec)
    case ctHelperSet(String)
    case nat(NATStatement)
    case vmap(VerdictMap)
    case limit(Limit)
    case ctCount(limit: UInt64, over: Bool)
}

/// The elements of a verdict map, sorted by key (ifname maps: `ifnames` in nft's order).
struct MapElements: Sendable {
    var intervals: [Interval] = []
    var ifnames: [IfnamePattern] = []
    /// verdicts[i] belongs to intervals[i] (or ifnames[i]).
    var verdicts: [Verdict] = []
}

struct VerdictMap: Sendable {
    var field: Field
    var datatype: Datatype
    /// An anonymous map, or a named one (index in the table's sets).
    var elements: MapElements?
    var named: Int?
    /// How nft lists the field when it is not the field's own name.
    var label: String? = nil
}

/// `limit rate [over] RATE/UNIT [burst BURST packets]` (nft_limit_pkts).
struct Limit: Sendable {
    var rate: UInt64
    var unit: LimitUnit
    var burst: UInt64?
    var over: Bool
}

struct Rule: Sendable {
    var statements: [Statement]
    var comment: String?
    var range: SourceRange
    var handle = 0
}

struct BaseChain: Sendable {
    var type: ChainType
    var hook: Hook
    var priority: Int
    var policyDrop: Bool
}

struct Chain: Sendable {
    var name: String
    var base: BaseChain?
    var rules: [Rule]
    var handle = 0
}

struct NamedSet: Sendable {
    var name: String
    var type: Datatype
    var interval: Bool
    var autoMerge: Bool
    var intervals: [Interval]
    var ifnames: [IfnamePattern]
    /// A verdict map (`map NAME { type KEY : verdict; }`): the verdict of each element.
    var verdicts: [Verdict]? = nil
    var handle = 0
}

struct Helper: Sendable {
    var name: String
    var type: String
    var l4Protocol: UInt8
    var l3Family: String
    var handle = 0
}

struct Table: Sendable {
    var family: TableFamily
    var name: String
    var helpers: [Helper]
    var sets: [NamedSet]
    var chains: [Chain]
    var handle = 0
}

/// Initial counter values (`counter packets N bytes M` in the file).
struct CounterSeed: Sendable {
    var packets: UInt64
    var bytes: UInt64
}

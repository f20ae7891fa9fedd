// Words with a fixed meaning: nft's reserved keywords (cannot name a table,
// chain or set: `chain rt { }` is a syntax error in nft), the nft features
// tunwall refuses with "not supported by tunwall: WORD", and the symbol tables
// nft uses to read and print values (nftables src/proto.c, src/ct.c,
// src/datatype.c; protocol names from netbase /etc/protocols as
// getprotobynumber(3) gives them to nft).

enum Keywords {
    /// Words nft 1.0.6's scanner always returns as keywords (tested one by one
    /// as chain names with `nft -c`): they cannot be identifiers.
    static let reserved: Set<String> = [
        "eq", "ne", "le", "lt", "ge", "gt", "lshift", "rshift", "xor", "and", "or", "not", "vmap", "include",
        "define", "redefine", "undefine", "describe", "hook", "device", "devices", "table", "chain", "rule",
        "set", "element", "map", "flowtable", "handle", "ruleset", "socket", "tproxy", "accept", "drop",
        "continue", "jump", "goto", "return", "inet", "netdev", "add", "replace", "update", "create", "insert",
        "delete", "get", "list", "reset", "flush", "rename", "import", "export", "monitor", "position", "index",
        "comment", "constant", "interval", "dynamic", "auto-merge", "timeout", "gc-interval", "elements",
        "expires", "policy", "size", "flow", "offload", "meter", "counter", "log", "queue", "limit", "quota",
        "hour", "day", "reject", "snat", "dnat", "masquerade", "redirect", "random", "th", "bridge", "ether",
        "type", "typeof", "vlan", "arp", "ip", "ecn", "time", "icmp", "icmpv6", "igmp", "ip6", "priority", "ah",
        "esp", "comp", "flags", "udp", "udplite", "tcp", "dccp", "sctp", "rt", "rt0", "rt2", "srh", "hbh",
        "frag", "dst", "mh", "meta", "mark", "iif", "iifname", "iiftype", "oif", "oifname", "oiftype", "skuid",
        "skgid", "nftrace", "rtclassid", "ibriport", "ibrname", "obriport", "obrname", "pkttype", "cpu",
        "iifgroup", "oifgroup", "cgroup", "ct", "numgen", "jhash", "symhash", "dup", "fwd", "fib", "osf",
        "synproxy", "notrack", "all", "exists", "missing", "exthdr", "ipsec", "secmark", "xt",
    ]

    /// nft statements, expressions and objects tunwall does not implement: using
    /// one is an error naming it, not a generic syntax error.
    static let unsupported: Set<String> = [
        "quota", "meter", "flowtable", "fib", "numgen", "jhash", "symhash", "queue",
        "dup", "fwd", "tproxy", "synproxy", "osf", "socket", "rt", "rt0", "rt2", "srh", "notrack", "ether",
        "vlan", "arp", "bridge", "netdev", "igmp", "ah", "esp", "comp", "udplite", "dccp", "sctp", "hbh", "frag",
        "dst", "mh", "exthdr", "ipsec", "secmark", "xt", "iif", "oif", "iiftype", "oiftype", "skuid", "skgid",
        "nftrace", "rtclassid", "ibriport", "ibrname", "obriport", "obrname", "pkttype", "cpu", "iifgroup",
        "oifgroup", "cgroup", "time", "hour", "day", "last", "typeof", "flow", "offload", "ecn",
        "gre", "vxlan", "geneve", "gretap", "tunnel", "dynamic", "timeout", "add", "insert",
        "delete", "replace", "create", "list", "reset", "rename", "import", "export", "monitor", "describe",
        "destroy", "redefine", "undefine", "element", "rule", "get", "position", "handle", "index",
    ]

    static let families: [String: TableFamily] = ["ip": .ip, "ip6": .ip6, "inet": .inet]
    static let unsupportedFamilies: Set<String> = ["arp", "bridge", "netdev"]

    static let hooks: [String: Hook] = [
        "prerouting": .prerouting, "input": .input, "forward": .forward, "output": .output, "postrouting": .postrouting,
    ]

    /// Standard priorities (nftables src/rule.c std_prios) for ip, ip6 and inet.
    static let priorities: [(name: String, value: Int)] = [
        ("raw", -300), ("mangle", -150), ("dstnat", -100), ("filter", 0), ("security", 50), ("srcnat", 100),
    ]

    /// nft's std_prio_family_hook_compat: dstnat only at prerouting, srcnat only at postrouting (nft 1.0.6).
    static func priorityName(_ name: String, fitsHook hook: Hook) -> Bool {
        switch name {
        case "dstnat": return hook == .prerouting
        case "srcnat": return hook == .postrouting
        default: return true
        }
    }

    /// How nft prints a chain priority: a standard name within ±10, else the number.
    static func priorityText(_ value: Int, hook: Hook) -> String {
        for (name, standard) in priorities where abs(value - standard) <= 10 {
            guard priorityName(name, fitsHook: hook) else { break }
            let offset = value - standard
            if offset > 0 { return "\(name) + \(offset)" }
            if offset < 0 { return "\(name) - \(-offset)" }
            return name
        }
        return String(value)
    }

    /// Protocol numbers and names, netbase /etc/protocols (first name per number, as getprotobynumber).
    static let protocols: [(name: String, number: UInt8)] = [
        ("ip", 0), ("hopopt", 0), ("icmp", 1), ("igmp", 2), ("ggp", 3), ("ipencap", 4), ("st", 5), ("tcp", 6),
        ("egp", 8), ("igp", 9), ("pup", 12), ("udp", 17), ("hmp", 20), ("xns-idp", 22), ("rdp", 27),
        ("iso-tp4", 29), ("dccp", 33), ("xtp", 36), ("ddp", 37), ("idpr-cmtp", 38), ("ipv6", 41),
        ("ipv6-route", 43), ("ipv6-frag", 44), ("idrp", 45), ("rsvp", 46), ("gre", 47), ("esp", 50), ("ah", 51),
        ("skip", 57), ("ipv6-icmp", 58), ("ipv6-nonxt", 59), ("ipv6-opts", 60), ("rspf", 73), ("vmtp", 81),
        ("eigrp", 88), ("ospf", 89), ("ax.25", 93), ("ipip", 94), ("etherip", 97), ("encap", 98), ("pim", 103),
        ("ipcomp", 108), ("vrrp", 112), ("l2tp", 115), ("isis", 124), ("sctp", 132), ("fc", 133),
        ("mobility-header", 135), ("udplite", 136), ("mpls-in-ip", 137), ("manet", 138), ("hip", 139),
        ("shim6", 140), ("wesp", 141), ("rohc", 142), ("ethernet", 143),
    ]

    static func protocolNumber(_ name: String) -> UInt8? {
        if name == "icmpv6" { return 58 }
        return protocols.first { $0.name == name }?.number
    }

    static func protocolName(_ number: UInt8) -> String? {
        protocols.first { $0.number == number }?.name
    }

    /// Protocol names in "conflicting protocols specified: X vs. Y" (nft's proto_desc names).
    static func protocolDescription(_ number: UInt8) -> String {
        switch number {
        case 58: return "icmpv6"
        case 108: return "comp"
        default: return transportContext(number) != nil ? protocolName(number) ?? "unknown" : "unknown"
        }
    }

    /// Transport protocols nft 1.0.6 has a protocol description for (src/proto.c): `ip protocol`
    /// sets the rule's transport context only to these (`meta l4proto 47` sets it to "unknown",
    /// which then conflicts with any later `tcp`/`udp`/`icmp` match, as in nft).
    static func transportContext(_ number: UInt8) -> UInt8? {
        [1, 2, 6, 17, 33, 50, 51, 58, 108, 132, 136].contains(number) ? number : nil
    }

    /// nft's icmp_type symbol table (src/proto.c).
    static let icmpTypes: [(String, UInt8)] = [
        ("echo-reply", 0), ("destination-unreachable", 3), ("source-quench", 4), ("redirect", 5),
        ("echo-request", 8), ("router-advertisement", 9), ("router-solicitation", 10), ("time-exceeded", 11),
        ("parameter-problem", 12), ("timestamp-request", 13), ("timestamp-reply", 14), ("info-request", 15),
        ("info-reply", 16), ("address-mask-request", 17), ("address-mask-reply", 18),
    ]

    /// nft's icmp6_type symbol table.
    static let icmpv6Types: [(String, UInt8)] = [
        ("destination-unreachable", 1), ("packet-too-big", 2), ("time-exceeded", 3), ("parameter-problem", 4),
        ("echo-request", 128), ("echo-reply", 129), ("mld-listener-query", 130), ("mld-listener-report", 131),
        ("mld-listener-done", 132), ("mld-listener-reduction", 132), ("nd-router-solicit", 133),
        ("nd-router-advert", 134), ("nd-neighbor-solicit", 135), ("nd-neighbor-advert", 136), ("nd-redirect", 137),
        ("router-renumbering", 138), ("ind-neighbor-solicit", 141), ("ind-neighbor-advert", 142),
        ("mld2-listener-report", 143),
    ]

    /// nft's icmp_code symbol table (also the codes of `reject with icmp`).
    static let icmpCodes: [(String, UInt8)] = [
        ("net-unreachable", 0), ("host-unreachable", 1), ("prot-unreachable", 2), ("port-unreachable", 3),
        ("frag-needed", 4), ("net-prohibited", 9), ("host-prohibited", 10), ("admin-prohibited", 13),
    ]

    /// nft's icmpv6_code symbol table.
    /// nft's ethertype_tbl (src/proto.c), in its order (the first name of a value is the one printed).
    static let etherTypes: [(String, UInt16)] = [
        ("ip", 0x0800), ("arp", 0x0806), ("ip6", 0x86dd), ("8021q", 0x8100), ("8021ad", 0x88a8), ("vlan", 0x8100),
    ]

    /// nft's arphrd_tbl (src/meta.c): `meta iiftype` names (ARPHRD_* numbers).
    static let interfaceTypes: [(String, UInt16)] = [
        ("ether", 1), ("ppp", 512), ("ipip", 768), ("ipip6", 769), ("loopback", 772), ("sit", 776), ("ipgre", 778),
    ]

    static let icmpv6Codes: [(String, UInt8)] = [
        ("no-route", 0), ("admin-prohibited", 1), ("addr-unreachable", 3), ("port-unreachable", 4),
        ("policy-fail", 5), ("reject-route", 6),
    ]

    /// nft's icmpx_code symbol table (NFT_REJECT_ICMPX_*).
    static let icmpxCodes: [(String, UInt8)] = [
        ("no-route", 0), ("port-unreachable", 1), ("host-unreachable", 2), ("admin-prohibited", 3),
    ]

    /// ct state bits (NF_CT_STATE_*_BIT as nft numbers them), in nft's printing order.
    static let ctStates: [(String, UInt64)] = [
        ("invalid", 1), ("established", 2), ("related", 4), ("new", 8), ("untracked", 64),
    ]

    /// TCP flag bits (the header's flags byte), in nft's printing order.
    static let tcpFlags: [(String, UInt64)] = [
        ("fin", 0x01), ("syn", 0x02), ("rst", 0x04), ("psh", 0x08), ("ack", 0x10), ("urg", 0x20),
        ("ecn", 0x40), ("cwr", 0x80),
    ]

    /// syslog levels `log level` takes (nft src/statement.c syslog_level).
    static let logLevels = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug", "audit"]

    static func lookup(_ table: [(String, UInt8)], _ name: String) -> UInt8? { table.first { $0.0 == name }?.1 }
    static func name(_ table: [(String, UInt8)], _ value: UInt8) -> String? { table.first { $0.1 == value }?.0 }
}

enum TableFamily: String, Sendable {
    case ip, ip6, inet
}

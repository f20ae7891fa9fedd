// One match at a time: each case is a rule put alone in a forward chain with
// policy drop and `accept` at its end, and a packet that must (or must not)
// be accepted. They cover every match of the subset, negation, sets,
// interface wildcards, ct state, the bitmask forms and nft's implied
// protocol dependencies (`tcp dport 53` never matches UDP; `ip saddr` never
// matches IPv6 in an inet table).

import Conntrack
import Rules
import Testing
import Wire

/// The named sets the cases use.
let matchSets = """
    \tset trusted { type ipv4_addr; flags interval; elements = { 10.0.1.0/24, 192.168.7.1, 172.16.0.1-172.16.0.9 }; }
    \tset trusted6 { type ipv6_addr; flags interval; elements = { fd00:1::/64 }; }
    \tset ftp { type inet_service; flags interval; elements = { 21, 2121, 5000-5500 }; }
    \tset inside { type ifname; elements = { "lan0", "dmz0" }; }
    \tset outside { type ifname; flags interval; elements = { "wan*" }; }
    \tset protocols { type inet_proto; elements = { udp, 47 }; }
    \tset marks { type mark; elements = { 1, 2 }; }

    """

struct MatchCase: CustomTestStringConvertible, Sendable {
    var rule: String
    var packet: RulePacket
    var matches: Bool
    var hook: Hook = .forward
    var testDescription: String { "\(rule) \(matches ? "matches" : "does not match")" }
}

let c4 = "10.0.1.2", s4 = "203.0.113.10", c6 = "fd00:1::2", s6 = "2001:db8:1::10"

let matchCases: [MatchCase] = [
    MatchCase(rule: "iifname \"lan0\"", packet: packet(c4, s4), matches: true),
    MatchCase(rule: "iifname \"lan0\"", packet: packet(s4, c4, iif: wan, oif: lan), matches: false),
    MatchCase(rule: "iifname \"wan*\"", packet: packet(s4, c4, iif: wan, oif: lan), matches: true),
    MatchCase(rule: "oifname wan*", packet: packet(c4, s4), matches: true),
    MatchCase(rule: "oifname \"w*\"", packet: packet(c4, s4, oif: dmz), matches: false),
    MatchCase(rule: "iifname { \"lan0\", \"dmz*\" }", packet: packet(c4, s4, iif: dmz), matches: true),
    MatchCase(rule: "iifname != { \"lan0\", \"dmz*\" }", packet: packet(c4, s4, iif: wan), matches: true),
    MatchCase(rule: "iifname @inside", packet: packet(c4, s4, iif: dmz), matches: true),
    MatchCase(rule: "iifname @outside", packet: packet(c4, s4, iif: wan), matches: true),
    MatchCase(rule: "iifname @outside", packet: packet(c4, s4, iif: lan), matches: false),
    // No input interface (output hook): the name is empty, so != matches and = does not (nft_meta).
    MatchCase(rule: "iifname != \"lan0\"", packet: packet(c4, s4, iif: -1), matches: true, hook: .output),
    MatchCase(rule: "iifname \"lan0\"", packet: packet(c4, s4, iif: -1), matches: false, hook: .output),
    MatchCase(rule: "ip saddr 10.0.1.0/24", packet: packet(c4, s4), matches: true),
    MatchCase(rule: "ip saddr 10.0.1.0/24", packet: packet("10.0.2.2", s4), matches: false),
    MatchCase(rule: "ip saddr != 10.0.1.0/24", packet: packet("10.0.2.2", s4), matches: true),
    MatchCase(rule: "ip saddr 10.0.1.1-10.0.1.5", packet: packet(c4, s4), matches: true),
    MatchCase(rule: "ip saddr 10.0.1.1-10.0.1.5", packet: packet("10.0.1.6", s4), matches: false),
    MatchCase(rule: "ip daddr { 203.0.113.0/24, 198.51.100.1 }", packet: packet(c4, s4), matches: true),
    MatchCase(rule: "ip saddr @trusted", packet: packet("172.16.0.9", s4), matches: true),
    MatchCase(rule: "ip saddr @trusted", packet: packet("172.16.0.10", s4), matches: false),
    MatchCase(rule: "ip saddr != @trusted", packet: packet("192.168.7.2", s4), matches: true),
    MatchCase(rule: "ip saddr > 10.0.1.1", packet: packet(c4, s4), matches: true),
    // ip saddr depends on IPv4: an IPv6 packet never matches, even negated.
    MatchCase(rule: "ip saddr != 10.0.1.0/24", packet: packet(c6, s6), matches: false),
    MatchCase(rule: "ip6 saddr fd00:1::/64", packet: packet(c6, s6), matches: true),
    MatchCase(rule: "ip6 daddr != 2001:db8:1::10", packet: packet(c6, s6), matches: false),
    MatchCase(rule: "ip6 saddr @trusted6", packet: packet(c6, s6), matches: true),
    MatchCase(rule: "ip6 saddr ::ffff:10.0.1.2", packet: packet(c4, s4), matches: false),
    MatchCase(rule: "ip protocol udp", packet: packet(c4, s4, .udp), matches: true),
    MatchCase(rule: "ip6 nexthdr tcp", packet: packet(c6, s6), matches: true),
    MatchCase(rule: "ip6 nexthdr tcp", packet: packet(c4, s4), matches: false),
    MatchCase(rule: "meta l4proto { tcp, udp }", packet: packet(c6, s6, .udp), matches: true),
    MatchCase(rule: "meta l4proto @protocols", packet: packet(c4, s4, .gre), matches: true),
    MatchCase(rule: "meta l4proto != tcp", packet: packet(c4, s4), matches: false),
    MatchCase(rule: "meta nfproto ipv6", packet: packet(c6, s6), matches: true),
    MatchCase(rule: "meta nfproto ipv6", packet: packet(c4, s4), matches: false),
    MatchCase(rule: "tcp dport 80", packet: packet(c4, s4), matches: true),
    MatchCase(rule: "tcp dport http", packet: packet(c6, s6), matches: true),
    MatchCase(rule: "tcp dport 53", packet: packet(c4, s4, .udp, dport: 53), matches: false),
    MatchCase(rule: "tcp dport != 53", packet: packet(c4, s4, .udp, dport: 80), matches: false),
    MatchCase(rule: "udp dport 53", packet: packet(c4, s4, .udp, dport: 53), matches: true),
    MatchCase(rule: "th dport 53", packet: packet(c4, s4, .udp, dport: 53), matches: true),
    MatchCase(rule: "th dport 53", packet: packet(c4, s4, .tcp, dport: 53), matches: true),
    MatchCase(rule: "tcp sport 1024-65535", packet: packet(c4, s4), matches: true),
    MatchCase(rule: "tcp sport != 1024-65535", packet: packet(c4, s4, sport: 80), matches: true),
    MatchCase(rule: "tcp dport { 21, 2121, 5000-5500 }", packet: packet(c4, s4, dport: 5001), matches: true),
    MatchCase(rule: "tcp dport != { 21, 2121, 5000-5500 }", packet: packet(c4, s4, dport: 5501), matches: true),
    MatchCase(rule: "tcp dport @ftp", packet: packet(c4, s4, dport: 2121), matches: true),
    MatchCase(rule: "tcp dport @ftp", packet: packet(c4, s4, dport: 22), matches: false),
    MatchCase(rule: "tcp dport < 1024", packet: packet(c4, s4, dport: 1023), matches: true),
    MatchCase(rule: "tcp dport >= 1024", packet: packet(c4, s4, dport: 1023), matches: false),
    MatchCase(rule: "tcp flags syn", packet: packet(c4, s4, flags: [.syn, .ack]), matches: true),
    MatchCase(rule: "tcp flags syn / syn,ack", packet: packet(c4, s4, flags: [.syn, .ack]), matches: false),
    MatchCase(rule: "tcp flags & (syn|ack) == syn", packet: packet(c4, s4, flags: [.syn, .ece, .cwr]), matches: true),
    MatchCase(rule: "tcp flags != syn", packet: packet(c4, s4, flags: [.syn, .ack]), matches: true),
    MatchCase(rule: "tcp flags == syn", packet: packet(c4, s4, flags: .syn), matches: true),
    MatchCase(rule: "tcp flags & (fin|syn|rst|ack) == 0", packet: packet(c4, s4, flags: .psh), matches: true),
    MatchCase(rule: "icmp type echo-request", packet: icmp(c4, s4, type: 8), matches: true),
    MatchCase(rule: "icmp type { echo-request, echo-reply }", packet: icmp(c4, s4, type: 0), matches: true),
    MatchCase(rule: "icmp type echo-request", packet: icmp(c6, s6, type: 8), matches: false),
    MatchCase(rule: "icmp type destination-unreachable icmp code port-unreachable", packet: icmp(c4, s4, type: 3, code: 3), matches: true),
    MatchCase(rule: "icmpv6 type echo-request", packet: icmp(c6, s6, type: 128), matches: true),
    MatchCase(rule: "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert }", packet: icmp(c6, s6, type: 136), matches: true),
    MatchCase(rule: "icmpv6 code 4", packet: icmp(c6, s6, type: 1, code: 4), matches: true),
    MatchCase(rule: "ct state established,related", packet: packet(c4, s4, state: .related), matches: true),
    MatchCase(rule: "ct state established,related", packet: packet(c4, s4, state: .new), matches: false),
    MatchCase(rule: "ct state { new, untracked }", packet: packet(c4, s4, state: .untracked), matches: true),
    MatchCase(rule: "ct state != new", packet: packet(c4, s4, state: .invalid), matches: true),
    // nft's well-known trap: `!= a,b` is "not exactly a|b", true for every single state.
    MatchCase(rule: "ct state != established,related", packet: packet(c4, s4, state: .established), matches: true),
    MatchCase(rule: "meta mark 0x10", packet: { var p = packet(c4, s4); p.mark = 16; return p }(), matches: true),
    MatchCase(rule: "meta mark @marks", packet: { var p = packet(c4, s4); p.mark = 2; return p }(), matches: true),
    MatchCase(rule: "mark != 0", packet: packet(c4, s4), matches: false),
]

/// All the cases' rules in one ruleset, for nft to check.
let evaluationSets: String = {
    var seen = Set<String>()
    var text = "table inet filter {\n" + matchSets + "\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n"
    for c in matchCases where seen.insert(c.rule).inserted {
        text += "\t\t\(c.rule) accept\n"
    }
    return text + "\t}\n}\n"
}()

@Suite struct MatchTests {
    @Test(arguments: matchCases)
    func match(_ c: MatchCase) throws {
        let hook = c.hook == .output ? "output" : "forward"
        let text = "table inet filter {\n" + matchSets
            + "\tchain c {\n\t\ttype filter hook \(hook) priority filter; policy drop;\n\t\t\(c.rule) accept\n\t}\n}\n"
        let rules = try parse(text)
        #expect(rules.verdict(c.hook, c.packet) == (c.matches ? .accept : .drop))
    }

    @Test func interfaceIndexesOutsideTheBoundNamesActAsNoInterface() throws {
        let rules = try parse("table inet t {\n\tchain c {\n\t\ttype filter hook forward priority 0; policy drop;\n\t\tiifname != \"lan0\" accept\n\t}\n}\n")
        #expect(rules.verdict(.forward, packet(c4, s4, iif: 99)) == .accept)
        #expect(rules.verdict(.forward, packet(c4, s4, iif: lan)) == .drop)
    }

    @Test func bindCanBeRepeated() throws {
        let rules = try parse("table inet t {\n\tchain c {\n\t\ttype filter hook forward priority 0; policy drop;\n\t\tiifname \"eth*\" accept\n\t}\n}\n")
        #expect(rules.verdict(.forward, packet(c4, s4, iif: 0)) == .drop)
        rules.bind(interfaceNames: ["eth0", "eth1"])
        #expect(rules.verdict(.forward, packet(c4, s4, iif: 1)) == .accept)
    }
}

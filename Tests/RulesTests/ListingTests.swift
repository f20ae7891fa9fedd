// Parsing and `nft list ruleset` printing: the gateway ruleset (every match
// and statement) prints exactly as nft 1.0.6 printed it, and the smaller
// cases below pin how nft writes values back (canonical numbers and names,
// merged anonymous intervals, priorities by name, hidden dependencies).

import Rules
import Testing

/// A table with one chain holding `rule`.
func oneRule(_ rule: String, family: String = "inet") -> String {
    "table \(family) t {\n\tchain c {\n\t\t\(rule)\n\t}\n}\n"
}

/// The rule's line in the listing of `oneRule`.
func ruleLine(_ listing: String) -> String {
    let lines = listing.split(separator: "\n", omittingEmptySubsequences: false)
    return lines.count > 2 ? String(lines[2].dropFirst(2)) : ""
}

/// A rule as written and as nft 1.0.6 lists it back (each checked against nft in NFTAgreementTests).
let canonicalCases: [(written: String, printed: String)] = [
    ("tcp dport ssh accept", "tcp dport 22 accept"),
    ("tcp dport 0x16 accept", "tcp dport 22 accept"),
    ("tcp dport 022 accept", "tcp dport 18 accept"),  // a leading zero is octal, as in nft
    ("tcp dport == 22 accept", "tcp dport 22 accept"),
    ("tcp dport { 80, 81, 90-100, 101 } accept", "tcp dport { 80-81, 90-101 } accept"),
    ("tcp dport { 22, 22 } accept", "tcp dport { 22 } accept"),
    ("tcp dport { 0-65535 } accept", "tcp dport 0-65535 accept"),
    ("ip saddr != { 10.0.0.0/8 } drop", "ip saddr != 10.0.0.0/8 drop"),
    ("ip saddr { 10.0.0.0/25, 10.0.0.128/25 } accept", "ip saddr { 10.0.0.0/24 } accept"),
    ("ip saddr 10.0.0.1/24 accept", "ip saddr 10.0.0.0/24 accept"),
    ("ip saddr 10.0.0.0/32 accept", "ip saddr 10.0.0.0 accept"),
    ("ip6 saddr 2001:DB8::1 accept", "ip6 saddr 2001:db8::1 accept"),
    ("meta nfproto ipv4 ip saddr 1.2.3.4 accept", "ip saddr 1.2.3.4 accept"),
    ("meta l4proto udp udp dport 53 accept", "udp dport 53 accept"),
    ("ip protocol 47 accept", "ip protocol gre accept"),
    ("meta mark 16 accept", "meta mark 0x00000010 accept"),
    ("mark 5 accept", "meta mark 0x00000005 accept"),
    ("ct state new,established accept", "ct state established,new accept"),
    ("ct state != new,established accept", "ct state != established | new accept"),
    ("ct state { new } accept", "ct state new accept"),
    ("ct state == new accept", "ct state == new accept"),
    ("tcp flags & (syn|ack) == syn accept", "tcp flags syn / syn,ack accept"),
    ("tcp flags & syn == syn accept", "tcp flags & syn == syn accept"),
    ("tcp flags & (syn|ack) == 0 accept", "tcp flags ! syn,ack accept"),
    ("tcp flags syn|ack accept", "tcp flags syn,ack accept"),
    ("icmp type 8 icmp code 0 accept", "icmp type echo-request icmp code net-unreachable accept"),
    ("icmp type { echo-request, echo-reply, 3, 200 } accept", "icmp type { echo-reply, destination-unreachable, echo-request, 200 } accept"),
    ("iifname lan0 accept", "iifname \"lan0\" accept"),
    ("iifname { \"lan0\", \"wan*\" } accept", "iifname { \"lan0\", \"wan*\" } accept"),
    ("iifname { \"b\", \"a\" } accept", "iifname { \"a\", \"b\" } accept"),
    ("log prefix \"x: \" level warn", "log prefix \"x: \""),
    ("log level info counter", "log level info counter packets 0 bytes 0"),
    ("counter packets 5 bytes 10 drop", "counter packets 5 bytes 10 drop"),
    ("reject with tcp reset", "meta l4proto tcp reject with tcp reset"),
    ("tcp dport 22 reject with tcp reset", "tcp dport 22 reject with tcp reset"),
    ("reject with icmpx type port-unreachable", "reject"),
    ("reject with icmp type port-unreachable", "reject with icmp port-unreachable"),
    ("reject with icmpv6 type admin-prohibited", "reject with icmpv6 admin-prohibited"),
    ("tcp dport 22 comment \"ssh\"", "tcp dport 22 comment \"ssh\""),
    // Found by comparing random rules with nft 1.0.6:
    ("oifname \"lan0\" reject with tcp reset", "meta l4proto tcp oifname \"lan0\" reject with tcp reset"),
    ("th dport ssh reject with tcp reset", "tcp dport 22 reject with tcp reset"),
    ("tcp dport 22 meta nfproto ipv4 th dport != 22 drop", "tcp dport 22 meta nfproto ipv4 tcp dport != 22 drop"),
    ("tcp dport 22 tcp sport 1024 accept", "tcp sport 1024 tcp dport 22 accept"),
    ("tcp dport 0 tcp flags syn / syn,ack tcp sport 80 accept", "tcp flags syn / syn,ack tcp sport 80 tcp dport 0 accept"),
    ("ip daddr 1.1.1.1 ip saddr 2.2.2.2 accept", "ip daddr 1.1.1.1 ip saddr 2.2.2.2 accept"),
    ("icmp code 1 icmp type 3 accept", "icmp type destination-unreachable icmp code host-unreachable accept"),
    ("ip saddr 10.0.1.0/24 reject", "ip saddr 10.0.1.0/24 reject with icmp port-unreachable"),
    ("meta nfproto ipv6 reject", "reject with icmpv6 port-unreachable"),
    ("tcp flags fin,syn,rst,psh,ack,urg,ecn,cwr drop", "tcp flags != 0x0 drop"),
    // Layer 2 (TAP interfaces): nft's ether_addr, ether_type and iface_type.
    ("ether saddr 02:00:00:00:00:01 accept", "ether saddr 02:00:00:00:00:01 accept"),
    ("ether saddr 2:0:0:0:0:a accept", "ether saddr 02:00:00:00:00:0a accept"),
    ("ether daddr != 02:00:00:00:00:02 drop", "ether daddr != 02:00:00:00:00:02 drop"),
    ("ether saddr { 02:00:00:00:00:03, 02:00:00:00:00:07 } drop", "ether saddr { 02:00:00:00:00:03, 02:00:00:00:00:07 } drop"),
    ("ether saddr 02:00:00:00:00:01-02:00:00:00:00:09 accept", "ether saddr 02:00:00:00:00:01-02:00:00:00:00:09 accept"),
    ("ether type ip6 accept", "ether type ip6 accept"),
    ("ether type 0x88cc accept", "ether type 0x88cc accept"),
    ("ether type vlan drop", "ether type 8021q drop"),
    ("iiftype ether accept", "meta iiftype ether accept"),
    ("meta iiftype 65534 accept", "meta iiftype 65534 accept"),
    ("meta iiftype != ether drop", "meta iiftype != ether drop"),
]

@Suite struct ListingTests {
    @Test func gatewayListsAsNFTDoes() throws {
        let rules = try parse(gateway, file: "gateway.nft")
        #expect(rules.listing() == gatewayListing)
        #expect(rules.usesNAT)
        #expect(rules.usesHelpers)
    }

    @Test func listingReadsBackToTheSameListing() throws {
        let first = try parse(gateway).listing()
        let second = try parse(first).listing()
        #expect(second == first)
    }

    func listed(_ rule: String, family: String = "inet") throws -> String {
        ruleLine(try parse(oneRule(rule, family: family)).listing())
    }

    @Test(arguments: canonicalCases)
    func canonicalForms(written: String, printed: String) throws {
        #expect(try listed(written) == printed)
    }

    @Test func familySpecificDefaults() throws {
        #expect(try listed("reject with icmp type port-unreachable", family: "ip") == "reject")
        #expect(try listed("reject with tcp reset", family: "ip") == "reject with tcp reset")
        #expect(try listed("reject with icmpv6 type port-unreachable", family: "ip6") == "reject")
        #expect(try listed("reject with icmpv6 type no-route", family: "ip6") == "reject with icmpv6 no-route")
        #expect(try listed("meta l4proto tcp iifname != \"lo\" reject with tcp reset", family: "ip") == "iifname != \"lo\" reject with tcp reset")
        #expect(try listed("ip protocol tcp tcp dport 22 accept", family: "ip") == "tcp dport 22 accept")
        #expect(try listed("ip protocol tcp tcp dport 22 accept") == "ip protocol tcp tcp dport 22 accept")
    }

    @Test func prioritiesPrintByNameNearStandardOnes() throws {
        let text = """
            table ip t {
            \tchain a { type filter hook input priority -301; }
            \tchain b { type filter hook input priority 40; }
            \tchain c { type filter hook input priority 100; }
            \tchain d { type filter hook postrouting priority 100; }
            \tchain e { type filter hook prerouting priority mangle + 3; }
            \tchain f { type filter hook input priority 11; }
            }
            """
        let lines = try parse(text).listing().split(separator: "\n").filter { $0.contains("hook") }
        #expect(lines.map { $0.split(separator: "priority ")[1] } == [
            "raw - 1; policy accept;", "security - 10; policy accept;", "100; policy accept;",
            "srcnat; policy accept;", "mangle + 3; policy accept;", "11; policy accept;",
        ])
    }

    @Test func namedSetElementsWrapAsNFTDoes() throws {
        let text = """
            table inet t {
            \tset ports { type inet_service; elements = { 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 } }
            \tset hosts { type ipv4_addr; elements = { 5.5.5.5, 1.1.1.1, 3.3.3.3, 2.2.2.2, 4.4.4.4 } }
            \tset ifs { type ifname; elements = { "eth0", "lan0", "dmz0", "wan1", "b" } }
            }
            """
        #expect(try parse(text).listing() == """
            table inet t {
            \tset ports {
            \t\ttype inet_service
            \t\telements = { 1, 2, 3, 4, 5,
            \t\t\t     6, 7, 8, 9, 10,
            \t\t\t     11, 12 }
            \t}

            \tset hosts {
            \t\ttype ipv4_addr
            \t\telements = { 1.1.1.1, 2.2.2.2,
            \t\t\t     3.3.3.3, 4.4.4.4,
            \t\t\t     5.5.5.5 }
            \t}

            \tset ifs {
            \t\ttype ifname
            \t\telements = { "b",
            \t\t\t     "eth0",
            \t\t\t     "lan0",
            \t\t\t     "dmz0",
            \t\t\t     "wan1" }
            \t}
            }

            """)
    }

    @Test func declarationsMerge() throws {
        let text = """
            table inet t {
            \tchain c { type filter hook input priority 0; policy drop; }
            \tchain c { tcp dport 22 accept; }
            }
            table inet t {
            \tchain c { udp dport 53 accept; }
            }
            """
        #expect(try parse(text).listing() == """
            table inet t {
            \tchain c {
            \t\ttype filter hook input priority filter; policy drop;
            \t\ttcp dport 22 accept
            \t\tudp dport 53 accept
            \t}
            }

            """)
    }

    @Test func emptyRulesetListsNothing() {
        #expect(Ruleset.empty.listing() == "")
        #expect(!Ruleset.empty.usesNAT && !Ruleset.empty.usesHelpers)
    }

    @Test func natOnlyInNatChains() throws {
        let filter = try parse("table ip t {\n\tchain c { type filter hook input priority 0; accept; }\n}\n")
        #expect(!filter.usesNAT)
        let natChain = try parse("table ip t {\n\tchain c { type nat hook postrouting priority 100; }\n}\n")
        #expect(natChain.usesNAT, "a type nat chain is NAT even without statements")
    }
}

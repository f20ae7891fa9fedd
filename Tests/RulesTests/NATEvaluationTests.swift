// The nat chain walk (`evaluateNAT`): the first NAT statement reached is the
// connection's translation, with its addresses, ports and flags as the
// engine needs them; matches, counters, log, jump/goto/return, accept, drop
// and policies as netfilter's nat core runs them (nf_nat_inet_fn: each nat
// base chain of the hook in priority order until one sets up a binding); and
// filter evaluation, which never sees a nat chain.

import Conntrack
import Rules
import Testing
import Wire

let natPostrouting = """
    table ip nat {
    \tchain postrouting {
    \t\ttype nat hook postrouting priority srcnat; policy accept;
    \t\tip saddr 10.0.9.0/24 counter drop
    \t\tip daddr 198.51.100.1 snat ip to 203.0.113.1
    \t\tip daddr 198.51.100.2 meta l4proto tcp snat to 203.0.113.1-203.0.113.5:1024-2047
    \t\tip daddr 198.51.100.3 snat to 203.0.113.0/30
    \t\tip daddr 198.51.100.4 masquerade random
    \t\tip daddr 198.51.100.5 masquerade fully-random
    \t\tip daddr 198.51.100.6 masquerade persistent
    \t\tip daddr 198.51.100.7 masquerade random,persistent
    \t\tip daddr 198.51.100.8 meta l4proto udp masquerade to :4000-4999
    \t\toifname "wan0" counter masquerade
    \t}
    }

    """

let natPrerouting = """
    table ip nat {
    \tchain prerouting {
    \t\ttype nat hook prerouting priority dstnat; policy accept;
    \t\ttcp dport 22 accept
    \t\ttcp dport 23 drop
    \t\ttcp dport 24 reject
    \t\tiifname "wan0" tcp dport 8080 dnat ip to 10.0.2.10:80
    \t\tiifname "wan0" tcp dport 5000-5500 dnat to 10.0.2.10
    \t\tiifname "wan0" udp dport 6000 dnat to 10.0.2.20-10.0.2.29:7000-7009
    \t\tiifname "lan0" tcp dport 80 redirect to :8080
    \t\tiifname "lan0" udp dport 53 redirect
    \t}

    \tchain output {
    \t\ttype nat hook output priority -100; policy accept;
    \t\tip daddr 192.0.2.1 tcp dport 80 dnat to 10.0.2.10:8080
    \t}
    }

    """

let natInet = """
    table inet nat {
    \tchain prerouting {
    \t\ttype nat hook prerouting priority dstnat; policy accept;
    \t\ttcp dport 8443 dnat ip6 to [fd00:2::10]:80
    \t\ttcp dport 8443 dnat ip to 10.0.2.10:443
    \t\ttcp dport 8444 dnat ip to 10.0.2.11
    \t\ttcp dport 8080 redirect to :80
    \t}

    \tchain postrouting {
    \t\ttype nat hook postrouting priority srcnat; policy accept;
    \t\toifname "wan0" ip6 saddr fd00:1::/64 snat ip6 to 2001:db8:1::1
    \t\toifname "wan0" snat ip to 203.0.113.1
    \t\toifname "dmz0" masquerade
    \t}
    }

    """

let natPolicyDrop = """
    table ip nat {
    \tchain prerouting {
    \t\ttype nat hook prerouting priority dstnat; policy drop;
    \t\ttcp dport 8080 dnat to 10.0.2.10
    \t\ttcp dport 22 accept
    \t}
    }
    """

let natPriorities = """
    table ip late {
    \tchain prerouting {
    \t\ttype nat hook prerouting priority dstnat + 10; policy accept;
    \t\tcounter
    \t\ttcp dport 80 dnat to 10.0.2.2
    \t\ttcp dport 81 dnat to 10.0.2.2
    \t\ttcp dport 82 dnat to 10.0.2.2
    \t}
    }
    table inet early {
    \tchain prerouting {
    \t\ttype nat hook prerouting priority dstnat; policy accept;
    \t\ttcp dport 80 dnat ip to 10.0.2.1
    \t\ttcp dport 81 accept
    \t\ttcp dport 82 drop
    \t}
    }
    """

let natJumps = """
    table ip nat {
    \tchain prerouting {
    \t\ttype nat hook prerouting priority dstnat; policy accept;
    \t\tiifname "wan0" jump port_forwards
    \t\ttcp dport 443 goto web
    \t\ttcp dport 8000-8999 dnat to 10.0.2.99
    \t}

    \tchain port_forwards {
    \t\ttcp dport 8022 dnat to 10.0.2.22:22
    \t\ttcp dport 8000-8999 return
    \t\tudp dport 5060 counter dnat to 10.0.2.50
    \t}

    \tchain web {
    \t\tip saddr 198.51.100.0/24 dnat to 10.0.2.80
    \t}
    }
    """

let natIP6 = """
    table ip6 nat {
    \tchain postrouting {
    \t\ttype nat hook postrouting priority srcnat; policy accept;
    \t\toifname "wan0" snat to 2001:db8:1::1-2001:db8:1::4
    \t}
    \tchain input {
    \t\ttype nat hook input priority 100; policy accept;
    \t\ttcp dport 22 snat to [fd00::1]:2222
    \t}
    }
    """

let natLog = """
    table ip nat {
    \tchain postrouting {
    \t\ttype nat hook postrouting priority srcnat; policy accept;
    \t\tcounter log prefix "nat: " masquerade
    \t}
    }
    """

let natBesideFilter = """
    table ip nat {
    \tchain prerouting {
    \t\ttype nat hook prerouting priority dstnat; policy drop;
    \t\tcounter
    \t\ttcp dport 23 drop
    \t\ttcp dport 8080 dnat to 10.0.2.10:80
    \t}
    }
    table ip filter {
    \tchain prerouting {
    \t\ttype filter hook prerouting priority mangle; policy accept;
    \t\tcounter
    \t\ttcp dport 24 drop
    \t}
    \tchain postrouting {
    \t\ttype filter hook postrouting priority srcnat; policy accept;
    \t\tcounter
    \t}
    }
    table ip outbound {
    \tchain postrouting {
    \t\ttype nat hook postrouting priority srcnat - 1; policy drop;
    \t\tcounter masquerade
    \t}
    }
    """

@Suite struct NATEvaluationTests {
    let client = "10.0.1.2", server = "198.51.100.1"
    let client6 = "fd00:1::2", server6 = "2001:db8:2::10"

    func nat(_ rules: Ruleset, _ hook: Hook, _ packet: RulePacket) -> NATVerdict {
        var copy = packet
        var log: [String] = []
        return rules.evaluateNAT(hook, &copy, log: &log)
    }

    /// An IPv4 address as RulePacket and NATTarget hold it.
    func v4(_ text: String) -> IPv6Address { address(text) }

    // MARK: Source NAT

    @Test func masqueradeOnlyWhereItsMatchesHold() throws {
        let rules = try parse(natPostrouting)
        let out = packet(client, "192.0.2.80", iif: lan, oif: wan)
        #expect(nat(rules, .postrouting, out) == .translate(.masquerade(NATTarget())))
        #expect(rules.counterValues.map(\.packets) == [0, 1])
        // Another output interface: no rule matches, policy accept.
        #expect(nat(rules, .postrouting, packet(client, "192.0.2.80", iif: lan, oif: dmz)) == .none)
        #expect(nat(rules, .postrouting, packet(client, "192.0.2.80", iif: lan, oif: -1)) == .none)
        #expect(rules.counterValues.map(\.packets) == [0, 1])
        // The ip table's chain does not see IPv6.
        #expect(nat(rules, .postrouting, packet(client6, server6, iif: lan, oif: wan)) == .none)
    }

    @Test func masqueradeFlagsAndPorts() throws {
        let rules = try parse(natPostrouting)
        func masquerade(_ daddr: String, _ l4: IPProtocol = .tcp) -> NATVerdict {
            nat(rules, .postrouting, packet(client, daddr, l4, oif: dmz))
        }
        #expect(masquerade("198.51.100.4") == .translate(.masquerade(NATTarget(flags: .random))))
        #expect(masquerade("198.51.100.5") == .translate(.masquerade(NATTarget(flags: .fullyRandom))))
        #expect(masquerade("198.51.100.6") == .translate(.masquerade(NATTarget(flags: .persistent))))
        #expect(masquerade("198.51.100.7") == .translate(.masquerade(NATTarget(flags: [.random, .persistent]))))
        #expect(masquerade("198.51.100.8", .udp) == .translate(.masquerade(NATTarget(minimumPort: 4000, maximumPort: 4999))))
        #expect(masquerade("198.51.100.8", .tcp) == .none, "meta l4proto udp does not hold")
        #expect(NATFlags.random != NATFlags.fullyRandom && NATFlags.fullyRandom != NATFlags.persistent)
    }

    @Test func snatToAnAddressARangeAndAPrefix() throws {
        let rules = try parse(natPostrouting)
        #expect(nat(rules, .postrouting, packet(client, "198.51.100.1", oif: dmz))
            == .translate(.snat(NATTarget(minimumAddress: v4("203.0.113.1"), maximumAddress: v4("203.0.113.1")))))
        let range = NATTarget(minimumAddress: v4("203.0.113.1"), maximumAddress: v4("203.0.113.5"),
                              minimumPort: 1024, maximumPort: 2047)
        #expect(nat(rules, .postrouting, packet(client, "198.51.100.2", oif: dmz)) == .translate(.snat(range)))
        #expect(nat(rules, .postrouting, packet(client, "198.51.100.2", .udp, oif: dmz)) == .none)
        // A prefix is the range of addresses it covers.
        #expect(nat(rules, .postrouting, packet(client, "198.51.100.3", oif: dmz))
            == .translate(.snat(NATTarget(minimumAddress: v4("203.0.113.0"), maximumAddress: v4("203.0.113.3")))))
        // IPv4 addresses are IPv4-mapped.
        if case .translate(.snat(let target)) = nat(rules, .postrouting, packet(client, "198.51.100.1", oif: dmz)) {
            #expect(target.minimumAddress == IPv6Address(ipv4Mapped: IPv4Address("203.0.113.1")!))
        } else {
            Issue.record("no snat")
        }
    }

    // MARK: Destination NAT

    @Test func dnatAndRedirect() throws {
        let rules = try parse(natPrerouting)
        let to80 = NATTarget(minimumAddress: v4("10.0.2.10"), maximumAddress: v4("10.0.2.10"), minimumPort: 80, maximumPort: 80)
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 8080, iif: wan, oif: -1)) == .translate(.dnat(to80)))
        // Not from wan0: nothing.
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 8080, iif: dmz, oif: -1)) == .none)
        // A port range matched, no port given: the port stays (minimumPort nil).
        let noPort = NATTarget(minimumAddress: v4("10.0.2.10"), maximumAddress: v4("10.0.2.10"))
        for port: UInt16 in [5000, 5234, 5500] {
            #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: port, iif: wan, oif: -1)) == .translate(.dnat(noPort)))
        }
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 5501, iif: wan, oif: -1)) == .none)
        let ranges = NATTarget(minimumAddress: v4("10.0.2.20"), maximumAddress: v4("10.0.2.29"), minimumPort: 7000, maximumPort: 7009)
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", .udp, dport: 6000, iif: wan, oif: -1)) == .translate(.dnat(ranges)))
        // redirect: to the firewall's own address (the engine's), with or without a port.
        #expect(nat(rules, .prerouting, packet(client, "192.0.2.80", dport: 80, iif: lan, oif: -1))
            == .translate(.redirect(NATTarget(minimumPort: 8080, maximumPort: 8080))))
        #expect(nat(rules, .prerouting, packet(client, "192.0.2.53", .udp, dport: 53, iif: lan, oif: -1))
            == .translate(.redirect(NATTarget())))
        // dnat in the output hook, for locally generated packets.
        #expect(nat(rules, .output, packet("203.0.113.1", "192.0.2.1", dport: 80, iif: -1, oif: wan))
            == .translate(.dnat(NATTarget(minimumAddress: v4("10.0.2.10"), maximumAddress: v4("10.0.2.10"),
                                          minimumPort: 8080, maximumPort: 8080))))
        #expect(nat(rules, .output, packet("203.0.113.1", "192.0.2.1", dport: 81, iif: -1, oif: wan)) == .none)
        // No nat chain at postrouting, none may exist at forward.
        #expect(nat(rules, .postrouting, packet(client, server, dport: 8080, iif: wan, oif: lan)) == .none)
        #expect(nat(rules, .forward, packet(client, server, dport: 8080, iif: wan, oif: lan)) == .none)
    }

    @Test func acceptDropAndRejectInANatChain() throws {
        let rules = try parse(natPrerouting)
        // accept before any NAT statement: no translation (the later dnat rules are not reached).
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 22, iif: wan, oif: -1)) == .none)
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 23, iif: wan, oif: -1)) == .drop)
        // reject cannot answer from here: the packet is dropped.
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 24, iif: wan, oif: -1)) == .drop)
        // A drop counted before it.
        let post = try parse(natPostrouting)
        #expect(nat(post, .postrouting, packet("10.0.9.7", "192.0.2.80", oif: wan)) == .drop)
        #expect(post.counterValues.map(\.packets) == [1, 0])
    }

    @Test func policyDropInANatChain() throws {
        let rules = try parse(natPolicyDrop)
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 8080, iif: wan, oif: -1))
            == .translate(.dnat(NATTarget(minimumAddress: v4("10.0.2.10"), maximumAddress: v4("10.0.2.10")))))
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 22, iif: wan, oif: -1)) == .none)
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 80, iif: wan, oif: -1)) == .drop)
    }

    // MARK: Several chains, jumps

    @Test func natChainsRunInPriorityOrderUntilOneTranslates() throws {
        let rules = try parse(natPriorities)
        func target(_ last: UInt8) -> NATVerdict {
            let a = v4("10.0.2.\(last)")
            return .translate(.dnat(NATTarget(minimumAddress: a, maximumAddress: a)))
        }
        // The lower priority (early, an inet table) decides first; its binding ends the walk.
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 80, iif: wan, oif: -1)) == target(1))
        #expect(rules.counterValues.map(\.packets) == [0])
        // early accepts without a binding: as in netfilter's nat core, the next nat chain still runs.
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 81, iif: wan, oif: -1)) == target(2))
        #expect(rules.counterValues.map(\.packets) == [1])
        // A drop ends all nat chains.
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 82, iif: wan, oif: -1)) == .drop)
        #expect(rules.counterValues.map(\.packets) == [1])
        // Both chains end on policy accept.
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 83, iif: wan, oif: -1)) == .none)
        #expect(rules.counterValues.map(\.packets) == [2])
    }

    @Test func jumpGotoAndReturnReachNatStatements() throws {
        let rules = try parse(natJumps)
        func dnat(_ a: String, _ port: UInt16? = nil) -> NATVerdict {
            .translate(.dnat(NATTarget(minimumAddress: v4(a), maximumAddress: v4(a), minimumPort: port, maximumPort: port)))
        }
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 8022, iif: wan, oif: -1)) == dnat("10.0.2.22", 22))
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", .udp, dport: 5060, iif: wan, oif: -1)) == dnat("10.0.2.50"))
        #expect(rules.counterValues.map(\.packets) == [1])
        // return: back to the base chain, whose next rules decide.
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 8080, iif: wan, oif: -1)) == dnat("10.0.2.99"))
        // The jumped-to chain ends without a verdict: on with the base chain.
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 443, iif: wan, oif: -1)) == dnat("10.0.2.80"))
        // goto: web's end ends the base chain (policy accept), without coming back.
        #expect(nat(rules, .prerouting, packet("192.0.2.9", "203.0.113.1", dport: 443, iif: wan, oif: -1)) == .none)
    }

    // MARK: IPv6 and inet tables

    @Test func inetTableFamilies() throws {
        let rules = try parse(natInet)
        // dnat ip6 applies to IPv6 only; for IPv4 the rule goes on (nothing after it) to the next rule.
        #expect(nat(rules, .prerouting, packet("2001:db8:9::1", "2001:db8:1::1", dport: 8443, iif: wan, oif: -1))
            == .translate(.dnat(NATTarget(minimumAddress: address("fd00:2::10"), maximumAddress: address("fd00:2::10"),
                                          minimumPort: 80, maximumPort: 80))))
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 8443, iif: wan, oif: -1))
            == .translate(.dnat(NATTarget(minimumAddress: v4("10.0.2.10"), maximumAddress: v4("10.0.2.10"),
                                          minimumPort: 443, maximumPort: 443))))
        // dnat ip: IPv6 passes over it.
        #expect(nat(rules, .prerouting, packet("2001:db8:9::1", "2001:db8:1::1", dport: 8444, iif: wan, oif: -1)) == .none)
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 8444, iif: wan, oif: -1))
            == .translate(.dnat(NATTarget(minimumAddress: v4("10.0.2.11"), maximumAddress: v4("10.0.2.11")))))
        // redirect (no address): both families.
        let redirect = NATVerdict.translate(.redirect(NATTarget(minimumPort: 80, maximumPort: 80)))
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 8080, iif: wan, oif: -1)) == redirect)
        #expect(nat(rules, .prerouting, packet("2001:db8:9::1", "2001:db8:1::1", dport: 8080, iif: wan, oif: -1)) == redirect)

        let snat6 = NATTarget(minimumAddress: address("2001:db8:1::1"), maximumAddress: address("2001:db8:1::1"))
        #expect(nat(rules, .postrouting, packet(client6, server6, oif: wan)) == .translate(.snat(snat6)))
        // Not from fd00:1::/64: the snat ip rule matches but passes over IPv6.
        #expect(nat(rules, .postrouting, packet("fd00:3::2", server6, oif: wan)) == .none)
        #expect(nat(rules, .postrouting, packet(client, server, oif: wan))
            == .translate(.snat(NATTarget(minimumAddress: v4("203.0.113.1"), maximumAddress: v4("203.0.113.1")))))
        // masquerade: both families.
        #expect(nat(rules, .postrouting, packet(client, server, oif: dmz)) == .translate(.masquerade(NATTarget())))
        #expect(nat(rules, .postrouting, packet(client6, server6, oif: dmz)) == .translate(.masquerade(NATTarget())))
    }

    @Test func ip6Table() throws {
        let rules = try parse(natIP6)
        #expect(nat(rules, .postrouting, packet(client6, server6, oif: wan))
            == .translate(.snat(NATTarget(minimumAddress: address("2001:db8:1::1"), maximumAddress: address("2001:db8:1::4")))))
        #expect(nat(rules, .postrouting, packet(client, server, oif: wan)) == .none)
        #expect(nat(rules, .input, packet(server6, "fd00::5", dport: 22, iif: wan, oif: -1))
            == .translate(.snat(NATTarget(minimumAddress: address("fd00::1"), maximumAddress: address("fd00::1"),
                                          minimumPort: 2222, maximumPort: 2222))))
    }

    // MARK: Counters, log, hasNATChains, filter evaluation

    @Test func logAndCounterInANatChain() throws {
        let rules = try parse(natLog)
        var p = packet(client, server, oif: wan)
        var log: [String] = []
        #expect(rules.evaluateNAT(.postrouting, &p, log: &log) == .translate(.masquerade(NATTarget())))
        #expect(log.count == 1)
        #expect(log.first?.hasPrefix("nat: ") == true)
        #expect(log.first?.contains("OUT=wan0") == true)
        #expect(rules.counterValues.map(\.packets) == [1])
    }

    @Test func hasNATChains() throws {
        let pre = try parse(natPrerouting)
        #expect(pre.hasNATChains(.prerouting) && pre.hasNATChains(.output))
        #expect(!pre.hasNATChains(.postrouting) && !pre.hasNATChains(.input) && !pre.hasNATChains(.forward))
        let inet = try parse(natInet)
        #expect(inet.hasNATChains(.prerouting) && inet.hasNATChains(.postrouting) && !inet.hasNATChains(.output))
        // A nat chain without rules still counts; filter chains do not.
        let empty = try parse("table ip6 t {\n\tchain c { type nat hook input priority 100; }\n\tchain f { type filter hook output priority 0; }\n}\n")
        #expect(empty.hasNATChains(.input) && !empty.hasNATChains(.output))
        #expect(nat(empty, .input, packet(server6, client6, iif: wan, oif: -1)) == .none)
        let filterOnly = try parse(evaluationPriorities)
        for hook in Hook.allCases {
            #expect(!Ruleset.empty.hasNATChains(hook))
            #expect(nat(Ruleset.empty, hook, packet(client, server)) == .none)
            #expect(!filterOnly.hasNATChains(hook))
        }
    }

    @Test func filterEvaluationIgnoresNatChains() throws {
        let rules = try parse(natBesideFilter)
        for port: UInt16 in [23, 80, 8080] {
            #expect(rules.verdict(.prerouting, packet(server, "203.0.113.1", dport: port, iif: wan, oif: -1)) == .accept)
        }
        #expect(rules.verdict(.prerouting, packet(server, "203.0.113.1", dport: 24, iif: wan, oif: -1)) == .drop)
        #expect(rules.verdict(.postrouting, packet(client, server, oif: wan)) == .accept)
        // Only the filter chains counted.
        #expect(rules.counterValues.map(\.packets) == [0, 4, 1, 0])
        // And the nat chains do their own work.
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 23, iif: wan, oif: -1)) == .drop)
        #expect(nat(rules, .prerouting, packet(server, "203.0.113.1", dport: 80, iif: wan, oif: -1)) == .drop)
        #expect(nat(rules, .postrouting, packet(client, server, oif: wan)) == .translate(.masquerade(NATTarget())))
        #expect(rules.counterValues.map(\.packets) == [2, 4, 1, 1])
    }
}

// The chain walk: base chains of a hook in priority order across tables,
// accept ending only its base chain, drop and reject ending everything,
// policies, jump/goto/return/continue, counters, and the reject each family
// and protocol gets. The rulesets are also loaded into the real nft by
// NFTAgreementTests.

import Conntrack
import Rules
import Testing
import Wire

let evaluationPriorities = """
    table ip late {
    \tchain forward {
    \t\ttype filter hook forward priority filter + 10; policy accept;
    \t\tcounter
    \t\ttcp dport 22 drop
    \t}
    }
    table inet early {
    \tchain forward {
    \t\ttype filter hook forward priority mangle; policy accept;
    \t\tcounter accept
    \t}

    \tchain guard {
    \t\ttype filter hook forward priority raw; policy accept;
    \t\ttcp dport 23 counter drop
    \t}

    \tchain input {
    \t\ttype filter hook input priority filter; policy drop;
    \t\tct state established accept
    \t}
    }

    """

let evaluationJumps = """
    define CLASSIFY = classify
    table inet filter {
    \tchain forward {
    \t\ttype filter hook forward priority filter; policy drop;
    \t\tjump $CLASSIFY
    \t\ttcp dport 22 accept
    \t\tudp dport 53 goto dns
    \t\tcounter
    \t}

    \tchain classify {
    \t\ttcp dport 22 return
    \t\ttcp dport 23 drop
    \t\ttcp dport 80 accept
    \t\ttcp dport 443 continue
    \t\tcounter
    \t}

    \tchain dns {
    \t\tip saddr 10.0.1.0/24 accept
    \t}
    }

    """

let evaluationRejects = """
    table ip t4 {
    \tchain input {
    \t\ttype filter hook input priority filter; policy accept;
    \t\ttcp dport 1 reject
    \t\ttcp dport 2 reject with tcp reset
    \t\tudp dport 4 reject with icmp type admin-prohibited
    \t\tudp dport 5 reject with icmp type host-unreachable
    \t}
    }
    table ip6 t6 {
    \tchain input {
    \t\ttype filter hook input priority filter; policy accept;
    \t\ttcp dport 1 reject
    \t\tudp dport 4 reject with icmpv6 type admin-prohibited
    \t\tudp dport 5 reject with icmpv6 type addr-unreachable
    \t}
    }
    table inet tx {
    \tchain input {
    \t\ttype filter hook input priority filter + 1; policy accept;
    \t\tudp dport 10 reject
    \t\tudp dport 11 reject with icmpx type admin-prohibited
    \t\tudp dport 12 reject with icmpx type host-unreachable
    \t\tudp dport 13 reject with icmpx type no-route
    \t\tudp dport 14 reject with icmp type port-unreachable
    \t\tudp dport 15 reject with icmpv6 type port-unreachable
    \t\treject with tcp reset
    \t}
    }

    """

@Suite struct EvaluationTests {
    let client = "10.0.1.2", server = "203.0.113.10"
    let client6 = "fd00:1::2", server6 = "2001:db8:1::10"

    @Test func baseChainsRunInPriorityOrderAcrossTables() throws {
        let rules = try parse(evaluationPriorities)
        // raw (guard) → mangle (early, accepts) → filter + 10 (late, drops 22).
        #expect(rules.verdict(.forward, packet(client, server, dport: 22)) == .drop)
        #expect(rules.counterValues.map(\.packets) == [1, 1, 0])
        // Drop in the first chain ends everything: nothing later counts.
        #expect(rules.verdict(.forward, packet(client, server, dport: 23)) == .drop)
        #expect(rules.counterValues.map(\.packets) == [1, 1, 1])
        // Accepted by every chain.
        #expect(rules.verdict(.forward, packet(client, server, dport: 80)) == .accept)
        #expect(rules.counterValues.map(\.packets) == [2, 2, 1])
        // IPv6: the ip table's chain does not see it.
        #expect(rules.verdict(.forward, packet(client6, server6, dport: 22)) == .accept)
        #expect(rules.counterValues.map(\.packets) == [2, 3, 1])
    }

    @Test func policiesApplyWhenAChainEndsWithoutVerdict() throws {
        let rules = try parse(evaluationPriorities)
        #expect(rules.verdict(.input, packet(server, client, state: .new, iif: wan, oif: -1)) == .drop)
        #expect(rules.verdict(.input, packet(server, client, state: .established, iif: wan, oif: -1)) == .accept)
        #expect(rules.verdict(.output, packet(client, server, iif: -1, oif: wan)) == .accept, "no chain: accept")
        #expect(Ruleset.empty.verdict(.forward, packet(client, server)) == .accept)
    }

    @Test func jumpGotoReturnContinue() throws {
        let rules = try parse(evaluationJumps)
        // return: back to the rule after the jump.
        #expect(rules.verdict(.forward, packet(client, server, dport: 22)) == .accept)
        // drop and accept in the jumped-to chain decide for the base chain.
        #expect(rules.verdict(.forward, packet(client, server, dport: 23)) == .drop)
        #expect(rules.verdict(.forward, packet(client, server, dport: 80)) == .accept)
        #expect(rules.counterValues.map(\.packets) == [0, 0])
        // continue: the next rule of classify (its counter), then back, then the base counter and policy.
        #expect(rules.verdict(.forward, packet(client, server, dport: 443)) == .drop)
        #expect(rules.counterValues.map(\.packets) == [1, 1])
        // goto: dns decides, or its end ends the base chain (policy) without coming back.
        #expect(rules.verdict(.forward, packet(client, server, .udp, dport: 53)) == .accept)
        #expect(rules.verdict(.forward, packet("10.0.9.9", server, .udp, dport: 53)) == .drop)
        #expect(rules.counterValues.map(\.packets) == [1, 3], "goto did not come back to the base counter")
    }

    @Test func countersCountPacketsAndBytesAndShowInTheListing() throws {
        let rules = try parse(evaluationPriorities)
        _ = rules.verdict(.forward, packet(client, server, dport: 80, length: 1500))
        _ = rules.verdict(.forward, packet(client, server, dport: 80, length: 52))
        #expect(rules.counterValues[1].packets == 2 && rules.counterValues[1].bytes == 1552)
        #expect(rules.listing().contains("\t\tcounter packets 2 bytes 1552 accept\n"))
        rules.resetCounters()
        #expect(rules.counterValues.allSatisfy { $0 == (0, 0) })
    }

    @Test func rejectKindsPerFamilyAndProtocol() throws {
        let rules = try parse(evaluationRejects)
        func reject(_ p: RulePacket) -> RuleVerdict { rules.verdict(.input, p) }
        let v4 = (server, client), v6 = (server6, client6)
        // nft 1.0.6: plain `reject` is ICMP port unreachable even after `tcp dport`.
        #expect(reject(packet(v4.0, v4.1, dport: 1)) == .reject(.icmpPortUnreachable))
        #expect(reject(packet(v6.0, v6.1, dport: 1)) == .reject(.icmpv6PortUnreachable))
        #expect(reject(packet(v4.0, v4.1, dport: 2)) == .reject(.tcpReset))
        #expect(reject(packet(v4.0, v4.1, .udp, dport: 4)) == .reject(.icmp(type: 3, code: 13)))
        #expect(reject(packet(v4.0, v4.1, .udp, dport: 5)) == .reject(.icmp(type: 3, code: 1)))
        #expect(reject(packet(v6.0, v6.1, .udp, dport: 4)) == .reject(.icmpv6AdministrativelyProhibited))
        #expect(reject(packet(v6.0, v6.1, .udp, dport: 5)) == .reject(.icmp(type: 1, code: 3)))
        // inet: icmpx per family (nft_reject_icmp_code / nft_reject_icmpv6_code).
        #expect(reject(packet(v4.0, v4.1, .udp, dport: 10)) == .reject(.icmpPortUnreachable))
        #expect(reject(packet(v6.0, v6.1, .udp, dport: 10)) == .reject(.icmpv6PortUnreachable))
        #expect(reject(packet(v4.0, v4.1, .udp, dport: 11)) == .reject(.icmp(type: 3, code: 13)))
        #expect(reject(packet(v6.0, v6.1, .udp, dport: 11)) == .reject(.icmpv6AdministrativelyProhibited))
        #expect(reject(packet(v4.0, v4.1, .udp, dport: 12)) == .reject(.icmp(type: 3, code: 1)))
        #expect(reject(packet(v6.0, v6.1, .udp, dport: 12)) == .reject(.icmp(type: 1, code: 3)))
        #expect(reject(packet(v4.0, v4.1, .udp, dport: 13)) == .reject(.icmp(type: 3, code: 0)))
        #expect(reject(packet(v6.0, v6.1, .udp, dport: 13)) == .reject(.icmp(type: 1, code: 0)))
        // `with icmp` only for IPv4, `with icmpv6` only for IPv6, `with tcp reset` only for TCP.
        #expect(reject(packet(v4.0, v4.1, .udp, dport: 14)) == .reject(.icmpPortUnreachable))
        #expect(reject(packet(v6.0, v6.1, .udp, dport: 14)) == .accept)
        #expect(reject(packet(v6.0, v6.1, .udp, dport: 15)) == .reject(.icmpv6PortUnreachable))
        #expect(reject(packet(v4.0, v4.1, .udp, dport: 15)) == .accept)
        #expect(reject(packet(v4.0, v4.1, dport: 99)) == .reject(.tcpReset))
        #expect(reject(packet(v6.0, v6.1, dport: 99)) == .reject(.tcpReset))
        #expect(reject(packet(v4.0, v4.1, .udp, dport: 99)) == .accept)
    }

    @Test func helperStatementsDoNotEndTheChainAndNatChainsAreNotFilterChains() throws {
        let rules = try parse("""
            table ip nat {
            \tct helper ftp { type "ftp" protocol tcp; }
            \tchain post {
            \t\ttype nat hook postrouting priority srcnat; policy drop;
            \t\tcounter
            \t\toifname "wan0" masquerade
            \t}
            \tchain check {
            \t\ttype filter hook postrouting priority srcnat + 1; policy drop;
            \t\ttcp dport 21 ct helper set "ftp"
            \t\tcounter
            \t}
            }
            """)
        #expect(rules.usesNAT && rules.usesHelpers)
        // The nat chain (policy drop) is evaluateNAT's (NATEvaluationTests), not evaluate's.
        #expect(rules.verdict(.postrouting, packet(client, server, dport: 21)) == .drop)
        #expect(rules.counterValues.map(\.packets) == [0, 1])
    }

    @Test func ctHelperSetMarksOnlyNewConnectionsOfItsProtocolAndFamily() throws {
        let rules = try parse("""
            table inet filter {
            \tct helper ftp-standard { type "ftp" protocol tcp; }
            \tct helper ftp4 { type "ftp" protocol tcp; l3proto ip; }
            \tchain pre {
            \t\ttype filter hook prerouting priority filter;
            \t\tth dport 21 ct helper set "ftp-standard"
            \t\ttcp dport 2121 ct helper set "ftp4"
            \t}
            }
            """)
        func helper(_ p: RulePacket) -> HelperKind {
            var copy = p
            var log: [String] = []
            _ = rules.evaluate(.prerouting, &copy, log: &log)
            return copy.helper
        }
        #expect(helper(packet(client, server, dport: 21)) == .ftp)
        #expect(helper(packet(client, server, .udp, dport: 21)) == .none, "a tcp helper is not for UDP")
        var established = packet(client, server, dport: 21)
        established.ctState = .established
        #expect(helper(established) == .none, "only a connection not yet confirmed gets a helper")
        #expect(helper(packet(client, server, dport: 2121)) == .ftp)
        #expect(helper(packet(client6, server6, dport: 2121)) == .none, "l3proto ip: IPv4 only")
        #expect(helper(packet(client6, server6, dport: 21)) == .ftp)
        #expect(helper(packet(client, server, dport: 80)) == .none)
    }
}

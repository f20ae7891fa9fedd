// What people copy from the nftables wiki (issue 15): verdict maps, named
// sets and maps, `limit rate`, `ct count` and `include`. The rulesets are in
// nft's canonical form, so that their listing is the text itself; each is
// also loaded by the real nft in NFTAgreementTests (listing compared byte
// for byte).

import Conntrack
import Foundation
import Rules
import Dispatch
import Synchronization
import Testing
import Wire

/// Verdict maps, anonymous and named, on every kind of key.
let wikiVerdictMaps = """
    table inet filter {
    \tset allowed {
    \t\ttype ipv4_addr
    \t\telements = { 10.0.1.5, 10.0.1.6 }
    \t}

    \tmap ports {
    \t\ttype inet_service : verdict
    \t\telements = { 22 : accept, 80 : jump web, 443 : drop, 8080 : goto web, 9000 : continue,
    \t\t\t     9001 : return }
    \t}

    \tmap ifs {
    \t\ttype ifname : verdict
    \t\telements = { "lan0" : jump web,
    \t\t\t     "wan0" : drop }
    \t}

    \tmap addrs {
    \t\ttype ipv4_addr : verdict
    \t\tflags interval
    \t\telements = { 10.0.0.0/8 : accept, 172.16.0.1-172.16.0.5 : drop,
    \t\t\t     192.168.1.1 : drop }
    \t}

    \tchain web {
    \t\ttcp dport 80 accept
    \t}

    \tchain forward {
    \t\ttype filter hook forward priority filter; policy drop;
    \t\tct state vmap { invalid : drop, established : accept, related : accept }
    \t\tip saddr @allowed accept
    \t\tmeta l4proto vmap { tcp : jump web, udp : drop }
    \t\tiifname vmap { "lan0" : jump web, "wan*" : drop }
    \t\ttcp dport vmap { 22 : accept }
    \t\ttcp dport vmap @ports
    \t\tiifname vmap @ifs
    \t\tip saddr vmap @addrs
    \t}
    }

    """

/// `limit rate` and `ct count` in the forms nft lists.
let wikiLimits = """
    table inet filter {
    \tchain input {
    \t\ttype filter hook input priority filter; policy accept;
    \t\ttcp dport 22 ct state new limit rate 10/second accept
    \t\ttcp dport 22 ct state new limit rate over 100/minute burst 10 packets drop
    \t\tlimit rate 3/hour burst 1 packets log prefix "rare: "
    \t\tlimit rate over 5/week
    \t\tlimit rate 10/day burst 2 packets counter packets 0 bytes 0
    \t\ttcp dport 22 ct count over 3 counter packets 0 bytes 0 reject
    \t\tct state new ct count 5 accept
    \t}
    }

    """

@Suite struct WikiFeatureTests {
    @Test func verdictMapsListAsNFTDoes() throws {
        let rules = try parse(wikiVerdictMaps)
        #expect(rules.listing() == wikiVerdictMaps)
    }

    @Test func limitsListAsNFTDoes() throws {
        let rules = try parse(wikiLimits)
        #expect(rules.listing() == wikiLimits)
    }

    @Test func anonymousVerdictMapJumpsAcceptsAndDrops() throws {
        let rules = try parse("""
            table inet filter {
            \tchain web {
            \t\tip daddr 10.0.2.10 accept
            \t}
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy drop;
            \t\ttcp dport vmap { 22 : accept, 80 : jump web, 23 : drop, 25 : continue }
            \t\tudp dport 53 accept
            \t}
            }
            """)
        #expect(rules.verdict(.forward, packet("10.0.1.2", "203.0.113.10", dport: 22)) == .accept)
        #expect(rules.verdict(.forward, packet("10.0.1.2", "10.0.2.10", dport: 80)) == .accept)
        // jump web: nothing there matches, so back in forward: next rule, then the policy.
        #expect(rules.verdict(.forward, packet("10.0.1.2", "10.0.2.11", dport: 80)) == .drop)
        #expect(rules.verdict(.forward, packet("10.0.1.2", "203.0.113.10", dport: 23)) == .drop)
        // A miss ends the rule (nft_lookup: NFT_BREAK): the next rule decides.
        #expect(rules.verdict(.forward, packet("10.0.1.2", "203.0.113.10", .udp, dport: 53)) == .accept)
        #expect(rules.verdict(.forward, packet("10.0.1.2", "203.0.113.10", dport: 25)) == .drop)
    }

    @Test func namedMapsAndSetsDecide() throws {
        let rules = try parse(wikiVerdictMaps)
        // ct state vmap: established accepted whatever follows.
        #expect(rules.verdict(.forward, packet("198.51.100.1", "10.0.1.2", state: .established)) == .accept)
        #expect(rules.verdict(.forward, packet("198.51.100.1", "10.0.1.2", state: .invalid)) == .drop)
        // @allowed: 10.0.1.5 is in the set.
        #expect(rules.verdict(.forward, packet("10.0.1.5", "203.0.113.10", .udp, dport: 1)) == .accept)
        // meta l4proto vmap: udp drops.
        #expect(rules.verdict(.forward, packet("10.0.1.7", "203.0.113.10", .udp, dport: 1)) == .drop)
        // tcp jumps to web: port 80 accepted there.
        #expect(rules.verdict(.forward, packet("10.0.1.7", "203.0.113.10", dport: 80)) == .accept)
        // ICMP from wan0 reaches `iifname vmap`: "wan*" drops.
        #expect(rules.verdict(.forward, icmp("198.51.100.1", "10.0.1.2", type: 8, iif: wan, oif: lan)) == .drop)
        // From dmz0: no map has it, the named maps' keys miss for ICMP, the address map decides.
        #expect(rules.verdict(.forward, icmp("10.1.2.3", "203.0.113.10", type: 8, iif: dmz)) == .accept)
        #expect(rules.verdict(.forward, icmp("192.168.1.1", "203.0.113.10", type: 8, iif: dmz)) == .drop)
        #expect(rules.verdict(.forward, icmp("192.168.1.2", "203.0.113.10", type: 8, iif: dmz)) == .drop)  // policy
    }

    @Test func verdictMapErrorsAreNamed() {
        func errors(_ text: String) -> String {
            do {
                _ = try parse(text)
                return ""
            } catch {
                return "\(error)"
            }
        }
        let head = "table inet t {\n\tset s { type inet_service; }\n\tchain c {\n\t\t"
        #expect(errors(head + "tcp dport vmap @nothing\n\t}\n}\n").contains("map 'nothing' does not exist in table inet t"))
        #expect(errors(head + "tcp dport vmap @s\n\t}\n}\n").contains("'s' is a set, not a verdict map"))
        #expect(errors(head + "tcp dport vmap { 22 : jump nowhere }\n\t}\n}\n").contains("chain 'nowhere' does not exist"))
        #expect(errors(head + "tcp dport vmap { 22 : accept } accept\n\t}\n}\n").contains("Statement after terminal statement"))
        #expect(errors("table inet t {\n\tchain c {\n\t\ttcp dport vmap { 1 : jump c }\n\t}\n\tchain b {\n\t\ttype filter hook input priority 0;\n\t\tjump c\n\t}\n}\n")
            .contains("jump loop"))
        #expect(errors("table inet t {\n\tmap m { type inet_service : verdict; elements = { 1-5 : accept }; }\n}\n")
            .contains("You must add 'flags interval' to your map declaration"))
        #expect(errors(head + "limit rate 10/second burst 0 packets\n\t}\n}\n").contains("packet limit burst must be > 0"))
        #expect(errors(head + "limit rate 10 mbytes/second\n\t}\n}\n").contains("not supported by tunwall: limit rate in bytes"))
        #expect(errors(head + "limit rate 10/fortnight\n\t}\n}\n").contains("Wrong time format"))
    }

    // MARK: limit

    /// nft_limit_pkts: the bucket holds `burst` packets' worth of nanoseconds and refills with time.
    @Test func limitIsATokenBucketOnPacketTime() throws {
        let rules = try parse("""
            table inet filter {
            \tchain input {
            \t\ttype filter hook input priority filter; policy drop;
            \t\tlimit rate 10/second burst 3 packets accept
            \t}
            }
            """)
        var p = packet("10.0.1.2", "10.0.1.1", iif: lan, oif: -1)
        let second: UInt64 = 1_000_000_000
        p.time = 5 * second
        // The full bucket: three packets at once, then none.
        for _ in 0..<3 { #expect(rules.verdict(.input, p) == .accept) }
        #expect(rules.verdict(.input, p) == .drop)
        // 99 ms later not yet a whole token (one is 100 ms); at 100 ms one.
        p.time = 5 * second + 99_000_000
        #expect(rules.verdict(.input, p) == .drop)
        p.time = 5 * second + 100_000_000
        #expect(rules.verdict(.input, p) == .accept)
        #expect(rules.verdict(.input, p) == .drop)
        // A long pause refills only up to the burst.
        p.time = 60 * second
        for _ in 0..<3 { #expect(rules.verdict(.input, p) == .accept) }
        #expect(rules.verdict(.input, p) == .drop)
        // Over a second of steady traffic at 1 kHz, ten pass.
        var passed = 0
        for millisecond in 1...1000 {
            p.time = 60 * second + UInt64(millisecond) * 1_000_000
            if rules.verdict(.input, p) == .accept { passed += 1 }
        }
        #expect(passed == 10)
    }

    /// Several workers each run a ruleset parsed from the same text; their
    /// `limit rate` statements share one bucket (Linux: one per rule for all
    /// CPUs), so the firewall passes the rate, not the rate per worker: on
    /// one thread taking turns, and on two threads at once.
    @Test func workersShareALimitsBucket() throws {
        let text = """
            table inet filter {
            \tchain input {
            \t\ttype filter hook input priority filter; policy drop;
            \t\tlimit rate 10/second burst 5 packets accept
            \t}
            }
            """
        let first = try parse(text), second = try parse(text)
        second.shareLimits(with: first)
        var p = packet("10.0.1.2", "10.0.1.1", iif: lan, oif: -1)
        p.time = 5_000_000_000
        var passed = 0
        for turn in 0..<20 where (turn % 2 == 0 ? first : second).verdict(.input, p) == .accept { passed += 1 }
        #expect(passed == 5, "the burst, once for both")

        let a = try parse(text), b = try parse(text)
        b.shareLimits(with: a)
        let total = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            var q = packet("10.0.1.2", "10.0.1.1", iif: lan, oif: -1)
            let rules = worker == 0 ? a : b
            var mine = 0
            // One simulated second, each thread stepping the clock by 1 ms.
            for millisecond in 0..<1000 {
                q.time = 9_000_000_000 + UInt64(millisecond) * 1_000_000
                if rules.verdict(.input, q) == .accept { mine += 1 }
            }
            total.add(mine, ordering: .relaxed)
        }
        // The burst of 5 plus 9 or 10 refills over the 999 ms both clocks
        // span, for both threads together (each alone would pass as many).
        #expect((14...15).contains(total.load(ordering: .relaxed)), "\(total.load(ordering: .relaxed)) passed")
    }

    @Test func limitOverMatchesWhatExceedsTheRate() throws {
        let rules = try parse("""
            table ip filter {
            \tchain input {
            \t\ttype filter hook input priority filter; policy accept;
            \t\tlimit rate over 1/minute drop
            \t}
            }
            """)
        var p = packet("10.0.1.2", "10.0.1.1", iif: lan, oif: -1)
        p.time = 1_000
        // Default burst 5: five under the rate, then over it.
        for _ in 0..<5 { #expect(rules.verdict(.input, p) == .accept) }
        #expect(rules.verdict(.input, p) == .drop)
        p.time += 60_000_000_000
        #expect(rules.verdict(.input, p) == .accept)
        #expect(rules.verdict(.input, p) == .drop)
    }

    /// Only packets that reach the statement charge the bucket: a match written after it is
    /// checked after it, as nft evaluates expressions in order.
    @Test func limitChargesOnlyWhatReachesIt() throws {
        let rules = try parse("""
            table ip filter {
            \tchain input {
            \t\ttype filter hook input priority filter; policy drop;
            \t\ttcp dport 22 limit rate 1/hour burst 1 packets accept
            \t\tlimit rate 1/hour burst 1 packets tcp dport 23 accept
            \t}
            }
            """)
        var ssh = packet("10.0.1.2", "10.0.1.1", dport: 22, iif: lan, oif: -1)
        ssh.time = 1
        var web = ssh
        web.destinationPort = 80
        var telnet = ssh
        telnet.destinationPort = 23
        #expect(rules.verdict(.input, web) == .drop)   // takes rule 2's one token, then fails dport 23
        #expect(rules.verdict(.input, ssh) == .accept) // rule 1's token was untouched
        #expect(rules.verdict(.input, telnet) == .drop)
    }

    // MARK: ct count

    /// Two workers' rulesets sharing `ct count` lists (shareLimits), evaluated
    /// at once from two threads (under ThreadSanitizer too): 400 new
    /// connections within one jiffy, each counted while young, and the list
    /// is one: exactly 20 pass `ct count over 20 drop` between the threads;
    /// every connection counts once, none is lost or counted twice.
    @Test func workersShareACtCountList() throws {
        let text = """
            table inet filter {
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy accept;
            \t\ttcp dport 22 ct count over 20 drop
            \t}
            }
            """
        let a = try parse(text), b = try parse(text)
        b.shareLimits(with: a)
        let total = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            let rules = worker == 0 ? a : b
            var mine = 0
            for n in 0..<200 {
                let port = UInt16(10_000 + worker * 1_000 + n)
                var p = packet("10.0.1.2", "203.0.113.10", sport: port, dport: 22)
                p.time = 1_000_000_000
                p.connection = ConnTuple(source: p.source, destination: p.destination, sourcePort: port, destinationPort: 22,
                                         protocol: .tcp, family: .ipv4)
                if rules.verdict(.forward, p) == .accept { mine += 1 }
            }
            total.add(mine, ordering: .relaxed)
        }
        #expect(total.load(ordering: .relaxed) == 20, "\(total.load(ordering: .relaxed)) passed")
        #expect(a.connectionCounts == b.connectionCounts)
    }

    @Test func ctCountCountsLiveConnectionsOfTheRule() throws {
        let rules = try parse("""
            table inet filter {
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy accept;
            \t\ttcp dport 22 ct count over 2 reject with tcp reset
            \t}
            }
            """)
        var live: [ConnTuple: ConnectionPresence] = [:]
        rules.connectionPresence = { tuple, _ in live[tuple] ?? .absent }
        func connection(_ port: UInt16, time: UInt64 = 1_000_000_000) -> RulePacket {
            var p = packet("10.0.1.2", "203.0.113.10", sport: port, dport: 22)
            p.time = time
            p.connection = ConnTuple(source: p.source, destination: p.destination, sourcePort: port, destinationPort: 22,
                                     protocol: .tcp, family: .ipv4)
            return p
        }
        let first = connection(40001), second = connection(40002), third = connection(40003)
        #expect(rules.verdict(.forward, first) == .accept)
        live[first.connection] = .counted
        #expect(rules.verdict(.forward, second) == .accept)
        live[second.connection] = .counted
        // The same connection again is not counted twice.
        #expect(rules.verdict(.forward, first) == .accept)
        #expect(rules.verdict(.forward, third) == .reject(.tcpReset))
        #expect(rules.connectionCounts == [3])
        // The refused one never entered conntrack: gone after a jiffy. A closing connection
        // (TIME_WAIT) no longer counts either, as in nf_conncount.
        live[first.connection] = .closed
        #expect(rules.verdict(.forward, connection(40004, time: 2_000_000_000)) == .accept)
        #expect(rules.connectionCounts == [2])
    }

    @Test func ctCountWithoutOverHoldsUpToTheLimit() throws {
        let rules = try parse("""
            table ip filter {
            \tchain input {
            \t\ttype filter hook input priority filter; policy drop;
            \t\tct count 1 accept
            \t}
            }
            """)
        rules.connectionPresence = { _, _ in .counted }
        var a = packet("10.0.1.2", "10.0.1.1", sport: 1, iif: lan, oif: -1)
        a.connection.sourcePort = 1
        var b = a
        b.connection.sourcePort = 2
        #expect(rules.verdict(.input, a) == .accept)
        #expect(rules.verdict(.input, b) == .drop)
        #expect(rules.verdict(.input, a) == .drop)  // two connections counted now
    }

    /// Many `ct count` statements with huge limits: bounded storage, no trap.
    @Test func manyHugeConnectionLimitsStayBounded() throws {
        var text = "table ip t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n"
        for _ in 0..<100 { text += "\t\tct count over 4294967295 limit rate 4294967295/week burst 4294967295 packets drop\n" }
        text += "\t}\n}\n"
        let rules = try parse(text)
        #expect(rules.verdict(.input, packet("10.0.1.2", "10.0.1.1", iif: lan, oif: -1)) == .accept)
        #expect(rules.connectionCounts.count == 100)
    }

    // MARK: include

    @Test func includeReadsFilesRelativeToTheIncludingFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wiki-include-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("rules.d"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "define WEB = 80\n".write(to: directory.appendingPathComponent("defines.nft"), atomically: true, encoding: .utf8)
        try "table inet filter {\n\tchain forward {\n\t\ttcp dport $WEB accept\n\t}\n}\n"
            .write(to: directory.appendingPathComponent("rules.d/10-web.nft"), atomically: true, encoding: .utf8)
        try "table inet filter {\n\tchain forward {\n\t\tudp dport 53 accept\n\t}\n}\n"
            .write(to: directory.appendingPathComponent("rules.d/20-dns.nft"), atomically: true, encoding: .utf8)
        let main = directory.appendingPathComponent("main.nft")
        try """
            include "./defines.nft"
            table inet filter {
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy drop;
            \t}
            }
            include "./rules.d/*.nft"

            """.write(to: main, atomically: true, encoding: .utf8)
        let rules = try Ruleset.load(path: main.path)
        #expect(rules.listing() == """
            table inet filter {
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy drop;
            \t\ttcp dport 80 accept
            \t\tudp dport 53 accept
            \t}
            }

            """)
        // An error in an included file names that file and the include on the way.
        try "table inet filter {\n\tchain forward {\n\t\ttcp dport 99999 accept\n\t}\n}\n"
            .write(to: directory.appendingPathComponent("rules.d/30-bad.nft"), atomically: true, encoding: .utf8)
        do {
            _ = try Ruleset.load(path: main.path)
            Issue.record("accepted a bad included file")
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix("In file included from \(main.path):7:1-26:\n\(directory.path)/./rules.d/30-bad.nft:3:13-17: Error:"), "\(text)")
        }
        // A missing file is nft's error at the include.
        let missing = try temporaryFile("include \"./nothing-here.nft\"\n", name: "missing.nft")
        defer { removeTemporaryFile(missing) }
        #expect(throws: RuleErrors.self) { try Ruleset.load(path: missing) }
        do { _ = try Ruleset.load(path: missing) } catch {
            #expect("\(error)".contains(":1:1-29: Error: File not found: ./nothing-here.nft"), "\(error)")
        }
    }

    @Test func includeNestsAtMostSixteenDeep() throws {
        let path = try temporaryFile("", name: "self.nft")
        defer { removeTemporaryFile(path) }
        let name = (path as NSString).lastPathComponent
        try "include \"./\(name)\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try Ruleset.load(path: path)
            Issue.record("a file including itself was accepted")
        } catch {
            #expect("\(error)".contains("Include nested too deeply, max 16 levels"))
        }
    }
}

/// A table block, then nft script commands applied in order (as `nft -f` applies them).
let scriptCommands = """
    table inet filter {
    \tct helper ftp-std {
    \t\ttype "ftp" protocol tcp
    \t}
    \tset allowed {
    \t\ttype ipv4_addr
    \t\telements = { 10.0.1.5 }
    \t}
    \tchain forward {
    \t\ttype filter hook forward priority filter; policy drop;
    \t\ttcp dport { 22 } accept
    \t\tct state { established, related } accept
    \t\tiifname { "lan0", "wan0" } accept
    \t\ttcp dport { 22, 23 } accept
    \t\tip saddr @allowed accept
    \t\ttcp dport vmap { 80 : jump web, 81 : drop }
    \t}
    \tchain web {
    \t\ttcp dport 80 accept
    \t}
    }
    table ip t2 {
    \tchain c {
    \t\taccept
    \t}
    }
    add rule inet filter forward udp dport 53 accept
    insert rule inet filter forward udp dport 54 accept
    add chain inet filter web2
    add rule inet filter web2 counter
    add element inet filter allowed { 10.0.1.6, 10.0.1.7 }
    delete element inet filter allowed { 10.0.1.5 }
    flush chain ip t2 c
    add rule ip t2 c drop
    add table ip t3
    add chain ip t3 input { type filter hook input priority 0; policy accept; }
    add rule ip t3 input tcp dport { 1, 2 } counter

    """

/// What `nft -a list ruleset` printed for `scriptCommands` in a fresh namespace (nft 1.0.6).
let scriptCommandsListing = """
    table inet filter { # handle 1
    \tct helper ftp-std { # handle 3
    \t\ttype "ftp" protocol tcp
    \t\tl3proto inet
    \t}

    \tset allowed { # handle 4
    \t\ttype ipv4_addr
    \t\telements = { 10.0.1.6, 10.0.1.7 }
    \t}

    \tchain forward { # handle 1
    \t\ttype filter hook forward priority filter; policy drop;
    \t\tudp dport 54 accept # handle 17
    \t\ttcp dport 22 accept # handle 5
    \t\tct state { established, related } accept # handle 7
    \t\tiifname { "lan0", "wan0" } accept # handle 9
    \t\ttcp dport { 22, 23 } accept # handle 11
    \t\tip saddr @allowed accept # handle 12
    \t\ttcp dport vmap { 80 : jump web, 81 : drop } # handle 14
    \t\tudp dport 53 accept # handle 16
    \t}

    \tchain web { # handle 2
    \t\ttcp dport 80 accept # handle 15
    \t}

    \tchain web2 { # handle 18
    \t\tcounter packets 0 bytes 0 # handle 19
    \t}
    }
    table ip t2 { # handle 2
    \tchain c { # handle 1
    \t\tdrop # handle 3
    \t}
    }
    table ip t3 { # handle 3
    \tchain input { # handle 1
    \t\ttype filter hook input priority filter; policy accept;
    \t\ttcp dport { 1, 2 } counter packets 0 bytes 0 # handle 3
    \t}
    }

    """

@Suite struct ScriptCommandTests {
    @Test func commandsApplyInOrderWithNFTsHandles() throws {
        let rules = try parse(scriptCommands)
        #expect(rules.listing(handles: true) == scriptCommandsListing)
    }

    @Test func liveCommandsChangeACopy() throws {
        let rules = try parse(scriptCommands)
        let next = try rules.applying("delete rule inet filter forward handle 17; add element inet filter allowed { 10.0.1.9 }")
        #expect(rules.listing(handles: true) == scriptCommandsListing, "the running ruleset is untouched")
        #expect(!next.listing().contains("udp dport 54"))
        #expect(next.listing().contains("elements = { 10.0.1.6, 10.0.1.7,\n\t\t\t     10.0.1.9 }"))
        #expect(next.verdict(.forward, packet("10.0.1.9", "203.0.113.10", .udp, dport: 9, iif: dmz)) == .accept)
        #expect(rules.verdict(.forward, packet("10.0.1.9", "203.0.113.10", .udp, dport: 9, iif: dmz)) == .drop)
        // Rules added later take the next handles; insert with a position goes before it.
        let more = try next.applying("insert rule inet filter forward position 5 tcp dport 443 accept")
        #expect(more.listing(handles: true).contains("\t\ttcp dport 443 accept # handle 20\n\t\ttcp dport 22 accept # handle 5\n"))
        let after = try more.applying("add rule inet filter forward position 5 tcp dport 444 accept")
        #expect(after.listing(handles: true).contains("\t\ttcp dport 22 accept # handle 5\n\t\ttcp dport 444 accept # handle 21\n"))
    }

    @Test func counterValuesSurviveACommand() throws {
        let rules = try parse("table ip t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tcounter\n\t}\n}\n")
        _ = rules.verdict(.input, packet("10.0.1.2", "10.0.1.1", iif: lan, oif: -1, length: 100))
        let next = try rules.applying("add rule ip t c drop")
        #expect(next.listing().contains("counter packets 1 bytes 100\n\t\tdrop\n"))
    }

    @Test func refusedCommandsSayWhatNFTSays() throws {
        let rules = try parse(scriptCommands)
        func error(_ command: String) -> String {
            do {
                _ = try rules.applying(command)
                return ""
            } catch {
                return error.description
            }
        }
        #expect(error("delete rule inet filter forward handle 999") == """
            Error: Could not process rule: No such file or directory
            delete rule inet filter forward handle 999
                                                   ^^^
            """)
        #expect(error("add rule inet filter nochain accept") == """
            Error: Could not process rule: No such file or directory
            add rule inet filter nochain accept
                                 ^^^^^^^
            """)
        #expect(error("delete element inet filter allowed { 10.9.9.9 }") == """
            Error: Could not process rule: No such file or directory
            delete element inet filter allowed { 10.9.9.9 }
                                                 ^^^^^^^^
            """)
        #expect(error("insert rule inet filter forward position 999 accept") == """
            Error: Could not process rule: No such file or directory
            insert rule inet filter forward position 999 accept
                                            ^^^^^^^^^^^^
            """)
        #expect(error("add element inet filter allowed { 10.0.1.300 }").hasPrefix("Error: "))
    }
}

/// The forms of the rest of the subset that nft -j prints (NFTAgreementTests compares).
let jsonForms = """
    table ip t {
    \tct helper h {
    \t\ttype "ftp" protocol tcp
    \t}
    \tchain c {
    \t\ttype filter hook input priority 0; policy accept;
    \t\tip saddr 10.0.0.0/8 tcp dport { 22, 80-90 } ct state established,related log prefix "x" level info drop
    \t\tiifname "lan*" meta mark 0x10 accept
    \t\treject
    \t\treject with tcp reset
    \t\ticmp type echo-request accept comment "ping"
    \t\tct helper set "h"
    \t\tjump d
    \t}
    \tchain d {
    \t\tgoto e
    \t}
    \tchain e {
    \t\treturn
    \t}
    }

    """

@Suite struct JSONListingTests {
    @Test func limitsAsNFTPrintsThemInJSON() throws {
        let json = try parse(wikiLimits).jsonListing()
        #expect(json == #"""
            {"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}}, {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}}, {"limit": {"rate": 10, "burst": 5, "per": "second"}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}}, {"limit": {"rate": 100, "burst": 10, "per": "minute", "inv": true}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"limit": {"rate": 3, "burst": 1, "per": "hour"}}, {"log": {"prefix": "rare: "}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"limit": {"rate": 5, "burst": 5, "per": "week", "inv": true}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 6, "expr": [{"limit": {"rate": 10, "burst": 2, "per": "day"}}, {"counter": {"packets": 0, "bytes": 0}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"ct count": {"val": 3, "inv": true}}, {"counter": {"packets": 0, "bytes": 0}}, {"reject": {"type": "icmpx", "expr": "port-unreachable"}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 8, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}}, {"ct count": {"val": 5}}, {"accept": null}]}}]}

            """#)
    }
}

/// `meta nftrace set` (issue 15: tracing a chosen flow), in the forms nft lists: the unqualified
/// `nftrace set 0` is listed with `meta`, as nft does.
let nftraceRules = """
    table inet filter {
    \tchain pre {
    \t\ttype filter hook prerouting priority raw; policy accept;
    \t\ttcp dport 8080 meta nftrace set 1
    \t\tudp dport 53 counter packets 0 bytes 0 meta nftrace set 1 accept
    \t\tmeta nftrace set 0
    \t}
    }

    """

@Suite struct NftraceRuleTests {
    static let twoMarks = """
        table inet filter {
        \tchain forward {
        \t\ttype filter hook forward priority filter; policy accept;
        \t\ttcp dport 8080 meta nftrace set 1
        \t\ttcp dport 8081 meta nftrace set 1 meta nftrace set 0
        \t}
        }
        """

    @Test func listsAsNFTDoes() throws {
        #expect(try parse(nftraceRules).listing() == nftraceRules)
        let unqualified = nftraceRules.replacingOccurrences(of: "\t\tmeta nftrace set 0", with: "\t\tnftrace set 0")
        #expect(try parse(unqualified).listing() == nftraceRules)
    }

    @Test func marksOnlyMatchingPacketsAndNamesTheRule() throws {
        let rules = try parse(Self.twoMarks)
        #expect(rules.setsNftrace)
        var log: [String] = []
        var marked = packet("10.0.1.2", "203.0.113.10", dport: 8080)
        #expect(rules.evaluate(.forward, &marked, log: &log) == .accept)
        #expect(marked.nftrace)
        let found = try #require(rules.decision(marked.nftraceRule))
        #expect(found.text == "tcp dport 8080 meta nftrace set 1")
        #expect(found.table == "inet filter" && found.chain == "forward" && found.location == "test.nft:4")
        var other = packet("10.0.1.2", "203.0.113.10", dport: 80)
        _ = rules.evaluate(.forward, &other, log: &log)
        #expect(!other.nftrace)
        var cleared = packet("10.0.1.2", "203.0.113.10", dport: 8081)
        _ = rules.evaluate(.forward, &cleared, log: &log)
        #expect(!cleared.nftrace)
        #expect(!(try parse(oneRule("meta nftrace set 0"))).setsNftrace)
    }

    /// A rule a live command added is placed in the command ("tunwall-nft:LINE"); the file's rules keep their lines.
    @Test func liveRulesArePlacedInTheirCommand() throws {
        let rules = try parse(Self.twoMarks).applying("insert rule inet filter forward tcp dport 80 meta nftrace set 1")
        let again = try rules.applying("add rule inet filter forward counter")
        var log: [String] = []
        for ruleset in [rules, again] {
            var live = packet("10.0.1.2", "203.0.113.10", dport: 80)
            _ = ruleset.evaluate(.forward, &live, log: &log)
            #expect(ruleset.decision(live.nftraceRule)?.location == "tunwall-nft:1")
            var filed = packet("10.0.1.2", "203.0.113.10", dport: 8080)
            _ = ruleset.evaluate(.forward, &filed, log: &log)
            #expect(ruleset.decision(filed.nftraceRule)?.location == "test.nft:4")
        }
    }

    @Test func matchingOnNftraceAndBadValuesAreRefused() {
        #expect(throws: (any Error).self) { try parse(oneRule("meta nftrace 1 accept")) }
        #expect(throws: (any Error).self) { try parse(oneRule("meta nftrace set foo")) }
    }
}

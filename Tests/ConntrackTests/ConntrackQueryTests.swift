// conntrack-tools' command line as ConntrackQuery reads it: the filters,
// conntrack-tools 1.4.7's refusals word for word (checked against the real
// tool in a throwaway namespace), and the canonical words the client sends
// the firewall, which read back to the same query.

import Conntrack
import Testing
import Wire

@Suite struct ConntrackQueryTests {
    func query(_ words: String...) throws -> ConntrackQuery {
        try ConntrackQuery.parse(words).get()
    }

    func refusal(_ words: String...) -> String? {
        if case .failure(let error) = ConntrackQuery.parse(words) { return error.message }
        return nil
    }

    @Test func readsCommandsTablesAndFilters() throws {
        let q = try query("-D", "-p", "tcp", "--dport", "21", "-s", "10.0.1.0/24", "--reply-dst=203.0.113.1", "-m", "0x10/0xf0")
        #expect(q.command == .delete && q.table == .conntrack)
        #expect(q.filter.protocol == .tcp && q.filter.origDestinationPort == 21)
        #expect(q.filter.origSource == IPPrefix("10.0.1.0/24"))
        #expect(q.filter.replyDestination == IPPrefix("203.0.113.1/32"))
        #expect(q.filter.mark == 16 && q.filter.markMask == 0xf0)
        #expect(q.filter.family == .ipv4)
        #expect(try query("-L", "expect").table == .expect)
        #expect(try query("--dump", "conntrack").command == .list)
        #expect(try query("-ptcp", "-L", "--orig-port-src", "5").filter.origSourcePort == 5, "-pVALUE and the long port names")
        #expect(try query("-L", "-p", "tcp", "--state", "established").filter.tcpState == .established)
        #expect(try query("-L", "-p", "tcp", "--state", "LISTEN").filter.tcpState == .synSent2)
        #expect(try query("-L", "-p", "6").filter.protocol == .tcp)
        #expect(try query("-U", "-p", "udp", "-m", "7", "-t", "30").newMark == 7)
        #expect(try query("-U", "-m", "7").filter.mark == nil, "with -U, -m sets the mark")
        let events = try query("-E", "-e", "NEW,destroy", "-f", "ipv6")
        #expect(events.events == [.new, .destroy] && events.filter.family == .ipv6)
    }

    @Test func refusesAsConntrackToolsDoes() {
        #expect(refusal("-L", "--frob") == "unknown option `--frob'")
        #expect(refusal("-L", "--sport", "1") == "unknown option `--sport'", "ports come with -p")
        #expect(refusal("-L", "-p", "udp", "--state", "ESTABLISHED") == "unknown option `--state'", "a TCP option")
        #expect(refusal("-L", "-p", "foo") == "`foo' unsupported protocol")
        #expect(refusal("-L", "-f", "foo") == "`foo' unsupported protocol")
        #expect(refusal("-L", "-p", "tcp", "--state", "FOO") == "unknown TCP state `FOO'")
        #expect(refusal("-L", "-s", "foo") == "Invalid IP address `foo'")
        #expect(refusal("-L", "-s", "1.2.3.4", "-d", "::1") == "mismatched address family")
        #expect(refusal("-E", "-e", "NEW,BAD") == "Bad parameter `BAD'")
        #expect(refusal("-L", "-p") == "option `-p' requires an argument")
        #expect(refusal("-L", "-L") == "Invalid commands combination")
        #expect(refusal("-L", "foo") == "unknown type `foo'")
        #expect(refusal("-F", "-p", "tcp") == "Illegal option `--protonum' with this command")
        #expect(refusal("-C", "-p", "tcp") == "Illegal option `--protonum' with this command")
        #expect(refusal("-S", "-p", "tcp") == "Illegal option `--protonum' with this command")
        #expect(refusal("-L", "-e", "NEW") == "Illegal option `--event-mask' with this command")
        #expect(refusal("-L", "-t", "5") == "Illegal option `--timeout' with this command")
        #expect(refusal("-L", "expect", "-m", "1") == "Illegal option `--mark' with this command")
        #expect(refusal("-p", "tcp") == "Invalid commands combination")
        #expect(refusal("-L", "-p", "tcp", "--sprt", "1").map { $0.hasPrefix("unknown option `--sprt'") } == true)
        if case .failure(let error) = ConntrackQuery.parse(["-L", "--sprt"]) { #expect(error.unknownOption == "--sprt") }
    }

    /// What the client sends is what the firewall reads: the same query.
    @Test func canonicalWordsReadBackToTheSameQuery() throws {
        let lines: [[String]] = [
            ["-L"], ["-L", "expect"], ["-E"], ["-C"], ["-S", "expect"], ["-F", "expect"],
            ["-D", "-p", "tcp", "--dport", "21", "-s", "10.0.1.0/24", "-q", "203.0.113.1", "-m", "0x10/0xf0"],
            ["-U", "-p", "udp", "--sport", "53", "-m", "7", "-t", "30"],
            ["-E", "-p", "icmp", "-e", "NEW,DESTROY", "-f", "ipv4", "-w", "0"],
            ["-L", "-p", "tcp", "--state", "TIME_WAIT", "-r", "2001:db8::/32", "--reply-port-dst", "9"],
            ["-D", "expect", "-p", "tcp", "--dport", "50000", "-d", "203.0.113.1"],
        ]
        for words in lines {
            let parsed = try ConntrackQuery.parse(words).get()
            #expect(try ConntrackQuery.parse(parsed.arguments).get() == parsed, "\(words) → \(parsed.arguments)")
        }
        #expect(try query("-L").arguments == ["-L"])
        #expect(try query("-L", "expect").arguments == ["-L", "expect"])
        #expect(try query("-E").arguments == ["-E"])
    }
}

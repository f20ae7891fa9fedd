// The control protocol's one request type: every request renders to the line
// clients have always sent (other labs and scripts speak it), and the server
// parses that line, with surrounding whitespace, back into the same request.

import Conntrack
import Firewall
import Testing

@Suite struct ControlRequestTests {
    static let jsonList: ConntrackQuery = { var q = ConntrackQuery(command: .list); q.json = true; return q }()
    static let jsonExpect: ConntrackQuery = {
        var q = ConntrackQuery(command: .list)
        q.table = .expect
        q.json = true
        return q
    }()
    static let lines: [(ControlRequest, String)] = [
        (.conntrackList, "conntrack -L"),
        (.conntrack(Self.jsonList), "conntrack -L -o json"),
        (.expectationList, "conntrack -L expect"),
        (.conntrack(Self.jsonExpect), "conntrack -L expect -o json"),
        (.events, "conntrack -E"),
        (.stats, "stats"),
        (.statsJSON, "stats --json"),
        (.listRuleset, "list ruleset"),
        (.version, "version"),
        (.reload(path: nil), "reload"),
        (.reload(path: "/etc/tunwall/rules.nft"), "reload /etc/tunwall/rules.nft"),
        (.impair(interface: "wan0", words: ["out", "delay", "50ms", "loss", "2%"]), "impair wan0 out delay 50ms loss 2%"),
        (.impair(interface: "lan0", words: ["show"]), "impair lan0 show"),
    ]

    @Test func everyRequestHasItsWireLine() {
        for (request, line) in Self.lines {
            #expect(request.line == line)
            #expect(ControlRequest(line: line) == request)
            #expect(ControlRequest(line: "  \(line)\r\n") == request, "the server trims whitespace")
        }
    }

    /// Any conntrack-tools command line travels as its canonical words.
    @Test func conntrackQueriesTravelAsTheirCanonicalWords() throws {
        let query = try ConntrackQuery.parse(["-D", "-p", "tcp", "--dport=21", "-s", "10.0.1.2"]).get()
        let request = ControlRequest.conntrack(query)
        #expect(request.line == "conntrack -D -p 6 -f ipv4 -s 10.0.1.2/32 --dport 21")
        #expect(ControlRequest(line: request.line) == request)
        #expect(ControlRequest(line: "conntrack -L --frob") == nil)
    }

    @Test func bareConntrackListsTheTable() {
        #expect(ControlRequest(line: "conntrack") == .conntrackList)
    }

    @Test func otherLinesAreNotRequests() {
        for line in ["", "status", "conntrack -L expectations", "reloadx", "STATS", "list"] {
            #expect(ControlRequest(line: line) == nil, "\(line)")
        }
    }

    /// What follows "reload " after trimming is the path, as it always was.
    @Test func reloadPathIsTheRestOfTheLine() {
        #expect(ControlRequest(line: "reload  two spaces.nft ") == .reload(path: " two spaces.nft"))
    }
}

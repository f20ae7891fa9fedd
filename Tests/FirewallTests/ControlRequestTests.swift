// The control protocol's one request type: every request renders to the line
// clients have always sent (other labs and scripts speak it), and the server
// parses that line, with surrounding whitespace, back into the same request.

import Firewall
import Testing

@Suite struct ControlRequestTests {
    static let lines: [(ControlRequest, String)] = [
        (.conntrackList, "conntrack -L"),
        (.conntrackJSON, "conntrack -L -o json"),
        (.expectationList, "conntrack -L expect"),
        (.expectationJSON, "conntrack -L expect -o json"),
        (.events, "conntrack -E"),
        (.stats, "stats"),
        (.statsJSON, "stats --json"),
        (.listRuleset, "list ruleset"),
        (.version, "version"),
        (.reload(path: nil), "reload"),
        (.reload(path: "/etc/tunwall/rules.nft"), "reload /etc/tunwall/rules.nft"),
        (.nft("add element inet filter allowed { 10.0.1.5 }"), "nft add element inet filter allowed { 10.0.1.5 }"),
        (.nft("list ruleset -a"), "nft list ruleset -a"),
    ]

    @Test func everyRequestHasItsWireLine() {
        for (request, line) in Self.lines {
            #expect(request.line == line)
            #expect(ControlRequest(line: line) == request)
            #expect(ControlRequest(line: "  \(line)\r\n") == request, "the server trims whitespace")
        }
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

// ControlRequest: what a client may ask a running firewall over its control
// socket (ControlSocket.swift, one request line per connection), parsed by the
// server and rendered by the client commands from this one type, so the two
// cannot drift apart. The wire lines, as `tunwall` has always sent them:
//
//   conntrack -L            the connection table, as conntrack -L ("conntrack" alone too)
//   conntrack -L expect     the expectations, as conntrack -L expect
//   conntrack -E            follow events (NEW, UPDATE, DESTROY) until either side hangs up
//   conntrack ARGS...       any conntrack-tools command line ConntrackQuery reads:
//                           -L/-C/-D/-F/-U/-S/-E, "expect", filters (-p 6 --dport 21 ...),
//                           -o json (ConntrackRecord / ExpectationRecord arrays)
//   stats                   packet counters and drops by reason
//   stats --json            the same as one JSON StatisticsRecord
//   list ruleset            the running ruleset, as nft list ruleset
//   version                 "tunwall VERSION"
//   reload [PATH]           replace the ruleset from PATH, or re-read its file
//   impair IF [in|out] WORDS  set an interface's impairments (netem's words; out when no direction)
//   impair IF show          both directions' settings and counters
//   impair IF [in|out] clear  switch one direction off, or both
//   nft COMMAND             an nft command on the running ruleset (NFTControl.swift)
//   neigh                   the neighbour table of the TAP interfaces, as `ip neigh` prints it
//
// The server trims surrounding whitespace before matching; any other line is
// answered "error: unknown request '…'".

import Conntrack
import SystemIO
import TunIO

public enum ControlRequest: Equatable, Sendable {
    /// A conntrack-tools command line (ConntrackQuery).
    case conntrack(ConntrackQuery)
    case stats
    case statsJSON
    case listRuleset
    case version
    /// nil: the file the running ruleset came from.
    case reload(path: String?)
    /// `impair IF WORDS…`: the interface and the rest of the line's words (ImpairCommand.swift).
    case impair(interface: String, words: [String])
    /// `nft add element …`, `nft list ruleset -a`, `nft -f PATH` (NFTControl.swift).
    case nft(String)
    /// `neigh`: the neighbour table (ARP and ND), as `ip neigh`.
    case neighbours

    /// The request a line stands for; nil for a line no firewall understands.
    public init?(line: String) {
        let text = line.trimmingWhitespace()
        switch text {
        case "conntrack": self = .conntrackList
        case _ where text.hasPrefix("conntrack "):
            let words = text.dropFirst("conntrack ".count).split(whereSeparator: \.isWhitespace).map(String.init)
            guard case .success(let query) = ConntrackQuery.parse(words) else { return nil }
            self = .conntrack(query)
        case "stats": self = .stats
        case "stats --json": self = .statsJSON
        case "list ruleset": self = .listRuleset
        case "version": self = .version
        case "neigh": self = .neighbours
        case "reload": self = .reload(path: nil)
        case _ where text.hasPrefix("reload "): self = .reload(path: String(text.dropFirst("reload ".count)))
        case _ where text.hasPrefix("impair "):
            let words = text.dropFirst("impair ".count).split(separator: " ").map(String.init)
            guard let interface = words.first else { return nil }
            self = .impair(interface: interface, words: Array(words.dropFirst()))
        case _ where text.hasPrefix("nft "): self = .nft(String(text.dropFirst("nft ".count)))
        default: return nil
        }
    }

    /// `conntrack -L`, `conntrack -L expect` and `conntrack -E`, as they always were.
    public static let conntrackList = ControlRequest.conntrack(ConntrackQuery(command: .list))
    public static let expectationList = ControlRequest.conntrack(ConntrackQuery(command: .list, table: .expect))
    public static let events = ControlRequest.conntrack(ConntrackQuery(command: .events))

    /// The line a client sends.
    public var line: String {
        switch self {
        case .conntrack(let query): return (["conntrack"] + query.arguments).joined(separator: " ")
        case .stats: return "stats"
        case .statsJSON: return "stats --json"
        case .listRuleset: return "list ruleset"
        case .version: return "version"
        case .neighbours: return "neigh"
        case .reload(nil): return "reload"
        case .reload(let path?): return "reload \(path)"
        case .impair(let interface, let words): return (["impair", interface] + words).joined(separator: " ")
        case .nft(let command): return "nft \(command)"
        }
    }

    /// Asks the firewall listening on `path` and returns its whole answer
    /// (an answer starting with "error: " is the firewall's refusal).
    public func send(to path: String) throws(SystemError) -> String {
        try ControlClient.send(line, to: path)
    }

    /// A `conntrack -E` request: hands each piece of the stream to `receive` until the firewall hangs up.
    public func stream(from path: String, _ receive: (String) -> Void) throws(SystemError) {
        try ControlClient.stream(line, to: path, output: receive)
    }
}

extension String {
    /// Without leading and trailing whitespace (Character.isWhitespace, so "\r\n" too).
    package func trimmingWhitespace() -> String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}

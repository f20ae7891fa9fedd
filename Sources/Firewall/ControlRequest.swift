// ControlRequest: what a client may ask a running firewall over its control
// socket (ControlSocket.swift, one request line per connection), parsed by the
// server and rendered by the client commands from this one type, so the two
// cannot drift apart. The wire lines, as `tunwall` has always sent them:
//
//   conntrack -L            the connection table, as conntrack -L ("conntrack" alone too)
//   conntrack -L -o json    the same as a JSON array of ConntrackRecord
//   conntrack -L expect     the expectations, as conntrack -L expect
//   conntrack -L expect -o json   the same as a JSON array of ExpectationRecord
//   conntrack -E            follow events (NEW, UPDATE, DESTROY) until either side hangs up
//   stats                   packet counters and drops by reason
//   stats --json            the same as one JSON StatisticsRecord
//   list ruleset            the running ruleset, as nft list ruleset
//   version                 "tunwall VERSION"
//   reload [PATH]           replace the ruleset from PATH, or re-read its file
//   nft COMMAND             an nft command on the running ruleset (NFTControl.swift)
//
// The server trims surrounding whitespace before matching; any other line is
// answered "error: unknown request '…'".

import SystemIO
import TunIO

public enum ControlRequest: Equatable, Sendable {
    case conntrackList
    case conntrackJSON
    case expectationList
    case expectationJSON
    case events
    case stats
    case statsJSON
    case listRuleset
    case version
    /// nil: the file the running ruleset came from.
    case reload(path: String?)
    /// `nft add element …`, `nft list ruleset -a`, `nft -f PATH` (NFTControl.swift).
    case nft(String)

    /// The request a line stands for; nil for a line no firewall understands.
    public init?(line: String) {
        let text = line.trimmingWhitespace()
        switch text {
        case "conntrack -L", "conntrack": self = .conntrackList
        case "conntrack -L -o json": self = .conntrackJSON
        case "conntrack -L expect": self = .expectationList
        case "conntrack -L expect -o json": self = .expectationJSON
        case "conntrack -E": self = .events
        case "stats": self = .stats
        case "stats --json": self = .statsJSON
        case "list ruleset": self = .listRuleset
        case "version": self = .version
        case "reload": self = .reload(path: nil)
        case _ where text.hasPrefix("reload "): self = .reload(path: String(text.dropFirst("reload ".count)))
        case _ where text.hasPrefix("nft "): self = .nft(String(text.dropFirst("nft ".count)))
        default: return nil
        }
    }

    /// The line a client sends.
    public var line: String {
        switch self {
        case .conntrackList: return "conntrack -L"
        case .conntrackJSON: return "conntrack -L -o json"
        case .expectationList: return "conntrack -L expect"
        case .expectationJSON: return "conntrack -L expect -o json"
        case .events: return "conntrack -E"
        case .stats: return "stats"
        case .statsJSON: return "stats --json"
        case .listRuleset: return "list ruleset"
        case .version: return "version"
        case .reload(nil): return "reload"
        case .reload(let path?): return "reload \(path)"
        case .nft(let command): return "nft \(command)"
        }
    }

    /// Asks the firewall listening on `path` and returns its whole answer
    /// (an answer starting with "error: " is the firewall's refusal).
    public func send(to path: String) throws(SystemError) -> String {
        try ControlClient.send(line, to: path)
    }

    /// `.events`: hands each piece of the stream to `receive` until the firewall hangs up.
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

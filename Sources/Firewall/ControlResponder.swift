// ControlResponder: the firewall's answers on its control socket. Each answer
// is the listing as the matching Linux tool prints it (conntrack -L, nft list
// ruleset) or the counters; an error starts with "error: ". `conntrack -E`
// subscribes the connection to the event stream instead (FirewallRunner).

import Conntrack
import Engine
import Foundation
import TunIO

public enum ControlResponder {
    public static func respond(to line: String, engine: Engine, reloader: Reloader) -> ControlReply {
        guard let request = ControlRequest(line: line) else {
            return .text("error: unknown request '\(line)'\n")
        }
        if case .conntrack(let query) = request, query.command == .events {
            // tunwall makes no expectation events (helpers' expectations are
            // listed, not announced): refused as a kernel without them would.
            guard query.table == .conntrack else { return .text("error: Operation failed: Operation not supported\n") }
            return .subscribe("", events: query)
        }
        return .text(answer(request, engine: engine, reloader: reloader))
    }

    static func answer(_ request: ControlRequest, engine: Engine, reloader: Reloader) -> String {
        let now = FirewallRunner.now()
        switch request {
        case .conntrack(let query):
            return ConntrackAnswer.answer(query, engine: engine, now: now)
        case .stats:
            return engine.statisticsReport(now: now)
        case .statsJSON:
            return json(engine.statisticsRecord(now: now))
        case .listRuleset:
            return engine.ruleset.listing()
        case .version:
            return "tunwall \(TunwallVersion.current)\n"
        case .reload(let path):
            return reloader.reload(path).response
        case .impair(let interface, let words):
            return ImpairRequest.answer(interface: interface, words: words, engine: engine)
        case .nft(let command):
            return NFTControl.answer(command, engine: engine)
        case .neighbours:
            return engine.neighbourRecords().map { $0.description + "\n" }.joined()
        }
    }

    /// One line of JSON, keys sorted so that the output diffs well.
    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "error: cannot encode the answer as JSON\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

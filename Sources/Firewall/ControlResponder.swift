// ControlResponder: the firewall's answers on its control socket. Each answer
// is the listing as the matching Linux tool prints it (conntrack -L, nft list
// ruleset) or the counters; an error starts with "error: ". `conntrack -E`
// subscribes the connection to the event stream instead (FirewallRunner).

import Conntrack
import Engine
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
        case .listRuleset:
            return engine.ruleset.listing()
        case .version:
            return "tunwall \(TunwallVersion.current)\n"
        case .reload(let path):
            return reloader.reload(path).response
        }
    }
}

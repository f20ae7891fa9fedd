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
        if request == .events { return .subscribe("") }
        return .text(answer(request, engine: engine, reloader: reloader))
    }

    static func answer(_ request: ControlRequest, engine: Engine, reloader: Reloader) -> String {
        let now = FirewallRunner.now()
        switch request {
        case .conntrackList:
            return engine.conntrack.listing(now: now).map { $0 + "\n" }.joined()
        case .conntrackJSON:
            return json(engine.conntrack.records(now: now))
        case .expectationList:
            return engine.conntrack.expectationListing(now: now).map { $0 + "\n" }.joined()
        case .expectationJSON:
            return json(engine.conntrack.expectationRecords(now: now))
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
        case .nft(let command):
            return NFTControl.answer(command, engine: engine)
        case .events:
            return ""  // answered by subscribing, in respond(to:)
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

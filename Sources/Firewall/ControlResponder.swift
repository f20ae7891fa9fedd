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
        respond(to: line, engines: [engine], reloader: reloader)
    }

    /// With several workers `engines` holds every worker's engine, worker
    /// 0's first, and the caller has the others parked (WorkerGroup).
    public static func respond(to line: String, engines: [Engine], reloader: Reloader) -> ControlReply {
        guard let request = ControlRequest(line: line) else {
            return .text("error: unknown request '\(line)'\n")
        }
        if case .conntrack(let query) = request, query.command == .events {
            // tunwall makes no expectation events (helpers' expectations are
            // listed, not announced): refused as a kernel without them would.
            guard query.table == .conntrack else { return .text("error: Operation failed: Operation not supported\n") }
            return .subscribe("", events: query)
        }
        if case .monitorTrace(let all) = request { return .subscribeTraces("", all: all) }
        return .text(answer(request, engines: engines, reloader: reloader))
    }

    /// Whether answering `line` needs the other workers parked (everything
    /// but the version: even a listing adds up every worker's counters).
    public static func needsAllEngines(_ line: String) -> Bool {
        switch ControlRequest(line: line) {
        case .version?, nil: return false
        case .conntrack(let query)?: return query.command != .events
        default: return true
        }
    }

    static func answer(_ request: ControlRequest, engines: [Engine], reloader: Reloader) -> String {
        guard let engine = engines.first else { return "error: no engine\n" }
        let now = FirewallRunner.now()
        switch request {
        case .conntrack(let query):
            return ConntrackAnswer.answer(query, engines: engines, now: now)
        case .stats:
            return engine.statisticsReport(now: now, merging: Array(engines.dropFirst()))
        case .statsJSON:
            let record = StatisticsRecord.merged(engines.map { $0.statisticsRecord(now: now) })
            return record.map { json($0) } ?? "error: no engine\n"
        case .listRuleset:
            return engine.ruleset.withCountersSummed(from: engines.dropFirst().map(\.ruleset)) { $0.listing() }
        case .version:
            return "tunwall \(TunwallVersion.current)\n"
        case .reload(let path):
            return reloader.reload(path).response
        case .impair(let interface, let words):
            return ImpairRequest.answer(interface: interface, words: words, engines: engines)
        case .nft(let command):
            return NFTControl.answer(command, engines: engines)
        case .monitorTrace:
            return ""  // (a stream: respond(to:) subscribes it)
        case .neighbours:
            // TAP interfaces run one worker (FirewallBootstrap), so one table.
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

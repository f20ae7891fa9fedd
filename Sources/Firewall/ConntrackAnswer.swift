// The firewall's answer to a conntrack-tools command line (ConntrackQuery)
// on its control socket: the lines conntrack-tools would print on stdout,
// one per entry (-L, and -D/-U print the entries they deleted or updated,
// as conntrack-tools does), the count (-C) or the statistics (-S). The
// client counts the lines for conntrack-tools' message on stderr ("3 flow
// entries have been deleted.") and its exit status (1 when -D or -U matched
// nothing).

import Conntrack
import Engine

enum ConntrackAnswer {
    static func answer(_ query: ConntrackQuery, engine: Engine, now: Timestamp) -> String {
        if query.json {
            // `-o json` (only -L takes it): the entries as the Lab library's records.
            if query.table == .expect {
                return ControlResponder.json(engine.conntrack.expectations(matching: query.filter, now: now)
                    .map { ExpectationRecord($0, now: now) })
            }
            return ControlResponder.json(engine.conntrack.positions(matching: query.filter, now: now)
                .sorted { engine.conntrack.table[$0].id < engine.conntrack.table[$1].id }
                .map { ConntrackRecord(engine.conntrack.table[$0], now: now) })
        }
        let lines: [String]
        switch (query.command, query.table) {
        case (.list, .conntrack):
            lines = engine.conntrack.listing(matching: query.filter, now: now)
        case (.list, .expect):
            lines = engine.conntrack.expectations(matching: query.filter, now: now).map { $0.conntrackLine(now: now) }
        case (.count, .conntrack):
            lines = ["\(engine.conntrack.positions(matching: ConntrackFilter(), now: now).count)"]
        case (.count, .expect):
            lines = ["\(engine.conntrack.expectations(matching: ConntrackFilter(), now: now).count)"]
        case (.delete, .conntrack), (.flush, .conntrack):
            lines = engine.deleteConnections(matching: query.filter, now: now).map { $0.conntrackLine(now: now) }
        case (.delete, .expect), (.flush, .expect):
            lines = engine.conntrack.deleteExpectations(matching: query.filter, now: now).map { $0.conntrackLine(now: now) }
        case (.update, _):
            lines = engine.updateConnections(matching: query.filter, mark: query.newMark, timeout: query.newTimeout, now: now)
                .map { $0.conntrackLine(now: now) }
        case (.stats, .conntrack):
            lines = [engine.conntrack.statisticsLine()]
        case (.stats, .expect):
            lines = [engine.conntrack.expectationStatisticsLine()]
        case (.events, _):
            lines = []  // a stream: ControlResponder subscribes the client
        }
        return lines.map { $0 + "\n" }.joined()
    }
}

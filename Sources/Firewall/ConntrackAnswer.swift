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
    /// With several workers, every shard answers and the answers are put
    /// together (the caller has the other workers parked): lines one after
    /// another, counts added, `-S` one `cpu=` line per worker as Linux
    /// prints one per CPU, JSON records in one array ordered by id.
    static func answer(_ query: ConntrackQuery, engines: [Engine], now: Timestamp) -> String {
        if query.json {
            if query.table == .expect {
                return ControlResponder.json(engines.flatMap { engine in
                    engine.conntrack.expectations(matching: query.filter, now: now).map { ExpectationRecord($0, now: now) }
                })
            }
            return ControlResponder.json(engines.flatMap { engine in
                engine.conntrack.positions(matching: query.filter, now: now).map { (engine.conntrack.table[$0].id, $0, engine) }
            }.sorted { $0.0 < $1.0 }.map { ConntrackRecord($0.2.conntrack.table[$0.1], now: now) })
        }
        if query.command == .count {
            var total = 0
            for engine in engines {
                total += query.table == .expect
                    ? engine.conntrack.expectations(matching: ConntrackFilter(), now: now).count
                    : engine.conntrack.positions(matching: ConntrackFilter(), now: now).count
            }
            return "\(total)\n"
        }
        return engines.map { answer(query, engine: $0, now: now) }.joined()
    }

    static func answer(_ query: ConntrackQuery, engine: Engine, now: Timestamp) -> String {
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

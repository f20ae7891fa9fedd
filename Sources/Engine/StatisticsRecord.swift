// `tunwall stats --json` and the Lab library's `statistics()`: the counters
// of StatisticsReport.swift as one Codable value. Drops, conntrack's invalid
// reasons and helper counters are keyed by the names `tunwall stats` prints
// ("rule-drop", "TCP segment outside the window", "PORT/EPRT parsed"), zero
// counts left out as there.
//
//   {"forwarded":1021,"deliveredLocally":2,"generated":3,
//    "interfaces":[{"name":"lan0","receivedPackets":512,...}],
//    "conntrack":{"entries":4,"capacity":65536,...},"drops":{"rule-drop":7},...}

import Conntrack

public struct StatisticsRecord: Codable, Sendable, Equatable {
    public struct Interface: Codable, Sendable, Equatable {
        public var name: String
        public var receivedPackets: UInt64
        public var receivedBytes: UInt64
        public var sentPackets: UInt64
        public var sentBytes: UInt64
    }

    public struct ConntrackTable: Codable, Sendable, Equatable {
        public var entries: Int
        public var capacity: Int
        public var evicted: UInt64
        public var tableBytes: Int
        public var helperBytes: Int
        public var helperSessions: Int
    }

    public struct Reassembly: Codable, Sendable, Equatable {
        public var datagramsWaiting: Int
        public var bytesHeld: Int
        public var peakBytes: Int
    }

    public var interfaces: [Interface]
    public var forwarded: UInt64
    public var deliveredLocally: UInt64
    public var generated: UInt64
    public var held: UInt64
    public var resentForReceiver: UInt64
    public var natReclaimed: UInt64
    public var conntrack: ConntrackTable
    public var reassembly: Reassembly
    /// Drop reason (as `tunwall stats` names it) → packets dropped.
    public var drops: [String: UInt64]
    /// conntrack's reason → packets it called invalid.
    public var invalid: [String: UInt64]
    /// Helper ("ftp", "tftp") → its counter → count.
    public var helpers: [String: [String: UInt64]]

    public var totalDrops: UInt64 { drops.values.reduce(0, +) }
}

extension Engine {
    public func statisticsRecord(now: Timestamp) -> StatisticsRecord {
        var helperCounts: [String: [String: UInt64]] = [:]
        for kind in HelperKind.allCases {
            guard let names = HelperRegistry.type(kind)?.counters else { continue }
            var counts: [String: UInt64] = [:]
            for (index, name) in names.enumerated() where statistics.helperCount(kind, index) > 0 {
                counts[name] = statistics.helperCount(kind, index)
            }
            if !counts.isEmpty { helperCounts["\(kind)"] = counts }
        }
        var drops: [String: UInt64] = [:]
        for reason in DropReason.allCases where statistics.dropCount(reason) > 0 {
            drops[reason.description] = statistics.dropCount(reason)
        }
        var invalid: [String: UInt64] = [:]
        for reason in InvalidReason.allCases where conntrack.invalidCounts[reason.rawValue] > 0 {
            invalid[reason.description] = conntrack.invalidCounts[reason.rawValue]
        }
        return StatisticsRecord(
            interfaces: interfaces.enumerated().map { id, interface in
                let c = statistics.interfaces[id]
                return .init(name: interface.name, receivedPackets: c.receivedPackets, receivedBytes: c.receivedBytes,
                             sentPackets: c.sentPackets, sentBytes: c.sentBytes)
            },
            forwarded: statistics.forwarded, deliveredLocally: statistics.deliveredLocally,
            generated: statistics.generated, held: statistics.held, resentForReceiver: statistics.resentForReceiver,
            natReclaimed: statistics.natReclaimed,
            conntrack: .init(entries: conntrack.table.count, capacity: conntrack.table.capacity,
                             evicted: conntrack.table.evicted, tableBytes: conntrack.table.memoryBytes,
                             helperBytes: helperMemoryBytes, helperSessions: helpers.count),
            reassembly: .init(datagramsWaiting: reassembly.queues.count, bytesHeld: reassembly.memory,
                              peakBytes: reassembly.peakMemory),
            drops: drops, invalid: invalid, helpers: helperCounts)
    }
}

extension StatisticsRecord {
    /// Several workers' records as one (`tunwall stats --json` with
    /// `"workers": N`): every count summed; the capacity is the configured
    /// maximum, which each shard has.
    public static func merged(_ records: [StatisticsRecord]) -> StatisticsRecord? {
        guard var total = records.first else { return nil }
        func add(_ into: inout [String: UInt64], _ other: [String: UInt64]) {
            for (key, value) in other { into[key, default: 0] &+= value }
        }
        for other in records.dropFirst() {
            for index in total.interfaces.indices where index < other.interfaces.count {
                total.interfaces[index].receivedPackets &+= other.interfaces[index].receivedPackets
                total.interfaces[index].receivedBytes &+= other.interfaces[index].receivedBytes
                total.interfaces[index].sentPackets &+= other.interfaces[index].sentPackets
                total.interfaces[index].sentBytes &+= other.interfaces[index].sentBytes
            }
            total.forwarded &+= other.forwarded
            total.deliveredLocally &+= other.deliveredLocally
            total.generated &+= other.generated
            total.held &+= other.held
            total.resentForReceiver &+= other.resentForReceiver
            total.natReclaimed &+= other.natReclaimed
            total.conntrack.entries += other.conntrack.entries
            total.conntrack.evicted &+= other.conntrack.evicted
            total.conntrack.tableBytes += other.conntrack.tableBytes
            total.conntrack.helperBytes += other.conntrack.helperBytes
            total.conntrack.helperSessions += other.conntrack.helperSessions
            total.reassembly.datagramsWaiting += other.reassembly.datagramsWaiting
            total.reassembly.bytesHeld += other.reassembly.bytesHeld
            total.reassembly.peakBytes = max(total.reassembly.peakBytes, other.reassembly.peakBytes)  // each shard's own share
            add(&total.drops, other.drops)
            add(&total.invalid, other.invalid)
            for (helper, counts) in other.helpers { add(&total.helpers[helper, default: [:]], counts) }
        }
        return total
    }
}

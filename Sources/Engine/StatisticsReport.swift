// `tunwall stats`: the counters as a person reads them, every drop reason with
// its count and what it means (zero counts left out, so what happened stands out).

import Conntrack

extension Engine {
    /// `others`: with several workers, the other shards, whose counters are
    /// added to this one's (the caller has them parked: WorkerGroup).
    public func statisticsReport(now: Timestamp, merging others: [Engine] = []) -> String {
        let all = [self] + others
        var statistics = self.statistics
        for other in others { statistics.add(other.statistics) }
        let entries = all.reduce(0) { $0 + $1.conntrack.table.count }
        let evicted = all.reduce(UInt64(0)) { $0 &+ $1.conntrack.table.evicted }
        let tableMemory = all.reduce(0) { $0 + $1.conntrack.table.memoryBytes }
        let helperMemory = all.reduce(0) { $0 + $1.helperMemoryBytes }
        let sessions = all.reduce(0) { $0 + $1.helpers.count }
        let waiting = all.reduce(0) { $0 + $1.reassembly.queues.count }
        let held = all.reduce(0) { $0 + $1.reassembly.memory }
        // Each shard has its share of the limits (SteeringStage.swift): the
        // busiest shard's peak is what its share bounds.
        let peak = all.reduce(0) { max($0, $1.reassembly.peakMemory) }
        var invalidCounts = conntrack.invalidCounts
        for other in others {
            for index in invalidCounts.indices where index < other.conntrack.invalidCounts.count {
                invalidCounts[index] &+= other.conntrack.invalidCounts[index]
            }
        }
        var lines: [String] = []
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        func right(_ value: UInt64, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
        }
        lines.append(pad("interface", 12) + "   rx packets     rx bytes   tx packets     tx bytes")
        for (id, interface) in interfaces.enumerated() {
            let c = statistics.interfaces[id]
            lines.append(pad(interface.name, 12) + right(c.receivedPackets, 13) + right(c.receivedBytes, 13)
                         + right(c.sentPackets, 13) + right(c.sentBytes, 13))
        }
        lines.append("")
        lines.append("forwarded          \(statistics.forwarded)")
        lines.append("delivered locally  \(statistics.deliveredLocally)")
        lines.append("generated          \(statistics.generated)")
        if statistics.held > 0 || statistics.resentForReceiver > 0 {
            lines.append("held by helpers    \(statistics.held) (sent again for their receiver: \(statistics.resentForReceiver))")
        }
        if statistics.natReclaimed > 0 {
            lines.append("nat-reclaimed      \(statistics.natReclaimed) (mappings taken back from connections that never got a reply)")
        }
        if others.count > 0 {
            lines.append("workers            \(all.count) (handed off to their owner: \(statistics.handedOff))")
        }
        lines.append("conntrack entries  \(entries) of \(conntrack.table.capacity) (evicted \(evicted))")
        lines.append("conntrack memory   \(kibibytes(tableMemory)) table (\(FlowTable.entryBytes) bytes an entry), "
                     + "\(kibibytes(helperMemory)) in \(sessions) helper sessions")
        lines.append("reassembly         \(waiting) datagrams waiting, \(kibibytes(held)) held "
                     + "(peak \(kibibytes(peak)); limit \(kibibytes(reassembly.limits.highThreshold)), "
                     + "evicting to \(kibibytes(reassembly.limits.lowThreshold))"
                     + (others.isEmpty ? ")" : " in each of \(all.count) workers)"))
        lines.append("")
        lines.append("drops (\(statistics.totalDrops)):")
        for reason in DropReason.allCases where statistics.dropCount(reason) > 0 {
            lines.append("  " + pad(reason.description, 28) + right(statistics.dropCount(reason), 10) + "  " + reason.explanation)
        }
        for kind in HelperKind.allCases {
            guard let names = HelperRegistry.type(kind)?.counters,
                  names.indices.contains(where: { statistics.helperCount(kind, $0) > 0 }) else { continue }
            let expecting = all.reduce(0) { total, engine in
                total + engine.conntrack.expectations.all.filter { $0.helper == kind && engine.conntrack.isAlive($0, now: now) }.count
            }
            lines.append("")
            lines.append("\(kind) helper (expectations now: \(expecting)):")
            for (index, name) in names.enumerated() where statistics.helperCount(kind, index) > 0 {
                lines.append("  " + pad(name, 58) + right(statistics.helperCount(kind, index), 10))
            }
        }
        lines.append(contentsOf: impairmentReport())
        let invalid = InvalidReason.allCases.filter { invalidCounts[$0.rawValue] > 0 }
        lines.append("")
        lines.append("conntrack invalid (\(invalid.reduce(0) { $0 + invalidCounts[$1.rawValue] })):")
        for reason in invalid {
            lines.append("  " + pad(reason.description, 52) + right(invalidCounts[reason.rawValue], 10))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What the helpers of live connections hold (ConnectionHelper.memoryFootprint, plus the engine's slot).
    public var helperMemoryBytes: Int {
        helpers.values.reduce(0) { total, slot in
            total + slot.helper.memoryFootprint + 64 + (slot.heldTemplate.compactMap { $0?.capacity }.reduce(0, +))
                + (slot.owed.compactMap { $0?.bytes?.capacity }.reduce(0, +))
        }
    }

    private func kibibytes(_ bytes: Int) -> String {
        bytes < 10 * 1024 ? "\(bytes) B" : "\(bytes / 1024) KiB"
    }
}

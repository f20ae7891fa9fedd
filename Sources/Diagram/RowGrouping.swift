// Which packets get a row of their own and which are drawn together. A data
// connection can carry thousands of packets; what matters about them is that
// they flow, so a run of consecutive packets of one connection that is not a
// helper's, forwarded with nothing but "established, accepted, translated" to
// say (a data connection's "data connection of MASTER" included), becomes one row per direction: "× N packets (B bytes)". Everything
// else (the first packet of a connection, FTP commands and replies, drops,
// held or generated packets) keeps its own row.

import TraceFormat

/// One row of the ladder: one packet, or several of one direction.
struct DisplayRow {
    /// Indices into the trace's packets, in trace order.
    var packets: [Int]
    var collapsed: Bool { packets.count > 1 }
}

enum RowGrouping {
    /// Runs shorter than this are drawn packet by packet.
    static let minimumRun = 3

    static func rows(_ trace: Trace, connections: Connections, collapse: Bool) -> [DisplayRow] {
        let packets = trace.packets
        guard collapse else { return packets.indices.map { DisplayRow(packets: [$0]) } }
        var rows: [DisplayRow] = []
        var run: [Int] = []
        func flush() {
            defer { run = [] }
            guard run.count >= minimumRun else {
                rows += run.map { DisplayRow(packets: [$0]) }
                return
            }
            var order: [String] = []
            var byDirection: [String: [Int]] = [:]
            for i in run {
                let key = direction(packets[i])
                if byDirection[key] == nil { order.append(key) }
                byDirection[key, default: []].append(i)
            }
            rows += order.map { DisplayRow(packets: byDirection[$0]!) }
        }
        for (i, p) in packets.enumerated() {
            if isPlain(p) && !connections.helper.contains(connections.ids[i]) {
                if let last = run.last, connections.ids[last] != connections.ids[i] { flush() }
                run.append(i)
            } else {
                flush()
                rows.append(DisplayRow(packets: [i]))
            }
        }
        flush()
        return rows
    }

    /// The interfaces and the addresses as the packet arrived.
    static func direction(_ p: TracePacket) -> String {
        let a = p.packet
        return "\(p.inInterface ?? "-") \(p.outInterface ?? "-") \(a.proto) \(a.src) \(a.sport ?? -1) \(a.dst) \(a.dport ?? -1)"
    }

    /// Forwarded as part of an established connection, with nothing to show
    /// but that.
    static func isPlain(_ p: TracePacket) -> Bool {
        guard p.origin == .received, p.verdict == .forward, p.packet.text == nil, p.sent?.text == nil else { return false }
        return p.steps.allSatisfy { step in
            switch step.kind {
            // A data connection's packets carry `master` on every one (the
            // engine names the control connection each time, as conntrack
            // keeps `master` for the entry's life); that is no reason to
            // draw them one by one. Its first packet is `related`, not
            // `established`, so it keeps a row of its own.
            case "conntrack": return step.state == "established"
            case "rule": return step.verdict == "accept"
            case "nat": return true
            default: return false
            }
        }
    }
}

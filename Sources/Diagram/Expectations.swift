// The expectations the FTP helper made, from the packet whose `ftp` step
// announced one (`event: expect`) to the first later packet that conntrack
// calls `related` with a master and whose destination, as it arrived, is the
// one expected (and whose source is, when the expectation names it).

import TraceFormat

struct ExpectationSpan {
    /// Index of the packet that made it, and of the one that used it (nil: never used).
    var from: Int
    var to: Int?
    var expectation: TraceExpectation
    /// Which vertical track beside the firewall's lifeline it is drawn on.
    var track = 0

    var label: String {
        let e = expectation
        let src = (e.src?.isEmpty == false && e.src != "*") ? e.src! : "*"
        var text = "expect \(src) → \(Self.endpoint(e.dst, e.dport))"
        if let to = e.to, to != Self.endpoint(e.dst, e.dport) && to != "\(e.dst):\(e.dport)" { text += " (for \(to))" }
        return text
    }

    static func endpoint(_ address: String, _ port: Int) -> String {
        address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

enum Expectations {
    static func spans(_ packets: [TracePacket]) -> [ExpectationSpan] {
        var spans: [ExpectationSpan] = []
        var used: Set<Int> = []
        for (i, p) in packets.enumerated() {
            for step in p.steps where step.isHelper && step.event == "expect" {
                guard let e = step.expectation else { continue }
                var span = ExpectationSpan(from: i, to: nil, expectation: e)
                for j in packets.indices.dropFirst(i + 1) where !used.contains(j) && matches(e, packets[j]) {
                    span.to = j
                    used.insert(j)
                    break
                }
                spans.append(span)
            }
        }
        assignTracks(&spans, end: packets.count)
        return spans
    }

    static func matches(_ e: TraceExpectation, _ p: TracePacket) -> Bool {
        guard p.steps.contains(where: { $0.kind == "conntrack" && $0.state == "related" && $0.master != nil }) else {
            return false
        }
        guard p.packet.dst == e.dst, p.packet.dport == e.dport else { return false }
        if let src = e.src, !src.isEmpty, src != "*", p.packet.src != src { return false }
        return true
    }

    /// Spans that overlap in time get different tracks, the lowest free one.
    static func assignTracks(_ spans: inout [ExpectationSpan], end: Int) {
        var busyUntil: [Int] = []
        for k in spans.indices {
            let last = spans[k].to ?? end
            if let free = busyUntil.firstIndex(where: { $0 < spans[k].from }) {
                spans[k].track = free
                busyUntil[free] = last
            } else {
                spans[k].track = busyUntil.count
                busyUntil.append(last)
            }
        }
    }
}

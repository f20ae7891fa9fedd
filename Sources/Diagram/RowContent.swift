// What one row says, before it is placed: the two halves of the arrow (into
// the firewall as the sender saw the packet, out of it as the receiver sees
// it), how the packet ended at the firewall, and the notes under the arrow.

import TraceFormat

enum NoteKind {
    case plain, related, expectation, rewrite, warning
}

struct Note {
    var text: String
    var kind: NoteKind
}

/// One half of an arrow, between a host lane and the firewall's.
struct Half {
    var lane: Int
    /// Towards the firewall (the packet as it arrived), or away from it.
    var inbound: Bool
    var head: String
    var detail: String
    var payload: [String]
    /// "× N packets (B bytes)" for a collapsed row.
    var count: String?
}

enum StartMark { case none, generated, released }
enum EndMark { case none, drop, held, consumed }

struct RowContent {
    var packets: [Int]
    var numbers: [Int]
    var firstTime: Double
    var incoming: Half?
    var outgoing: Half?
    var start: StartMark = .none
    var end: EndMark = .none
    var endLabel = ""
    var notes: [Note] = []
    var colour: String
    var hasPayload: Bool
    var tooltip: String
    /// One tooltip per packet, for collapsed rows.
    var packetTooltips: [(n: Int, text: String)] = []
    var collapsed: Bool { packets.count > 1 }
}

enum RowContentBuilder {
    static func build(_ row: DisplayRow, trace: Trace, lanes: Lanes, connections: Connections,
                      createdBy: [Int: Int]) -> RowContent {
        let packets = row.packets.map { trace.packets[$0] }
        let p = packets[0]
        var content = RowContent(packets: row.packets, numbers: packets.map(\.n), firstTime: p.t,
                                 colour: Style.connectionColour(connections.ids[row.packets[0]]),
                                 hasPayload: p.packet.text != nil || p.sent?.text != nil, tooltip: "")
        if p.origin == .received, let lane = lanes.lane(interface: p.inInterface, address: p.packet.src) {
            content.incoming = half(p.packet, lane: lane, inbound: true)
        }
        if p.verdict == .forward, let sent = p.sent, let lane = lanes.lane(interface: p.outInterface, address: sent.dst) {
            content.outgoing = half(sent, lane: lane, inbound: false)
        }
        content.start = p.origin == .generated ? .generated : p.origin == .released ? .released : .none
        if row.collapsed {
            let inBytes = packets.reduce(0) { $0 + $1.packet.length }
            let outBytes = packets.reduce(0) { $0 + ($1.sent?.length ?? 0) }
            content.incoming?.count = count(packets.count, inBytes)
            content.outgoing?.count = count(packets.count, outBytes)
            let last = packets[packets.count - 1]
            content.tooltip = "#\(p.n)–#\(last.n): \(packets.count) packets, t \(TextMetrics.seconds(p.t))–\(TextMetrics.seconds(last.t))"
            content.packetTooltips = packets.map { ($0.n, tooltip($0)) }
            return content
        }
        content.tooltip = tooltip(p)
        switch p.verdict {
        case .forward:
            break
        case .drop:
            content.end = .drop
            var label = "✗ dropped: \(p.reason ?? p.steps.last(where: { $0.kind == "drop" })?.reason ?? "?")"
            if let rule = p.steps.last(where: { $0.kind == "rule" && ($0.verdict == "drop" || $0.verdict == "reject") }),
               let location = rule.location {
                label += " (\(location))"
            }
            content.endLabel = label
        case .held:
            content.end = .held
            content.endLabel = "held" + (p.steps.last(where: { $0.isHelper && $0.event == "held" }).map { ": \($0.text)" } ?? "")
        case .consumed:
            content.end = .consumed
            content.endLabel = "consumed by the firewall"
        }
        content.notes = notes(p, createdBy: createdBy[row.packets[0]])
        return content
    }

    static func half(_ info: PacketInfo, lane: Int, inbound: Bool) -> Half {
        let (head, detail) = split(info.summary)
        return Half(lane: lane, inbound: inbound, head: head, detail: detail,
                    payload: info.text.map(TextMetrics.payloadLines) ?? [])
    }

    /// "IP a.p > b.q: Flags [S], …" as "IP a.p > b.q" and "Flags [S], …".
    static func split(_ summary: String) -> (String, String) {
        let clean = TextMetrics.printable(summary)
        guard let colon = clean.range(of: ": ") else { return (clean, "") }
        return (String(clean[..<colon.lowerBound]), String(clean[colon.upperBound...]))
    }

    static func count(_ packets: Int, _ bytes: Int) -> String {
        "× \(TextMetrics.grouped(packets)) packets (\(TextMetrics.grouped(bytes)) bytes)"
    }

    /// What the reader should notice about the packet, in step order.
    static func notes(_ p: TracePacket, createdBy: Int?) -> [Note] {
        var notes: [Note] = []
        let starts = p.steps.contains { $0.kind == "conntrack" && ($0.state == "new" || $0.state == "related") }
        for step in p.steps {
            // Every helper's steps are drawn as FTP's are.
            switch (step.isHelper ? "ftp" : step.kind, step.state ?? step.event ?? step.verdict ?? "") {
            case ("conntrack", "new"):
                notes.append(Note(text: "ct new", kind: .plain))
            case ("conntrack", "related"):
                var text = "ct related"
                if let n = createdBy { text += ": expected since #\(n)" }
                if let master = step.master { text += " (master \(master))" }
                notes.append(Note(text: text, kind: .related))
            case ("conntrack", "invalid"), ("conntrack", "untracked"):
                notes.append(Note(text: "ct \(step.text)", kind: .warning))
            case ("nat", _) where starts:
                notes.append(Note(text: "nat \(step.text)", kind: .plain))
            case ("rule", "reject"):
                notes.append(Note(text: "rule: \(step.text)", kind: .warning))
            case ("ftp", "rewrite"):
                notes.append(Note(text: "\(step.line ?? "?") ⇒ \(step.rewritten ?? "?")", kind: .rewrite))
            case ("ftp", "expect"):
                if let e = step.expectation {
                    notes.append(Note(text: ExpectationSpan(from: 0, expectation: e).label, kind: .expectation))
                }
            case ("ftp", "parsed"), ("ftp", "related"), ("ftp", "held"):
                break
            case ("ftp", _):
                notes.append(Note(text: "\(step.kind): \(step.text)", kind: .warning))
            default:
                break
            }
        }
        return notes.map { Note(text: TextMetrics.printable($0.text), kind: $0.kind) }
    }

    /// The packet and its steps, for a tooltip.
    static func tooltip(_ p: TracePacket) -> String {
        var lines = ["#\(p.n) t=\(TextMetrics.seconds(p.t)) \(p.origin.rawValue)\(p.inInterface.map { " on \($0)" } ?? "")",
                     p.packet.summary]
        lines += p.steps.map { "  \($0.kind): \($0.text)" }
        switch p.verdict {
        case .forward: lines.append("-> \(p.outInterface ?? "?") \(p.sent?.summary ?? "")")
        case .drop: lines.append("dropped: \(p.reason ?? "?")")
        case .held: lines.append("held")
        case .consumed: lines.append("consumed")
        }
        return lines.map(TextMetrics.printable).joined(separator: "\n")
    }
}

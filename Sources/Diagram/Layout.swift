// Where everything goes: lane positions, the lane headers, each row's height
// and arrow, the expectation tracks, the picture's size. Widths are computed
// from the text with a monospace advance, so nothing needs a font at run time.

import TraceFormat

enum LabelKind { case head, detail, payload, count }

struct LabelLine {
    var text: String
    var kind: LabelKind

    var size: Double {
        switch kind {
        case .head, .count: return Style.headSize
        case .detail: return Style.detailSize
        case .payload: return Style.ftpSize
        }
    }

    var height: Double {
        switch kind {
        case .head, .count: return Style.headLine
        case .detail: return Style.detailLine
        case .payload: return Style.ftpLine
        }
    }
}

struct PlacedRow {
    var content: RowContent
    var top: Double
    var height: Double
    var arrowY: Double
    var incomingLines: [LabelLine]
    var outgoingLines: [LabelLine]
}

struct Layout {
    var lanes: Lanes
    var laneX: [Double]
    var gap: Double
    var width: Double
    var height: Double
    var headerTop: Double
    var headerHeight: Double
    var hostBoxWidth: [Double]
    var rowsTop: Double
    var rowsBottom: Double
    var rows: [PlacedRow]
    var spans: [ExpectationSpan]
    var notesX: Double
    var legendTop: Double
    var legend: [LegendItem]

    var firewallX: Double { laneX[lanes.firewall] }

    func trackX(_ track: Int) -> Double {
        firewallX + Style.firewallColumn / 2 + 7 + Double(track) * Style.trackSpacing
    }

    /// Lines of the lane header box: the name, then addresses (the firewall's
    /// box has its interfaces instead, drawn in two columns).
    static func headerLines(_ lane: Lane) -> [String] {
        [lane.name] + lane.addresses
    }

    static func interfaceLines(_ interfaces: [TraceInterface]) -> [String] {
        interfaces.flatMap { [$0.name] + $0.addresses }
    }

    init(trace: Trace, lanes: Lanes, contents: [RowContent], spans: [ExpectationSpan]) {
        self.lanes = lanes
        self.spans = spans

        // Horizontal: the gap between neighbouring lanes fits the widest
        // address line; the rest of a summary and payload lines wrap to it.
        var need = 0.0
        for c in contents {
            for half in [c.incoming, c.outgoing].compactMap({ $0 }) {
                let span = Double(max(1, abs(half.lane - lanes.firewall)))
                let widest = max(TextMetrics.width(half.head, size: Style.headSize),
                                 half.count.map { TextMetrics.width($0, size: Style.headSize) } ?? 0)
                need = max(need, widest / span + 40)
            }
        }
        let leftInterfaces = Layout.interfaceLines(lanes.leftInterfaces)
        let rightInterfaces = Layout.interfaceLines(lanes.rightInterfaces)
        let columnWidth = (leftInterfaces + rightInterfaces).map { TextMetrics.width($0, size: Style.noteSize) }.max() ?? 0
        let firewallBox = max(2 * columnWidth + 36, TextMetrics.width("firewall", size: 13) + 24)
        let boxes = lanes.lanes.map { lane in
            lane.isFirewall ? firewallBox
                : (Layout.headerLines(lane).map { TextMetrics.width($0, size: 12) }.max() ?? 0) + 24
        }
        hostBoxWidth = boxes
        let gap = min(Style.maximumGap, max(Style.minimumGap, need, firewallBox + 40))
        self.gap = gap
        let firstX = Style.margin + Style.numberColumn + max(boxes[0] / 2, 60)
        let xs = lanes.lanes.indices.map { firstX + Double($0) * gap }
        laneX = xs

        // Vertical: title, lane headers, then the rows one under the other.
        headerTop = Style.margin + 42
        let headerLineCount = lanes.lanes.map { lane in
            lane.isFirewall ? 1 + max(leftInterfaces.count, rightInterfaces.count) : Layout.headerLines(lane).count
        }.max() ?? 1
        headerHeight = 14 + Double(headerLineCount) * 15
        rowsTop = headerTop + headerHeight + 12
        var y = rowsTop
        var placed: [PlacedRow] = []
        var right = (xs.last ?? 0) + (boxes.last ?? 0) / 2
        let tracks = (spans.map(\.track).max() ?? -1) + 1
        let notesX = xs[lanes.firewall] + Style.firewallColumn / 2 + 7 + Double(tracks) * Style.trackSpacing + 10
        for c in contents {
            let incoming = c.incoming.map { Layout.lines($0, lanes: lanes, gap: gap) } ?? []
            let outgoing = c.outgoing.map { Layout.lines($0, lanes: lanes, gap: gap) } ?? []
            func blockHeight(_ lines: [LabelLine]) -> Double { lines.reduce(0) { $0 + $1.height } }
            let above = max(blockHeight(incoming), blockHeight(outgoing), Style.headLine)
            let arrowY = y + Style.rowPadding + above + 4
            let below = 8 + Double(c.notes.count) * Style.noteLine
            let height = Style.rowPadding + above + 4 + below + Style.rowPadding - 4
            placed.append(PlacedRow(content: c, top: y, height: height, arrowY: arrowY,
                                    incomingLines: incoming, outgoingLines: outgoing))
            for note in c.notes {
                right = max(right, notesX + TextMetrics.width(note.text, size: Style.noteSize) + 10)
            }
            if c.end != .none {
                right = max(right, notesX + TextMetrics.width(c.endLabel, size: Style.noteSize) + 10)
            }
            y += height
        }
        self.notesX = notesX
        rows = placed
        rowsBottom = y + 6
        let width = (right + Style.margin).rounded(.up)
        self.width = width
        let legendTop = y + 6 + 34
        self.legendTop = legendTop
        let legend = Legend.items(width: width)
        self.legend = legend
        let legendRows = (legend.map(\.row).max() ?? 0) + 1
        height = (legendTop + 26 + Double(legendRows) * Legend.rowHeight + Style.margin).rounded(.up)
    }

    /// A half's label, bottom line just above the arrow: addresses, the rest
    /// of the summary wrapped to the half's width, the payload lines.
    static func lines(_ half: Half, lanes: Lanes, gap: Double) -> [LabelLine] {
        let spanWidth = Double(max(1, abs(half.lane - lanes.firewall))) * gap - 22
        let headChars = TextMetrics.chars(fitting: spanWidth, size: Style.headSize)
        var lines = [LabelLine(text: TextMetrics.truncate(half.head, to: headChars), kind: .head)]
        if let count = half.count {
            lines.append(LabelLine(text: TextMetrics.truncate(count, to: headChars), kind: .count))
            return lines
        }
        if !half.detail.isEmpty {
            let chars = TextMetrics.chars(fitting: spanWidth, size: Style.detailSize)
            lines += TextMetrics.wrap(half.detail, to: chars, maxLines: 2).map { LabelLine(text: $0, kind: .detail) }
        }
        let payloadChars = TextMetrics.chars(fitting: spanWidth, size: Style.ftpSize)
        // Up to three lines of payload; a long line wraps once at a space.
        var payload: [String] = []
        for (i, line) in half.payload.enumerated() where payload.count < 3 {
            let room = half.payload.count - i == 1 ? 3 - payload.count : 1
            payload += TextMetrics.wrap(line, to: payloadChars, maxLines: min(2, room), separator: " ")
        }
        var shown = Array(payload.prefix(3))
        if half.payload.count > 3 || payload.count > 3 {
            shown = Array(shown.prefix(2)) + ["…"]
        }
        lines += shown.map { LabelLine(text: $0, kind: .payload) }
        return lines
    }
}

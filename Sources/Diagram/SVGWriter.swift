// Draws a laid-out trace as SVG: title, lane headers, lifelines and the
// firewall's column, expectation brackets, then one group per row (arrows,
// marks, labels, notes), then the legend. Every packet of the trace is in the
// file with its number: a row's `data-n`, or for collapsed rows one `data-n`
// group per packet, each with a `<title>` (the tooltip) narrating it.

import TraceFormat

struct SVGWriter {
    let layout: Layout
    let title: String
    let subtitle: String
    /// Rows link to `#pN` (the HTML page's table); off for a plain SVG file.
    let linkRows: Bool

    static let css = """
    text{font-family:\(Style.fontFamily);fill:\(Style.ink)}
    .title{font-size:\(Style.titleSize)px;font-weight:bold}
    .sub{font-size:11px;fill:\(Style.muted)}
    .lane{font-size:13px;font-weight:bold}
    .addr{font-size:11px;fill:\(Style.muted)}
    .ifname{font-size:11px;font-weight:bold}
    .head{font-size:\(Style.headSize)px}
    .detail{font-size:\(Style.detailSize)px;fill:#546e7a}
    .payload{font-size:\(Style.ftpSize)px;font-weight:bold;fill:\(Style.ftpInk)}
    .count{font-size:\(Style.headSize)px;font-weight:bold}
    .note{font-size:\(Style.noteSize)px;fill:\(Style.muted)}
    .note-related,.note-expectation{font-size:\(Style.noteSize)px;fill:\(Style.expectation);font-weight:bold}
    .note-rewrite{font-size:\(Style.noteSize)px;fill:\(Style.rewriteInk);font-weight:bold}
    .note-warning{font-size:\(Style.noteSize)px;fill:\(Style.held);font-weight:bold}
    .end-drop{font-size:\(Style.noteSize)px;font-weight:bold;fill:\(Style.drop)}
    .end-held{font-size:\(Style.noteSize)px;font-weight:bold;fill:\(Style.held)}
    .end-consumed{font-size:\(Style.noteSize)px;font-weight:bold;fill:\(Style.consumed)}
    .num{font-size:12px;font-weight:bold}
    .time{font-size:10px;fill:\(Style.muted)}
    .halo{paint-order:stroke;stroke:#ffffff;stroke-width:3px;stroke-linejoin:round}
    .hit{fill:#ffffff;fill-opacity:0}
    .row:hover .hit{fill:#2196f3;fill-opacity:0.08}
    """

    func write(xmlDeclaration: Bool) -> String {
        let l = layout
        var svg = SVGBuilder()
        if xmlDeclaration { svg.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") }
        let w = SVGBuilder.number(l.width), h = SVGBuilder.number(l.height)
        svg.raw("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" font-family=\"\(Style.fontFamily)\">\n")
        svg.element("title", [:], text: title)
        svg.raw("<style>\n\(SVGWriter.css)\n</style>\n")
        svg.rect(0, 0, l.width, l.height, fill: "#ffffff")
        svg.text(Style.margin, Style.margin + 12, title, cls: "title")
        svg.text(Style.margin, Style.margin + 28, subtitle, cls: "sub")
        drawBands(&svg)
        drawLanes(&svg)
        drawExpectations(&svg)
        for (i, row) in l.rows.enumerated() { drawRow(&svg, row, index: i) }
        Legend.draw(&svg, items: l.legend, top: l.legendTop, width: l.width)
        svg.raw("</svg>\n")
        return svg.out
    }

    /// Stripes under every other row; rows with FTP text in cream.
    private func drawBands(_ svg: inout SVGBuilder) {
        svg.open("g", ["class": "bands"])
        for (i, row) in layout.rows.enumerated() {
            let fill = row.content.hasPayload ? (i % 2 == 1 ? Style.ftpStripe : Style.ftpBand) : (i % 2 == 1 ? Style.stripe : nil)
            if let fill { svg.rect(Style.margin, row.top, layout.width - 2 * Style.margin, row.height, fill: fill) }
        }
        svg.close("g")
    }

    private func drawLanes(_ svg: inout SVGBuilder) {
        let l = layout
        let top = l.headerTop, bottom = l.headerTop + l.headerHeight
        svg.open("g", ["class": "lanes"])
        for (i, lane) in l.lanes.lanes.enumerated() {
            let x = l.laneX[i], w = l.hostBoxWidth[i]
            svg.open("g", ["class": lane.isFirewall ? "lane firewall" : "lane host", "data-lane": lane.name])
            let boxHeight = lane.isFirewall ? l.headerHeight : 14 + Double(Layout.headerLines(lane).count) * 15
            svg.rect(x - w / 2, top, w, boxHeight, fill: lane.isFirewall ? "#e8eaf6" : "#f5f7f9",
                     stroke: lane.isFirewall ? "#7986cb" : Style.lifeline, radius: 6)
            svg.text(x, top + 19, lane.name, cls: "lane", anchor: "middle")
            if lane.isFirewall {
                column(&svg, l.lanes.leftInterfaces, x: x - 10, y: top + 36, anchor: "end")
                column(&svg, l.lanes.rightInterfaces, x: x + 10, y: top + 36, anchor: "start")
                svg.rect(x - Style.firewallColumn / 2, bottom, Style.firewallColumn, l.rowsBottom - bottom,
                         fill: Style.firewallFill, stroke: "#9fa8da")
            } else {
                for (k, address) in lane.addresses.enumerated() {
                    svg.text(x, top + 36 + Double(k) * 15, address, cls: "addr", anchor: "middle")
                }
                svg.line(x, top + boxHeight, x, l.rowsBottom, stroke: Style.lifeline, width: 1.5, dash: "4 4")
            }
            svg.text(x, l.rowsBottom + 16, lane.name, cls: "addr", anchor: "middle")
            svg.close("g")
        }
        svg.close("g")
    }

    /// The firewall's interfaces on one side of its lifeline: name, then addresses.
    private func column(_ svg: inout SVGBuilder, _ interfaces: [TraceInterface], x: Double, y: Double, anchor: String) {
        var y = y
        for interface in interfaces {
            svg.text(x, y, interface.name, cls: "ifname", anchor: anchor)
            y += 15
            for address in interface.addresses {
                svg.text(x, y, address, cls: "addr", anchor: anchor)
                y += 15
            }
        }
    }

    private func drawExpectations(_ svg: inout SVGBuilder) {
        let l = layout
        var rowOfPacket: [Int: Int] = [:]
        for (i, row) in l.rows.enumerated() { for p in row.content.packets { rowOfPacket[p] = i } }
        svg.open("g", ["class": "expectations"])
        for span in l.spans {
            guard let from = rowOfPacket[span.from] else { continue }
            let y1 = l.rows[from].arrowY
            let y2 = span.to.flatMap { rowOfPacket[$0] }.map { l.rows[$0].arrowY } ?? l.rowsBottom - 4
            let made = l.rows[from].content.numbers[0]
            let used = span.to.flatMap { rowOfPacket[$0] }.map { "used by #\(l.rows[$0].content.numbers[0])" } ?? "never used"
            svg.open("g", ["class": "expectation", "data-from": String(made)])
            svg.title("\(span.label): made by #\(made), \(used)")
            Marks.expectation(&svg, lifeline: l.firewallX + Style.firewallColumn / 2, x: l.trackX(span.track),
                              from: y1, to: y2, used: span.to != nil)
            svg.close("g")
        }
        svg.close("g")
    }

    private func drawRow(_ svg: inout SVGBuilder, _ row: PlacedRow, index: Int) {
        let l = layout, c = row.content
        let first = c.numbers[0]
        if c.collapsed {
            svg.open("g", ["class": "row collapsed", "id": "row-\(first)", "data-count": String(c.numbers.count)])
        } else {
            svg.open("g", ["class": "row", "id": "row-\(first)", "data-n": String(first)])
        }
        svg.title(c.tooltip)
        for (n, text) in c.packetTooltips {
            svg.open("g", ["class": "packet", "data-n": String(n)])
            svg.title(text)
            svg.close("g")
        }
        if linkRows { svg.open("a", ["href": "#p\(first)"]) }
        svg.rect(Style.margin, row.top, l.width - 2 * Style.margin, row.height, fill: "#ffffff", cls: "hit")

        // The number column.
        let last = c.numbers[c.numbers.count - 1]
        svg.text(Style.margin + 6, row.arrowY + 1, c.collapsed ? "#\(first)…\(last)" : "#\(first)", cls: "num")
        svg.text(Style.margin + 6, row.arrowY + 14, TextMetrics.seconds(c.firstTime), cls: "time")

        let fw = l.firewallX, edge = Style.firewallColumn / 2
        if let half = c.incoming {
            let x = l.laneX[half.lane]
            let target = x < fw ? fw - edge : fw + edge
            Marks.arrow(&svg, from: x, to: target, y: row.arrowY, colour: c.colour, thick: c.collapsed)
        }
        if let half = c.outgoing {
            let x = l.laneX[half.lane]
            let source = x < fw ? fw - edge : fw + edge
            let y = row.arrowY + (c.incoming?.lane == half.lane ? 9 : 0)
            Marks.arrow(&svg, from: c.start == .none ? source : fw, to: x + (x < fw ? 1 : -1), y: y,
                        colour: c.colour, thick: c.collapsed, dashed: c.start != .none)
        }
        switch c.start {
        case .none: break
        case .generated: Marks.generated(&svg, x: fw, y: row.arrowY, colour: c.colour)
        case .released: Marks.held(&svg, x: fw, y: row.arrowY)
        }
        drawEnd(&svg, row)
        if let half = c.incoming { drawLabel(&svg, half, row.incomingLines, row) }
        if let half = c.outgoing { drawLabel(&svg, half, row.outgoingLines, row) }
        var y = row.arrowY + 8 + Style.noteLine - 4
        for note in c.notes {
            if note.kind == .rewrite {
                let w = TextMetrics.width(note.text, size: Style.noteSize) + 10
                svg.rect(l.notesX - 5, y - 12, w, 16, fill: Style.rewriteFill, radius: 3)
            }
            let cls: String
            switch note.kind {
            case .plain: cls = "note halo"
            case .related: cls = "note-related halo"
            case .expectation: cls = "note-expectation halo"
            case .rewrite: cls = "note-rewrite"
            case .warning: cls = "note-warning halo"
            }
            svg.text(l.notesX, y, note.text, cls: cls)
            y += Style.noteLine
        }
        if linkRows { svg.close("a") }
        svg.close("g")
    }

    /// The mark where the packet stopped, and its label on the far side.
    private func drawEnd(_ svg: inout SVGBuilder, _ row: PlacedRow) {
        let c = row.content, l = layout, fw = l.firewallX, y = row.arrowY
        let cls: String
        switch c.end {
        case .none: return
        case .drop: Marks.drop(&svg, x: fw, y: y); cls = "end-drop"
        case .held: Marks.held(&svg, x: fw, y: y); cls = "end-held"
        case .consumed: Marks.consumed(&svg, x: fw, y: y); cls = "end-consumed"
        }
        let fromRight = c.incoming.map { l.laneX[$0.lane] > fw } ?? false
        if fromRight {
            svg.text(fw - Style.firewallColumn / 2 - 12, y + 4, c.endLabel, cls: cls + " halo", anchor: "end")
        } else {
            svg.text(l.notesX, y + 4, c.endLabel, cls: cls + " halo")
        }
    }

    /// A half's label, centred over it, its last line just above the arrow.
    private func drawLabel(_ svg: inout SVGBuilder, _ half: Half, _ lines: [LabelLine], _ row: PlacedRow) {
        let l = layout
        let cx = (l.laneX[half.lane] + l.firewallX) / 2
        var y = row.arrowY - 6
        for line in lines.reversed() {
            let cls: String
            switch line.kind {
            case .head: cls = "head halo"
            case .detail: cls = "detail halo"
            case .count: cls = "count halo"
            case .payload:
                cls = "payload"
                let w = TextMetrics.width(line.text, size: line.size) + 10
                svg.rect(cx - w / 2, y - line.size - 1, w, line.size + 5, fill: Style.ftpFill, radius: 3)
            }
            svg.text(cx, y, line.text, cls: cls, anchor: "middle", fill: line.kind == .count ? row.content.colour : nil)
            y -= line.height
        }
    }
}

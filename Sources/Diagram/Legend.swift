// The legend under the diagram: a sample of each mark with a line of text,
// flowed left to right in as many rows as the width needs.

enum LegendKind {
    case arrow, collapsed, generated, drop, held, consumed, payload, rewrite, expectation
}

struct LegendItem {
    var kind: LegendKind
    var text: String
    var x = 0.0
    var row = 0
}

enum Legend {
    static let rowHeight = 26.0
    static let sampleWidth = 54.0

    static let entries: [(LegendKind, String)] = [
        (.arrow, "a packet as seen on each side; a colour per connection"),
        (.payload, "FTP command or reply"),
        (.rewrite, "line rewritten by the FTP helper"),
        (.expectation, "expectation, until the connection it lets in"),
        (.collapsed, "packets of one connection (--all: one row each)"),
        (.drop, "dropped, with the reason"),
        (.held, "held by the FTP helper"),
        (.consumed, "for the firewall itself"),
        (.generated, "made by the firewall"),
    ]

    /// In a grid: the most columns that fit the width, each as wide as its widest entry.
    static func items(width: Double) -> [LegendItem] {
        let cells = entries.map { sampleWidth + 10 + TextMetrics.width($0.1, size: Style.noteSize) + 24 }
        let available = width - 2 * Style.margin - 8
        var columns = 1
        var widths = [cells.max() ?? 0]
        for k in stride(from: cells.count, to: 1, by: -1) {
            let w = (0..<k).map { c in stride(from: c, to: cells.count, by: k).map { cells[$0] }.max() ?? 0 }
            if w.reduce(0, +) <= available {
                columns = k
                widths = w
                break
            }
        }
        return entries.enumerated().map { i, entry in
            let x = Style.margin + 8 + widths.prefix(i % columns).reduce(0, +)
            return LegendItem(kind: entry.0, text: entry.1, x: x, row: i / columns)
        }
    }

    static func draw(_ svg: inout SVGBuilder, items: [LegendItem], top: Double, width: Double) {
        svg.open("g", ["class": "legend"])
        svg.line(Style.margin, top - 12, width - Style.margin, top - 12, stroke: Style.lifeline, width: 1)
        svg.text(Style.margin + 8, top + 6, "Legend", cls: "lane")
        for item in items {
            let y = top + 26 + Double(item.row) * rowHeight
            let x0 = item.x, x1 = item.x + sampleWidth
            let mid = (x0 + x1) / 2
            let c = Style.connectionColour(0)
            switch item.kind {
            case .arrow: Marks.arrow(&svg, from: x0, to: x1, y: y, colour: c)
            case .collapsed: Marks.arrow(&svg, from: x0, to: x1, y: y, colour: Style.connectionColour(1), thick: true)
            case .generated:
                Marks.arrow(&svg, from: x0 + 4, to: x1, y: y, colour: c, dashed: true)
                Marks.generated(&svg, x: x0 + 4, y: y, colour: c)
            case .drop:
                Marks.arrow(&svg, from: x0, to: mid, y: y, colour: c)
                Marks.drop(&svg, x: mid + 6, y: y)
            case .held:
                Marks.arrow(&svg, from: x0, to: mid, y: y, colour: c)
                Marks.held(&svg, x: mid + 6, y: y)
            case .consumed:
                Marks.arrow(&svg, from: x0, to: mid, y: y, colour: c)
                Marks.consumed(&svg, x: mid + 6, y: y)
            case .payload:
                svg.rect(x0, y - 11, sampleWidth, 16, fill: Style.ftpFill, radius: 3)
                svg.text(mid, y + 1, "RETR", cls: "payload", anchor: "middle")
            case .rewrite:
                svg.rect(x0, y - 11, sampleWidth, 16, fill: Style.rewriteFill, radius: 3)
                svg.text(mid, y + 1, "A ⇒ B", cls: "note-rewrite", anchor: "middle")
            case .expectation:
                Marks.expectation(&svg, lifeline: x0, x: x0 + 10, from: y - 9, to: y + 9, used: true)
            }
            svg.text(x1 + 10, y + 4, item.text, cls: "note")
        }
        svg.close("g")
    }
}

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
        (.arrow, "a packet; each half labelled as seen on that side (NAT shows); one colour per connection"),
        (.payload, "FTP command or reply"),
        (.rewrite, "line rewritten by the FTP helper"),
        (.expectation, "expectation: from the announcement to the connection it lets in"),
        (.collapsed, "consecutive packets of one connection (--all draws each)"),
        (.drop, "dropped, with the reason"),
        (.held, "held by the FTP helper"),
        (.consumed, "for the firewall itself"),
        (.generated, "made by the firewall"),
    ]

    static func items(width: Double) -> [LegendItem] {
        var items: [LegendItem] = []
        var x = Style.margin + 8
        var row = 0
        for (kind, text) in entries {
            let w = sampleWidth + 10 + TextMetrics.width(text, size: Style.noteSize) + 28
            if x + w > width - Style.margin && x > Style.margin + 8 {
                row += 1
                x = Style.margin + 8
            }
            items.append(LegendItem(kind: kind, text: text, x: x, row: row))
            x += w
        }
        return items
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

// The shapes drawn on the lanes: arrows, the ends of packets at the firewall
// (dropped ✗, held pause sign, consumed dot), the starts of packets the
// firewall makes, and expectation brackets. Shared by the rows and the legend.

enum Marks {
    /// A horizontal arrow from x1 to x2 with its head at x2.
    static func arrow(_ svg: inout SVGBuilder, from x1: Double, to x2: Double, y: Double, colour: String,
                      thick: Bool = false, dashed: Bool = false) {
        let direction = x2 >= x1 ? 1.0 : -1.0
        let head = thick ? Style.arrowHead + 3 : Style.arrowHead
        let half = thick ? 6.0 : 4.0
        svg.line(x1, y, x2 - direction * (head - 1), y, stroke: colour, width: thick ? 4.5 : 1.6,
                 dash: dashed ? "6 4" : nil)
        svg.polygon([(x2, y), (x2 - direction * head, y - half), (x2 - direction * head, y + half)], fill: colour)
    }

    static func drop(_ svg: inout SVGBuilder, x: Double, y: Double) {
        let s = 6.0
        svg.circle(x, y, 9, fill: "#ffffff", stroke: Style.drop, width: 1.2)
        svg.line(x - s, y - s, x + s, y + s, stroke: Style.drop, width: 3, extra: " stroke-linecap=\"round\"")
        svg.line(x - s, y + s, x + s, y - s, stroke: Style.drop, width: 3, extra: " stroke-linecap=\"round\"")
    }

    /// A pause sign: the helper keeps the bytes.
    static func held(_ svg: inout SVGBuilder, x: Double, y: Double) {
        svg.rect(x - 8, y - 8, 16, 16, fill: Style.held, radius: 3)
        svg.rect(x - 4.5, y - 4.5, 3, 9, fill: "#ffffff")
        svg.rect(x + 1.5, y - 4.5, 3, 9, fill: "#ffffff")
    }

    static func consumed(_ svg: inout SVGBuilder, x: Double, y: Double) {
        svg.circle(x, y, 7, fill: Style.consumed, stroke: "#ffffff", width: 2)
    }

    /// Where a packet the firewall made starts.
    static func generated(_ svg: inout SVGBuilder, x: Double, y: Double, colour: String) {
        svg.circle(x, y, 5, fill: "#ffffff", stroke: colour, width: 2)
    }

    static func expectation(_ svg: inout SVGBuilder, lifeline: Double, x: Double, from y1: Double, to y2: Double, used: Bool) {
        let c = Style.expectation
        svg.line(lifeline, y1, x, y1, stroke: c, width: 1.5)
        if used {
            svg.line(x, y1, x, y2, stroke: c, width: 3.5, extra: " stroke-linecap=\"round\" opacity=\"0.8\"")
            svg.line(lifeline, y2, x, y2, stroke: c, width: 1.5)
            svg.circle(x, y2, 3.5, fill: "#ffffff", stroke: c, width: 2)
        } else {
            svg.line(x, y1, x, y2, stroke: c, width: 3.5, dash: "5 5", extra: " opacity=\"0.6\"")
        }
        svg.circle(x, y1, 3.5, fill: c)
    }
}

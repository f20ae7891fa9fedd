// A small writer of SVG elements into a string, with attribute and text
// escaping and short number formatting.

struct SVGBuilder {
    var out = ""

    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let tenths = (value * 10).rounded()
        if tenths.truncatingRemainder(dividingBy: 10) == 0 { return String(Int(tenths / 10)) }
        return String(tenths / 10)
    }

    private static func attributes(_ attrs: KeyValuePairs<String, String>) -> String {
        attrs.map { " \($0.key)=\"\(TextMetrics.xml($0.value))\"" }.joined()
    }

    mutating func raw(_ text: String) { out += text }

    mutating func open(_ tag: String, _ attrs: KeyValuePairs<String, String> = [:]) {
        out += "<\(tag)\(SVGBuilder.attributes(attrs))>"
    }

    mutating func close(_ tag: String) { out += "</\(tag)>\n" }

    mutating func empty(_ tag: String, _ attrs: KeyValuePairs<String, String>) {
        out += "<\(tag)\(SVGBuilder.attributes(attrs))/>\n"
    }

    mutating func element(_ tag: String, _ attrs: KeyValuePairs<String, String>, text: String) {
        out += "<\(tag)\(SVGBuilder.attributes(attrs))>\(TextMetrics.xml(text))</\(tag)>\n"
    }

    mutating func title(_ text: String) { element("title", [:], text: text) }

    // Shapes, numbers formatted once here.

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String,
                       width: Double = 1.5, dash: String? = nil, extra: String = "") {
        out += "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(n(width))\""
        if let dash { out += " stroke-dasharray=\"\(dash)\"" }
        out += extra + "/>\n"
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String,
                       stroke: String? = nil, radius: Double = 0, cls: String? = nil) {
        out += "<rect"
        if let cls { out += " class=\"\(cls)\"" }
        out += " x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"\(fill)\""
        if let stroke { out += " stroke=\"\(stroke)\"" }
        if radius > 0 { out += " rx=\"\(n(radius))\"" }
        out += "/>\n"
    }

    mutating func circle(_ x: Double, _ y: Double, _ r: Double, fill: String, stroke: String? = nil, width: Double = 1.5) {
        out += "<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"\(n(r))\" fill=\"\(fill)\""
        if let stroke { out += " stroke=\"\(stroke)\" stroke-width=\"\(n(width))\"" }
        out += "/>\n"
    }

    mutating func polygon(_ points: [(Double, Double)], fill: String) {
        out += "<polygon points=\"\(points.map { "\(n($0.0)),\(n($0.1))" }.joined(separator: " "))\" fill=\"\(fill)\"/>\n"
    }

    mutating func text(_ x: Double, _ y: Double, _ text: String, cls: String, anchor: String = "start", fill: String? = nil) {
        out += "<text x=\"\(n(x))\" y=\"\(n(y))\" class=\"\(cls)\""
        if anchor != "start" { out += " text-anchor=\"\(anchor)\"" }
        if let fill { out += " style=\"fill:\(fill)\"" }
        out += ">\(TextMetrics.xml(text))</text>\n"
    }

    private func n(_ v: Double) -> String { SVGBuilder.number(v) }
}

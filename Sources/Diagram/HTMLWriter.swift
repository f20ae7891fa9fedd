// The HTML page: the SVG inline, then a table of every packet with the steps
// the firewall narrated. A row of the diagram links to its packet's table row
// and the packet number in the table links back; `:target` highlights both,
// so no script is needed.

import TraceFormat

struct HTMLWriter {
    let trace: Trace
    let name: String
    let svg: String
    /// Packet number → the `row-N` id of the diagram row that draws it.
    let rowOfPacket: [Int: Int]

    static let css = """
    body{font-family:system-ui,sans-serif;margin:16px;color:#263238}
    h1{font-size:20px;margin:0 0 4px}
    p.hint{color:#607d8b;margin:0 0 12px;font-size:14px}
    .diagram{overflow-x:auto;border:1px solid #cfd8dc;border-radius:6px;margin-bottom:20px}
    .diagram svg{display:block}
    .row:target .hit{fill:#ffeb3b;fill-opacity:0.25}
    table{border-collapse:collapse;font-family:DejaVu Sans Mono,Menlo,Consolas,monospace;font-size:12px;width:100%}
    th,td{border-bottom:1px solid #eceff1;padding:4px 8px;text-align:left;vertical-align:top}
    th{background:#eceff1;position:sticky;top:0}
    tr:target{background:#fff59d}
    td.n a{font-weight:bold;text-decoration:none}
    ol{margin:0;padding-left:18px}
    .k{font-weight:bold;color:#455a64}
    .ftp{background:#fdebc8;color:#7a3e00;font-weight:bold}
    .drop{color:#d32f2f;font-weight:bold}
    .held{color:#ef6c00;font-weight:bold}
    """

    func write() -> String {
        var out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<title>\(x("tunwall trace: \(name)"))</title>\n<style>\n\(HTMLWriter.css)\n</style>\n</head>\n<body>\n"
        out += "<h1>\(x("tunwall trace: \(name)"))</h1>\n"
        out += "<p class=\"hint\">Click an arrow for the firewall's steps on that packet; click a packet number to go back to the diagram.</p>\n"
        out += "<div class=\"diagram\">\n\(svg)</div>\n"
        out += "<table>\n<thead><tr><th>#</th><th>t</th><th>in</th><th>packet as it arrived</th><th>steps</th><th>result</th></tr></thead>\n<tbody>\n"
        for p in trace.packets { out += row(p) }
        out += "</tbody>\n</table>\n</body>\n</html>\n"
        return out
    }

    private func row(_ p: TracePacket) -> String {
        var out = "<tr id=\"p\(p.n)\">"
        out += "<td class=\"n\"><a href=\"#row-\(rowOfPacket[p.n] ?? p.n)\">#\(p.n)</a></td>"
        out += "<td>\(TextMetrics.seconds(p.t))</td>"
        out += "<td>\(x(p.inInterface ?? p.origin.rawValue))</td>"
        out += "<td>\(x(p.packet.summary))\(payload(p.packet.text))</td>"
        out += "<td><ol>"
        for step in p.steps {
            let cls = step.isHelper && (step.event == "rewrite" || step.event == "expect") ? " class=\"ftp\"" : ""
            out += "<li\(cls)><span class=\"k\">\(x(step.kind)):</span> \(x(step.text))</li>"
        }
        out += "</ol></td><td>"
        switch p.verdict {
        case .forward: out += "→ \(x(p.outInterface ?? "?")) \(x(p.sent?.summary ?? ""))\(payload(p.sent?.text))"
        case .drop: out += "<span class=\"drop\">✗ dropped: \(x(p.reason ?? "?"))</span>"
        case .held: out += "<span class=\"held\">held</span>"
        case .consumed: out += "consumed"
        }
        return out + "</td></tr>\n"
    }

    private func payload(_ text: String?) -> String {
        guard let text else { return "" }
        return "<br><span class=\"ftp\">\(x(TextMetrics.payloadLines(text).joined(separator: " ⏎ ")))</span>"
    }

    private func x(_ text: String) -> String { TextMetrics.xml(text) }
}

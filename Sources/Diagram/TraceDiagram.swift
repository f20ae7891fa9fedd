// The library's entry points: read a trace, then draw it as an SVG file or
// as an HTML page that embeds the SVG and lists every packet's steps.

import Foundation
import TraceFormat

public struct DiagramOptions: Sendable {
    /// Every packet on its own row (no "× N packets" rows).
    public var all: Bool
    /// The trace's name, shown in the title (usually its file name).
    public var name: String

    public init(all: Bool = false, name: String = "trace") {
        self.all = all
        self.name = name
    }
}

public enum TraceDiagram {
    /// Reads a trace file's bytes; `file` names it in `FILE:LINE: ...` errors.
    public static func read(_ data: Data, file: String) throws(TraceError) -> Trace {
        try TraceReader.read(data, file: file)
    }

    public static func svg(_ trace: Trace, options: DiagramOptions = DiagramOptions()) -> String {
        writer(trace, options: options, links: false).svg.write(xmlDeclaration: true)
    }

    public static func html(_ trace: Trace, options: DiagramOptions = DiagramOptions()) -> String {
        let (svg, contents) = writer(trace, options: options, links: true)
        var rowOfPacket: [Int: Int] = [:]
        for c in contents { for n in c.numbers { rowOfPacket[n] = c.numbers[0] } }
        return HTMLWriter(trace: trace, name: options.name, svg: svg.write(xmlDeclaration: false),
                          rowOfPacket: rowOfPacket).write()
    }

    /// Lanes, rows (collapsed or not), expectations, layout: everything but the output format.
    static func writer(_ trace: Trace, options: DiagramOptions, links: Bool) -> (svg: SVGWriter, rows: [RowContent]) {
        let lanes = Lanes(trace)
        let connections = Connections(trace.packets)
        let spans = Expectations.spans(trace.packets)
        var createdBy: [Int: Int] = [:]
        for span in spans { if let to = span.to { createdBy[to] = trace.packets[span.from].n } }
        let contents = RowGrouping.rows(trace, connections: connections, collapse: !options.all).map {
            RowContentBuilder.build($0, trace: trace, lanes: lanes, connections: connections, createdBy: createdBy)
        }
        let layout = Layout(trace: trace, lanes: lanes, contents: contents, spans: spans)
        let count = trace.packets.count
        var subtitle = "\(count) packet\(count == 1 ? "" : "s") in \(contents.count) row\(contents.count == 1 ? "" : "s")"
        subtitle = "firewall started \(trace.header.start) · " + subtitle
        if contents.contains(where: \.collapsed) { subtitle += " (packets of data connections drawn together; --all draws each)" }
        let svg = SVGWriter(layout: layout, title: "tunwall trace: \(options.name)", subtitle: subtitle, linkRows: links)
        return (svg, contents)
    }
}

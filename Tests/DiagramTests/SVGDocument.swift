// Test support: an SVG (or any XML) parsed with Foundation's XMLParser, which
// fails on anything not well-formed; every element with its attributes, its
// text and its ancestors, so tests can ask for what the picture contains.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Diagram
import TraceFormat

struct XMLElementRecord {
    var name: String
    var attributes: [String: String]
    var text = ""
    /// Indices of the enclosing elements, outermost first.
    var ancestors: [Int]

    var classes: [String] { (attributes["class"] ?? "").split(separator: " ").map(String.init) }
}

final class SVGDocument: NSObject, XMLParserDelegate {
    private(set) var elements: [XMLElementRecord] = []
    private var stack: [Int] = []
    private(set) var error: String?

    /// nil when the text is not well-formed XML (`error` says why).
    static func parse(_ text: String) -> SVGDocument? {
        let document = SVGDocument()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = document
        guard parser.parse() else {
            document.error = parser.parserError.map { "\($0)" } ?? "not well-formed"
            return nil
        }
        return document
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        elements.append(XMLElementRecord(name: name, attributes: attributes, ancestors: stack))
        stack.append(elements.count - 1)
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        stack.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let i = stack.last { elements[i].text += string }
    }

    func withClass(_ cls: String) -> [XMLElementRecord] { elements.filter { $0.classes.contains(cls) } }

    /// Elements of class `cls` drawn in a row of the ladder (not the legend).
    func inRows(_ cls: String) -> [XMLElementRecord] {
        withClass(cls).filter { $0.ancestors.contains { elements[$0].classes.contains("row") } }
    }

    func texts() -> [String] { elements.filter { $0.name == "text" }.map(\.text) }

    /// Every `data-n` attribute's value.
    func packetNumbers() -> [Int] { elements.compactMap { $0.attributes["data-n"].flatMap { Int($0) } } }

    /// The elements inside element `index`.
    func descendants(of index: Int) -> [XMLElementRecord] { elements.filter { $0.ancestors.contains(index) } }
}

/// The traces in Fixtures/, written by tunwall itself (Scripts/regenerate-fixtures.sh,
/// see Fixtures/README.md): `ftp-demo.jsonl` from `tunwall demo`, `outsider.jsonl` from
/// the ftp-masquerade lab refusing its outsider. Ports, sequence numbers and times change
/// with every regeneration, so tests read what they check out of the trace.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let names = ["ftp-demo.jsonl", "outsider.jsonl"]

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    static func trace(_ name: String = "ftp-demo.jsonl") throws -> Trace {
        try TraceDiagram.read(try data(name), file: name)
    }

    static func outsider() throws -> Trace { try trace("outsider.jsonl") }
}

extension TracePacket {
    /// "IP a.p > b.q" of a summary: how a row labels the packet.
    static func head(_ info: PacketInfo) -> String {
        info.summary.range(of: ": ").map { String(info.summary[..<$0.lowerBound]) } ?? info.summary
    }

    var conntrack: TraceStep? { steps.first { $0.kind == "conntrack" } }
}

/// 1234567 as "1,234,567", as the diagram counts packets and bytes.
func grouped(_ n: Int) -> String {
    let digits = Array(String(n))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(d)
    }
    return out
}

/// A small trace from JSON lines (header first), for cases the fixture lacks.
enum Lines {
    static let header2 = #"{"v":1,"type":"header","start":"2026-11-22T05:40:00Z","interfaces":[{"name":"lan0","host":"client","addresses":["10.0.1.1/24"]},{"name":"wan0","host":null,"addresses":["203.0.113.1/24"]}]}"#

    static func packet(n: Int, origin: String = "received", inInterface: String? = "lan0", text: String? = nil,
                       verdict: String = "forward", out: String? = "wan0", steps: String = "[]", extra: String = "") -> String {
        let info = #"{"summary":"IP 10.0.1.2.40000 > 203.0.113.10.21: Flags [P.], seq 1:9, ack 1, win 502, length 8","family":4,"proto":"tcp","src":"10.0.1.2","dst":"203.0.113.10","sport":40000,"dport":21,"length":48"#
            + (text.map { ",\"text\":\(json($0))" } ?? "") + "}"
        var line = #"{"v":1,"type":"packet","n":\#(n),"t":\#(Double(n) / 10),"origin":"\#(origin)","in":\#(inInterface.map { "\"\($0)\"" } ?? "null"),"packet":\#(info),"steps":\#(steps),"verdict":"\#(verdict)""#
        if let out { line += #","out":"\#(out)""# }
        if verdict == "forward" { line += #","sent":\#(info)"# }
        // A dropped packet names its reason (docs/trace-schema.md), unless `extra` does.
        if verdict == "drop" && !extra.contains(#""reason":"#) { line += #","reason":"rule-drop""# }
        return line + extra + "}"
    }

    static func json(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [])
        let array = String(decoding: data, as: UTF8.self)
        return String(array.dropFirst().dropLast())
    }

    static func trace(_ lines: [String], file: String = "t.jsonl") throws(TraceError) -> Trace {
        try TraceDiagram.read(Data(lines.joined(separator: "\n").utf8), file: file)
    }
}

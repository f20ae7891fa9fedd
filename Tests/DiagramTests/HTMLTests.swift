// The HTML page: the SVG inline (rows linking to the table), and a table row
// with the narrated steps for every packet, linking back.

import Foundation
import Testing
@testable import Diagram

@Suite struct HTMLTests {
    @Test func embedsTheDiagramAndListsEveryPacket() throws {
        let trace = try Fixture.trace()
        let html = TraceDiagram.html(trace, options: DiagramOptions(name: "ftp-demo.jsonl"))
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        let start = try #require(html.range(of: "<svg "))
        let end = try #require(html.range(of: "</svg>", options: .backwards))
        let svg = String(html[start.lowerBound..<end.upperBound])
        let document = try #require(SVGDocument.parse(svg))
        #expect(Set(document.packetNumbers()) == Set(trace.packets.map(\.n)))
        #expect(document.elements.filter { $0.name == "a" }.count == document.withClass("row").count)
        for p in trace.packets {
            #expect(html.contains("<tr id=\"p\(p.n)\">"))
        }
        // A collapsed packet links back to the row that draws it: the second
        // packet of the first folded row.
        let group = try #require(document.withClass("collapsed").first)
        let row = try #require(group.attributes["id"])
        let index = try #require(document.elements.firstIndex { $0.attributes["id"] == row })
        let second = try #require(document.descendants(of: index).compactMap { $0.attributes["data-n"] }.dropFirst().first)
        #expect(html.contains("<tr id=\"p\(second)\"><td class=\"n\"><a href=\"#\(row)\">#\(second)</a>"))
        let rewrite = try #require(trace.packets.flatMap(\.steps).first { $0.event == "rewrite" })
        #expect(html.contains("<span class=\"k\">ftp:</span> rewrote &quot;\(rewrite.line!)&quot; -&gt; &quot;\(rewrite.rewritten!)&quot;"))
        #expect(!html.contains("<script"))
    }
}

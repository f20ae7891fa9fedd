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
        #expect(Set(document.packetNumbers()) == Set(1...55))
        #expect(document.elements.filter { $0.name == "a" }.count == document.withClass("row").count)
        for p in trace.packets {
            #expect(html.contains("<tr id=\"p\(p.n)\">"))
        }
        // A collapsed packet links back to the row that draws it.
        #expect(html.contains("<tr id=\"p22\"><td class=\"n\"><a href=\"#row-19\">#22</a>"))
        #expect(html.contains("<span class=\"k\">ftp:</span> rewrote &quot;PORT 10,0,1,2,195,80&quot; -&gt; &quot;PORT 203,0,113,1,195,80&quot;"))
        #expect(!html.contains("<script"))
    }
}

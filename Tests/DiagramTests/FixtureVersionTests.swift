// The fixtures carry the trace schema version they were made with (on every
// line, and in Fixtures/README.md); once the reader's version moves past
// theirs they must be made again (sudo Scripts/regenerate-fixtures.sh), not
// edited by hand.

import Foundation
import Testing
import TraceFormat
@testable import Diagram

@Suite struct FixtureVersionTests {
    @Test(arguments: Fixture.names) func madeWithTheReadersVersion(_ name: String) throws {
        let text = String(decoding: try Fixture.data(name), as: UTF8.self)
        let lines = text.split(separator: "\n")
        #expect(lines.count > 5)
        let versions = Set(lines.map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["v"] as? Int ?? -1
        })
        #expect(versions == [TraceReader.version],
                "\(name) was made with trace schema version \(versions.sorted()); this tunwall reads \(TraceReader.version): run sudo Scripts/regenerate-fixtures.sh")
        let readme = String(decoding: try Fixture.data("README.md"), as: UTF8.self)
        #expect(readme.contains("- trace schema version: \(TraceReader.version) "))
        #expect(readme.contains("| \(name) |"), "Fixtures/README.md says how \(name) was made")
    }
}

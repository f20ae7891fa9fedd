// The lab tier is selected by test ID (Tests/lab-tier.regex with `swift test
// --filter` or `--skip`), because this toolchain's `swift test` cannot select
// by tag; the tag `.lab` says which tests need root. This check keeps the two
// the same set: the test bundle lists every test with its own tags (Swift
// Testing's event stream, version 0, carries them as the experimental field
// "_tags"), and a suite's tag covers what it contains, as `--filter` and
// `--skip` treat a matched suite. No root needed.

import Foundation
import Testing
import TestSupport

@Suite(labTimeLimit) struct TierSelectionTests {
    @Test func theRegexSelectsExactlyTheTaggedTests() throws {
        let pattern = try String(contentsOf: repository.appendingPathComponent("Tests/lab-tier.regex"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let regex = try Regex(pattern)
        let tests = try Self.listedTests()
        try #require(tests.values.contains { !$0.isEmpty },
                     "no test listed with a tag: does this toolchain's event stream still carry \"_tags\"?")

        let ids = Set(tests.keys)
        // A test and every suite that contains it: "M.S/f()/F.swift:1:2" is in "M.S".
        func selfAndSuites(_ id: String) -> [String] {
            id.indices.filter { id[$0] == "." || id[$0] == "/" }.map { String(id[..<$0]) }.filter(ids.contains) + [id]
        }
        let tagged = ids.filter { selfAndSuites($0).contains { tests[$0]!.contains(".lab") } }
        let selected = ids.filter { selfAndSuites($0).contains { $0.contains(regex) } }
        #expect(tagged.subtracting(selected).sorted() == [], "tagged .lab but not selected by Tests/lab-tier.regex")
        #expect(selected.subtracting(tagged).sorted() == [], "selected by Tests/lab-tier.regex but not tagged .lab")
    }

    /// Every test and suite in this test bundle, by ID, with the tags it declares itself.
    static func listedTests() throws -> [String: [String]] {
        let events = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-tests-\(getpid()).jsonl")
        defer { try? FileManager.default.removeItem(at: events) }
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let list = try Tool.run(bundle, ["--testing-library", "swift-testing", "--list-tests",
                                         "--event-stream-output-path", events.path, "--event-stream-version", "0"], timeout: 60)
        try #require(list.status == 0, "\(bundle.path) --list-tests: \(list.stderr)")
        var tests: [String: [String]] = [:]
        for line in try String(contentsOf: events, encoding: .utf8).split(separator: "\n") {
            guard let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  event["kind"] as? String == "test", let payload = event["payload"] as? [String: Any],
                  let id = payload["id"] as? String else { continue }
            tests[id] = payload["_tags"] as? [String] ?? []
        }
        return tests
    }
}

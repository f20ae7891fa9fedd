// The traces under Tests/DiagramTests/Fixtures are what tunwall wrote in real
// runs (Scripts/regenerate-fixtures.sh): they must follow the schema the
// engine writes today, in the version the engine writes, or the diagram's
// tests prove things about a format nobody produces any more.

import Foundation
@testable import Engine
import Testing

@Suite struct TraceFixtureTests {
    static let directory = TraceSchema.repository.appendingPathComponent("Tests/DiagramTests/Fixtures")
    static let names = ["ftp-demo.jsonl", "outsider.jsonl"]

    static func objects(_ name: String) throws -> [[String: Any]] {
        let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw TraceSchema.Violation(description: "\(name): a line is not a JSON object")
            }
            return object
        }
    }

    /// Made with the schema version the engine writes now; when the version
    /// moves, this fails until the fixtures are made again.
    @Test(arguments: names) func fixtureIsOfTheCurrentSchemaVersion(_ name: String) throws {
        let objects = try Self.objects(name)
        let versions = Set(objects.map { $0["v"] as? Int ?? -1 })
        #expect(versions == [TraceRecord.schemaVersion],
                "\(name) was made with trace schema version \(versions.sorted()); the engine writes \(TraceRecord.schemaVersion): run sudo Scripts/regenerate-fixtures.sh")
        let readme = try String(contentsOf: Self.directory.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("- trace schema version: \(TraceRecord.schemaVersion) "), "Fixtures/README.md names another version")
    }

    @Test(arguments: names) func fixtureFollowsTheSchema(_ name: String) throws {
        let schema = try TraceSchema.fromDocs()
        let objects = try Self.objects(name)
        #expect(objects.first?["type"] as? String == "header")
        #expect(objects.count > 5)
        for (index, object) in objects.enumerated() {
            do {
                try schema.check(object, line: index + 1, version: TraceRecord.schemaVersion)
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
    }

    /// What the hand-made fixture once got wrong: every packet of a data
    /// connection names its master, not only the first.
    @Test func dataConnectionsNameTheirMasterOnEveryPacket() throws {
        let packets = try Self.objects("ftp-demo.jsonl").dropFirst()
        func endpoints(_ info: Any?) -> String? {
            guard let info = info as? [String: Any], let src = info["src"] as? String, let dst = info["dst"] as? String,
                  let sport = info["sport"] as? Int, let dport = info["dport"] as? Int else { return nil }
            return [src + ":\(sport)", dst + ":\(dport)"].sorted().joined(separator: " ")
        }
        func conntrack(_ p: [String: Any]) -> [String: Any]? {
            (p["steps"] as? [[String: Any]])?.first { $0["kind"] as? String == "conntrack" }
        }
        let firsts = packets.filter { conntrack($0)?["state"] as? String == "related" }
        try #require(firsts.count == 2, "a passive and an active data connection")
        for first in firsts {
            let master = try #require(conntrack(first)?["master"] as? String)
            let keys = Set([endpoints(first["packet"]), endpoints(first["sent"])].compactMap { $0 })
            let rest = packets.filter { p in
                p["n"] as? Int != first["n"] as? Int && !keys.isDisjoint(with: [endpoints(p["packet"]), endpoints(p["sent"])].compactMap { $0 })
            }
            #expect(rest.count > 20, "the data connection of \(master) carries 1 MB")
            for p in rest {
                #expect(conntrack(p)?["master"] as? String == master, "#\(p["n"] ?? "?") lacks master \(master)")
            }
        }
    }
}

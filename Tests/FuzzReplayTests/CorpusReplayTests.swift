// The committed fuzz corpora (Tests/Fuzz/Corpus/<Target>/) replayed in the
// debug build, where every out-of-range access to an unsafe buffer traps:
// each seed, and each crash input a fuzz run found and we fixed, stays a
// regression test. Scripts/fuzz.sh runs the same functions under libFuzzer.

import FuzzSupport
import Testing
@testable import FuzzEngine
@testable import FuzzRules
@testable import FuzzWire

@Suite struct CorpusReplayTests {
    /// Tests/Fuzz/Corpus/<target>, found from this file's path.
    static func corpus(_ target: String) -> [String] {
        let tests = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/"))
        return FuzzDriver.inputFiles(tests + "/Fuzz/Corpus/" + target)
    }

    static func replay(_ target: String, _ run: (UnsafeRawBufferPointer) -> Void) throws -> Int {
        let files = corpus(target)
        for file in files {
            let bytes = try #require(FuzzDriver.readFile(file), "cannot read \(file)")
            bytes.withUnsafeBytes { run($0) }
        }
        return files.count
    }

    @Test func wireCorpus() throws {
        #expect(try Self.replay("FuzzWire", WireInput.run) > 50)
    }

    @Test func engineCorpus() throws {
        #expect(try Self.replay("FuzzEngine", EngineInput.run) > 20)
    }

    @Test func rulesCorpus() throws {
        #expect(try Self.replay("FuzzRules", RulesInput.run) > 10)
    }

    /// The engine's own ruleset compiles (a typo there would make every engine input test nothing).
    @Test func engineRulesetParses() {
        _ = FuzzFirewall.ruleset
    }
}

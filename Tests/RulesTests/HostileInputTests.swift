// Hostile configuration: thousands of mutated rulesets (bytes flipped,
// lines cut, tokens duplicated, random text spliced in) go through the
// parser. Each must either parse or be refused with positioned errors that
// point inside the text; nothing may trap. The seed is fixed, so a failure
// names a round that replays.

import Foundation
import Rules
import Testing

@Suite struct HostileInputTests {
    @Test func mutatedRulesetsNeverTrap() throws {
        let sources = [gateway, try String(contentsOf: Paths.repository.appendingPathComponent("Topologies/basic-stateful.nft"),
                                           encoding: .utf8)]
        var state: UInt64 = 0x6e66_7461_626c_6573
        func random(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % max(n, 1)
        }
        let alphabet = Array("{}();\n\t\\ \"$@-/:,.*!=<>&|#0123456789abcdefxyz") + ["\u{0}", "é", "\u{202e}"]
        var parsed = 0, refused = 0
        for round in 0..<4_000 {
            var bytes = Array(sources[round % sources.count].utf8)
            for _ in 0..<(1 + random(4)) {
                switch random(5) {
                case 0 where !bytes.isEmpty: bytes[random(bytes.count)] ^= UInt8(1 << random(8))
                case 1 where !bytes.isEmpty: bytes.removeSubrange(random(bytes.count)..<bytes.count)
                case 2 where bytes.count > 10:
                    let start = random(bytes.count - 5)
                    bytes.insert(contentsOf: bytes[start..<start + random(5) + 1], at: random(bytes.count))
                case 3:
                    let text = String((0..<(1 + random(8))).map { _ in alphabet[random(alphabet.count)] })
                    bytes.insert(contentsOf: Array(text.utf8), at: random(bytes.count + 1))
                default:
                    if !bytes.isEmpty { bytes.remove(at: random(bytes.count)) }
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
            do {
                let ruleset = try Ruleset.parse(text, file: "fuzz.nft")
                ruleset.bind(interfaceNames: ["lan0", "wan0"])
                _ = ruleset.listing()
                var packet = RulePacket()
                var log: [String] = []
                for hook in Hook.allCases { _ = ruleset.evaluate(hook, &packet, log: &log) }
                parsed += 1
            } catch {
                refused += 1
                #expect(!error.errors.isEmpty, "round \(round)")
                for e in error.errors {
                    #expect(e.line >= 1 && e.line <= lineCount + 1, "round \(round): line \(e.line) of \(lineCount)")
                    #expect(e.column >= 1 && e.endColumn >= e.column, "round \(round)")
                    #expect(e.description.hasPrefix("fuzz.nft:\(e.line):"), "round \(round)")
                }
            }
        }
        #expect(parsed > 0 && refused > 0, "parsed \(parsed), refused \(refused)")
    }
}

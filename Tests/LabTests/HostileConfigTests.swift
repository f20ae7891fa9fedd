// Hostile configuration files: mutated topologies and firewall configs must
// load or be refused with a message naming the file; nothing may trap.

import Foundation
import Firewall
import Lab
import Testing
import TestSeeds

@Suite struct HostileConfigTests {
    @Test func mutatedJSONNeverTraps() {
        var state = testSeed(0x6a73_6f6e)
        func random(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % max(n, 1)
        }
        let alphabet = Array("{}[]:,\"\\ -/.0123456789abcdefnulltruefalse\n")
        var loaded = 0, refused = 0
        for round in 0..<3_000 {
            var bytes = Array((round % 2 == 0 ? baseTopology : baseFirewall).utf8)
            for _ in 0..<(1 + random(3)) {
                switch random(4) {
                case 0 where !bytes.isEmpty: bytes[random(bytes.count)] ^= UInt8(1 << random(8))
                case 1 where !bytes.isEmpty: bytes.removeSubrange(random(bytes.count)..<bytes.count)
                case 2: bytes.insert(UInt8(ascii: alphabet[random(alphabet.count)].unicodeScalars.first!), at: random(bytes.count + 1))
                default: if !bytes.isEmpty { bytes.remove(at: random(bytes.count)) }
                }
            }
            do {
                if round % 2 == 0 {
                    _ = try Topology.parse(data: bytes, file: "fuzz.json")
                } else {
                    _ = try FirewallConfig.parse(data: bytes, file: "fuzz.json")
                }
                loaded += 1
            } catch {
                refused += 1
                #expect(error.description.hasPrefix("fuzz.json"), "round \(round): \(error)")
            }
        }
        #expect(loaded > 0 && refused > 0, "loaded \(loaded), refused \(refused)")
    }
}

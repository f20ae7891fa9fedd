// Random test input that can be replayed: every test that draws random
// choices takes its seed from `testSeed`, which prints it, and which
// TUNWALL_TEST_SEED overrides (decimal or 0x-hex) to replay a failure or to
// explore other inputs:
//
//   TUNWALL_TEST_SEED=0x5eed swift test --filter NAME
//
// Without the variable each test uses its own fixed seed, so a plain run is
// the same every time. (One copy of this file per test module: test targets
// share no code.)

import Foundation

/// The seed for `test`'s random choices, printed so a failure can be replayed.
func testSeed(_ fixed: UInt64, _ test: String = #function) -> UInt64 {
    var seed = fixed
    if let text = ProcessInfo.processInfo.environment["TUNWALL_TEST_SEED"] {
        let parsed = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        if let parsed { seed = parsed } else { print("TUNWALL_TEST_SEED=\(text) is not a number; using \(fixed)") }
    }
    print("\(test): random seed 0x\(String(seed, radix: 16)) (replay: TUNWALL_TEST_SEED=0x\(String(seed, radix: 16)))")
    return seed
}

/// SplitMix64: a seeded generator for the standard library's `random(in:using:)`.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count { withUnsafeBytes(of: next().littleEndian) { out += $0 } }
        return Array(out.prefix(count))
    }
}

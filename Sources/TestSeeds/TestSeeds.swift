// Random test input that can be replayed, for every test target (and for
// other projects' tests): each test that draws random choices takes its seed
// from `testSeed`, which prints it, and which TUNWALL_TEST_SEED overrides
// (decimal or 0x-hex) to replay a failure or to explore other inputs:
//
//   TUNWALL_TEST_SEED=0x5eed swift test --filter NAME
//
// Without the variable each test uses its own fixed seed, so a plain run is
// the same every time.

import Foundation

/// The seed for `test`'s random choices, printed so a failure can be replayed.
public func testSeed(_ fixed: UInt64, _ test: String = #function) -> UInt64 {
    var seed = fixed
    if let text = ProcessInfo.processInfo.environment["TUNWALL_TEST_SEED"] {
        let parsed = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        if let parsed { seed = parsed } else { print("TUNWALL_TEST_SEED=\(text) is not a number; using \(fixed)") }
    }
    print("\(test): random seed 0x\(String(seed, radix: 16)) (replay: TUNWALL_TEST_SEED=0x\(String(seed, radix: 16)))")
    return seed
}

/// SplitMix64: a seeded generator for the standard library's `random(in:using:)`.
public struct SeededGenerator: RandomNumberGenerator {
    public var state: UInt64

    /// Exactly this seed.
    public init(seed: UInt64) { state = seed }

    /// `fixed`, unless TUNWALL_TEST_SEED says otherwise; printed (`testSeed`).
    public init(testSeed fixed: UInt64, test: String = #function) { state = TestSeeds.testSeed(fixed, test) }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Uniform enough in 0..<bound for test purposes (bound > 0).
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count { withUnsafeBytes(of: next().littleEndian) { out += $0 } }
        return Array(out.prefix(count))
    }
}

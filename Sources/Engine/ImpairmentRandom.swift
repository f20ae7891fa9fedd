// The random numbers impairments draw, reproducible from a seed: SplitMix64
// (Steele, Lea, Flood 2014) as the generator, and netem's two ways of using
// it (net/sched/sch_netem.c):
//
// - `get_crandom`: a 32-bit number correlated with the last one by rho,
//   answer = (value·(2³² − rho) + last·rho) >> 32, used for loss, duplicate,
//   reorder, corrupt and the delay's jitter, compared with a 32-bit
//   threshold (`probability · (2³² − 1)`, what tc hands the kernel);
// - `tabledist`: the jitter. Uniform is netem's `rnd % (2σ) + μ − σ`; normal
//   is the sum of twelve uniforms minus six (Irwin-Hall, mean 0, σ 1, within
//   ±6σ) where netem reads its normal table (within ±4σ), so no table and no
//   libm are needed.

struct ImpairmentRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next64() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    mutating func next32() -> UInt32 { UInt32(truncatingIfNeeded: next64() >> 32) }

    /// Uniform in 0..<bound (bound > 0), by multiply-shift.
    mutating func below(_ bound: UInt64) -> UInt64 {
        guard bound > 0 else { return 0 }
        return next64().multipliedFullWidth(by: bound).high
    }
}

/// netem's `struct crndstate`: the last answer and the correlation.
struct CorrelatedRandom {
    var last: UInt32 = 0
    /// rho as netem holds it: the correlation · (2³² − 1).
    var rho: UInt32 = 0

    init(correlation: Double) { rho = ImpairmentThreshold.of(correlation) }

    /// get_crandom.
    mutating func next(_ random: inout ImpairmentRandom) -> UInt32 {
        let value = UInt64(random.next32())
        guard rho != 0 else { return UInt32(truncatingIfNeeded: value) }
        let weight = UInt64(rho) + 1
        let answer = (value &* ((1 << 32) - weight) &+ UInt64(last) &* weight) >> 32
        last = UInt32(truncatingIfNeeded: answer)
        return last
    }
}

enum ImpairmentThreshold {
    /// A fraction in 0...1 as a 32-bit threshold, as tc computes it.
    static func of(_ fraction: Double) -> UInt32 {
        guard fraction.isFinite, fraction > 0 else { return 0 }
        if fraction >= 1 { return UInt32.max }
        return UInt32(clamping: UInt64((fraction * 4_294_967_295).rounded()))
    }
}

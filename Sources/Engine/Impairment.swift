// What one direction of one interface does to the packets that leave by it
// (or came in by it): netem's vocabulary (tc-netem(8)), held as values.
// `Impairment.parse(words:)` (ImpairmentWords.swift) reads the words, and
// `description` writes them back in the same order, so `tunwall impair lan0
// show` prints what a user could type again:
//
//   delay 50ms 10ms distribution normal loss 2% rate 10mbit
//   loss gemodel 1% 20% 100% 0%
//   reorder 25% gap 5 delay 10ms
//
// Times are nanoseconds, probabilities fractions in 0...1, the rate bits per
// second; nothing here runs on the packet path (ImpairmentStage turns the
// fractions into netem's 32-bit thresholds once).

public struct Impairment: Equatable, Sendable {
    /// The jitter's distribution (netem's `distribution`; uniform by default
    /// as in netem without a table).
    public enum Distribution: String, Sendable, CaseIterable {
        case uniform, normal
    }

    /// netem's loss models: `loss random P [CORR]` (`loss P` for short) and
    /// `loss gemodel p [r [1-h [1-k]]]` (Gilbert-Elliott: p good→bad, r
    /// bad→good, 1-h the loss in the bad state, 1-k the loss in the good state).
    public enum Loss: Equatable, Sendable {
        case none
        case random(Double, correlation: Double)
        case gilbertElliott(p: Double, r: Double, lossInBad: Double, lossInGood: Double)
    }

    public var delay: UInt64 = 0
    public var jitter: UInt64 = 0
    public var delayCorrelation: Double = 0
    public var distribution: Distribution = .uniform
    public var loss: Loss = .none
    public var duplicate: Double = 0
    public var duplicateCorrelation: Double = 0
    /// `reorder P [CORR] [gap N]`: with a gap N, after N-1 delayed packets the
    /// next one is sent at once with probability P; without one (gap 1, as tc
    /// sets it) each packet is, with probability P.
    public var reorder: Double = 0
    public var reorderCorrelation: Double = 0
    public var gap: Int = 0
    public var corrupt: Double = 0
    public var corruptCorrelation: Double = 0
    /// Bits per second; 0 is no limit.
    public var rate: UInt64 = 0
    /// Packets this direction may hold (delayed or waiting for the rate) before
    /// it drops new ones (tail drop); netem's default.
    public var limit: Int = Impairment.defaultLimit
    /// The random sequence's seed; the same seed and the same packets give the
    /// same decisions. Nil: a fixed default (runs repeat unless told otherwise).
    public var seed: UInt64? = nil

    public static let defaultLimit = 1000
    public static let limitRange = 1...1_000_000

    public init() {}

    /// Nothing that changes a packet is configured (a seed or a limit alone
    /// changes nothing): the stage is switched off.
    public var isNone: Bool {
        delay == 0 && jitter == 0 && loss == .none && duplicate == 0 && reorder == 0 && corrupt == 0 && rate == 0
    }

    /// The settings as netem's words, in the order `parse` reads them.
    public var description: String {
        var words: [String] = []
        if delay > 0 || jitter > 0 {
            var text = "delay \(Self.time(delay))"
            if jitter > 0 { text += " \(Self.time(jitter))" }
            if jitter > 0 && delayCorrelation > 0 { text += " \(Self.percent(delayCorrelation))" }
            if jitter > 0 && distribution != .uniform { text += " distribution \(distribution.rawValue)" }
            words.append(text)
        }
        switch loss {
        case .none: break
        case .random(let p, let correlation):
            words.append("loss \(Self.percent(p))" + (correlation > 0 ? " \(Self.percent(correlation))" : ""))
        case .gilbertElliott(let p, let r, let bad, let good):
            words.append("loss gemodel \(Self.percent(p)) \(Self.percent(r)) \(Self.percent(bad)) \(Self.percent(good))")
        }
        if duplicate > 0 {
            words.append("duplicate \(Self.percent(duplicate))" + (duplicateCorrelation > 0 ? " \(Self.percent(duplicateCorrelation))" : ""))
        }
        if reorder > 0 {
            var text = "reorder \(Self.percent(reorder))"
            if reorderCorrelation > 0 { text += " \(Self.percent(reorderCorrelation))" }
            if gap > 1 { text += " gap \(gap)" }
            words.append(text)
        }
        if corrupt > 0 {
            words.append("corrupt \(Self.percent(corrupt))" + (corruptCorrelation > 0 ? " \(Self.percent(corruptCorrelation))" : ""))
        }
        if rate > 0 { words.append("rate \(Self.rateText(rate))") }
        if limit != Self.defaultLimit { words.append("limit \(limit)") }
        if let seed { words.append("seed \(seed)") }
        return words.isEmpty ? "none" : words.joined(separator: " ")
    }

    /// "50ms", "1.5ms", "250us", "2s": the largest unit that keeps it short.
    static func time(_ nanoseconds: UInt64) -> String {
        if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
        if nanoseconds >= 1_000_000 { return trimmed(Double(nanoseconds) / 1e6) + "ms" }
        if nanoseconds >= 1_000 { return trimmed(Double(nanoseconds) / 1e3) + "us" }
        return "\(nanoseconds)ns"
    }

    static func percent(_ fraction: Double) -> String { trimmed(fraction * 100) + "%" }

    static func rateText(_ bits: UInt64) -> String {
        for (unit, size) in [("gbit", UInt64(1_000_000_000)), ("mbit", 1_000_000), ("kbit", 1_000)] where bits >= size {
            return trimmed(Double(bits) / Double(size)) + unit
        }
        return "\(bits)bit"
    }

    /// At most three decimals, no trailing zeros: 2 → "2", 0.125 → "0.125".
    static func trimmed(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int64(rounded)) }
        return String(rounded)
    }
}

/// Which way a packet crosses an interface: `in` arrived by it, `out` leaves by it.
public enum ImpairmentDirection: String, Sendable, CaseIterable {
    case `in`, out
}

// Reading netem's words (tc-netem(8)) into an Impairment, with tc's units:
//
//   delay TIME [JITTER [CORRELATION]] [distribution uniform|normal]
//   loss [random] PERCENT [CORRELATION] | loss gemodel p [r [1-h [1-k]]]
//   duplicate PERCENT [CORRELATION]     corrupt PERCENT [CORRELATION]
//   reorder PERCENT [CORRELATION] [gap DISTANCE]
//   rate RATE    limit PACKETS    seed NUMBER
//
// TIME: a number with s, ms, us or ns (sec, msec, usec too; a bare number is
// microseconds, as tc reads it). PERCENT: "2%" or "2". RATE: bit, kbit, mbit,
// gbit (powers of 1000), kibit, mibit, gibit (1024), bps, kbps, mbps, gbps
// (bytes per second); a bare number is bits per second. As tc says, reorder
// needs a delay (the packets not sent early must have something to overtake).
// `gemodel`'s defaults are tc's: r = 1 - p, 1-h = 100 %, 1-k = 0 %.
// Any other word, a missing value or one out of range is an ImpairmentError
// naming the word; nothing here traps on any input.

public struct ImpairmentError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Impairment {
    public static let keywords = ["delay", "distribution", "loss", "duplicate", "reorder", "gap", "corrupt", "rate",
                                  "limit", "seed"]

    /// The words of a command line or a topology's string, split on spaces.
    public static func parse(_ text: String) throws(ImpairmentError) -> Impairment {
        try parse(words: text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
    }

    public static func parse(words: [String]) throws(ImpairmentError) -> Impairment {
        var reader = WordReader(words: words)
        var result = Impairment()
        while let word = reader.next() {
            switch word.lowercased() {
            case "delay":
                result.delay = try reader.time(after: "delay")
                if let jitter = reader.optional(Self.time) {
                    result.jitter = jitter
                    if let correlation = reader.optional(Self.fraction) { result.delayCorrelation = correlation }
                }
            case "distribution":
                let name = try reader.value(after: "distribution")
                guard let distribution = Distribution(rawValue: name.lowercased()) else {
                    throw ImpairmentError("distribution: \"\(name)\" is not one tunwall has: uniform or normal")
                }
                result.distribution = distribution
            case "loss":
                if reader.peek()?.lowercased() == "random" { _ = reader.next() }
                if reader.peek()?.lowercased() == "gemodel" {
                    _ = reader.next()
                    let p = try reader.fraction(after: "loss gemodel")
                    let r = reader.optional(Self.fraction) ?? 1 - p
                    let bad = reader.optional(Self.fraction) ?? 1
                    let good = reader.optional(Self.fraction) ?? 0
                    result.loss = .gilbertElliott(p: p, r: r, lossInBad: bad, lossInGood: good)
                } else if reader.peek()?.lowercased() == "state" {
                    throw ImpairmentError("loss state: the 4-state model is not supported; use loss gemodel p r 1-h 1-k")
                } else {
                    let p = try reader.fraction(after: "loss")
                    result.loss = p > 0 ? .random(p, correlation: reader.optional(Self.fraction) ?? 0) : .none
                }
            case "duplicate":
                result.duplicate = try reader.fraction(after: "duplicate")
                result.duplicateCorrelation = reader.optional(Self.fraction) ?? 0
            case "reorder":
                result.reorder = try reader.fraction(after: "reorder")
                result.reorderCorrelation = reader.optional(Self.fraction) ?? 0
                if reader.peek()?.lowercased() == "gap" {
                    _ = reader.next()
                    result.gap = try reader.count(after: "gap", in: 1...Int(Int32.max))
                }
            case "gap":
                result.gap = try reader.count(after: "gap", in: 1...Int(Int32.max))
            case "corrupt":
                result.corrupt = try reader.fraction(after: "corrupt")
                result.corruptCorrelation = reader.optional(Self.fraction) ?? 0
            case "rate":
                let text = try reader.value(after: "rate")
                guard let rate = Self.rate(text) else {
                    throw ImpairmentError("rate: \"\(text)\" is not a rate (e.g. 10mbit, 500kbit, 1gbit, 125kbps)")
                }
                result.rate = rate
            case "limit":
                result.limit = try reader.count(after: "limit", in: Self.limitRange)
            case "seed":
                let text = try reader.value(after: "seed")
                guard let seed = UInt64(text) else { throw ImpairmentError("seed: \"\(text)\" is not a number from 0 to \(UInt64.max)") }
                result.seed = seed
            default:
                var message = "unknown word \"\(word)\""
                if let close = keywords.min(by: { distance($0, word.lowercased()) < distance($1, word.lowercased()) }),
                   distance(close, word.lowercased()) <= 2 {
                    message += " (did you mean \"\(close)\"?)"
                } else {
                    message += "; expected one of: " + keywords.joined(separator: ", ")
                }
                throw ImpairmentError(message)
            }
        }
        if result.reorder > 0 && result.delay == 0 {
            throw ImpairmentError("reorder: reordering is not possible without a delay (add e.g. delay 10ms), as tc says")
        }
        if result.reorder > 0 && result.gap == 0 { result.gap = 1 }
        return result
    }

    /// Nanoseconds of "50ms", "1.5s", "250us", "100ns" or "20" (µs); nil otherwise.
    public static func time(_ text: String) -> UInt64? {
        let units: [(String, Double)] = [("msecs", 1e6), ("msec", 1e6), ("ms", 1e6), ("usecs", 1e3), ("usec", 1e3),
                                         ("us", 1e3), ("ns", 1), ("secs", 1e9), ("sec", 1e9), ("s", 1e9)]
        guard let value = scaled(text, units: units, bare: 1e3), value < 3.6e12 else { return nil }
        return UInt64(value.rounded())
    }

    /// 0.02 for "2%" or "2"; nil when not a number from 0 to 100.
    public static func fraction(_ text: String) -> Double? {
        let number = text.hasSuffix("%") ? String(text.dropLast()) : text
        guard let value = Double(number), value.isFinite, value >= 0, value <= 100 else { return nil }
        return value / 100
    }

    /// Bits per second of "10mbit", "1gbit", "125kbps", "1000"; nil otherwise.
    public static func rate(_ text: String) -> UInt64? {
        let units: [(String, Double)] = [("kibit", 1024), ("mibit", 1_048_576), ("gibit", 1_073_741_824),
                                         ("kbit", 1e3), ("mbit", 1e6), ("gbit", 1e9), ("tbit", 1e12), ("bit", 1),
                                         ("kibps", 8 * 1024), ("mibps", 8 * 1_048_576), ("gibps", 8 * 1_073_741_824),
                                         ("kbps", 8e3), ("mbps", 8e6), ("gbps", 8e9), ("bps", 8)]
        guard let value = scaled(text, units: units, bare: 1), value >= 8, value < 1e15 else { return nil }
        return UInt64(value.rounded())
    }

    /// A non-negative number times its unit's size (the first unit, in
    /// order, that ends the text; `bare` without one), case-insensitive.
    private static func scaled(_ text: String, units: [(String, Double)], bare: Double) -> Double? {
        let lower = text.lowercased()
        var scale = bare
        var number = Substring(lower)
        for (unit, size) in units where lower.hasSuffix(unit) {
            scale = size
            number = lower.dropLast(unit.count)
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
        return value * scale
    }

    private static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in 1...b.count {
                let saved = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = saved
            }
        }
        return row[b.count]
    }
}

/// The words left to read, with "the value after WORD" errors.
private struct WordReader {
    let words: [String]
    var index = 0

    mutating func next() -> String? {
        guard index < words.count else { return nil }
        defer { index += 1 }
        return words[index]
    }

    func peek() -> String? { index < words.count ? words[index] : nil }

    mutating func value(after word: String) throws(ImpairmentError) -> String {
        guard let value = next() else { throw ImpairmentError("\(word): a value must follow") }
        return value
    }

    /// The next word if `parse` accepts it (an optional argument), else nil and nothing read.
    mutating func optional<T>(_ parse: (String) -> T?) -> T? {
        guard let word = peek(), let value = parse(word) else { return nil }
        index += 1
        return value
    }

    mutating func time(after word: String) throws(ImpairmentError) -> UInt64 {
        let text = try value(after: word)
        guard let time = Impairment.time(text) else {
            throw ImpairmentError("\(word): \"\(text)\" is not a time (e.g. 50ms, 250us, 1s)")
        }
        return time
    }

    mutating func fraction(after word: String) throws(ImpairmentError) -> Double {
        let text = try value(after: word)
        guard let fraction = Impairment.fraction(text) else {
            throw ImpairmentError("\(word): \"\(text)\" is not a percentage from 0% to 100%")
        }
        return fraction
    }

    mutating func count(after word: String, in range: ClosedRange<Int>) throws(ImpairmentError) -> Int {
        let text = try value(after: word)
        guard let count = Int(text), range.contains(count) else {
            throw ImpairmentError("\(word): \"\(text)\" is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return count
    }
}

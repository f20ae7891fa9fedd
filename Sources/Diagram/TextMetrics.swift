// Text in the picture: XML escaping, how wide a monospace label is, cutting
// and wrapping it to fit, and making payload text printable.

enum TextMetrics {
    /// Advance of one character in em for the monospace fonts the SVG asks
    /// for (DejaVu Sans Mono 0.602, Liberation Mono and Courier 0.600), rounded up.
    static let charEm = 0.61

    static func width(_ text: String, size: Double) -> Double {
        Double(text.count) * size * charEm
    }

    static func chars(fitting width: Double, size: Double) -> Int {
        max(4, Int(width / (size * charEm)))
    }

    /// Cut to `limit` characters, with an ellipsis when something was left out.
    static func truncate(_ text: String, to limit: Int) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(max(1, limit - 1))) + "…"
    }

    /// Breaks at `separator` (keeping what it has before its spaces, e.g.
    /// the comma of ", ") into at most `maxLines` lines of `limit`
    /// characters; the last line is cut if it is still too long.
    static func wrap(_ text: String, to limit: Int, maxLines: Int, separator: String = ", ") -> [String] {
        let kept = String(separator.reversed().drop(while: { $0 == " " }).reversed())
        var lines: [String] = []
        var current = ""
        let parts = text.components(separatedBy: separator)
        for (i, part) in parts.enumerated() {
            let piece = i < parts.count - 1 ? part + kept : part
            if current.isEmpty {
                current = piece
            } else if current.count + 1 + piece.count <= limit {
                current += " " + piece
            } else {
                lines.append(current)
                current = piece
            }
        }
        if !current.isEmpty || lines.isEmpty { lines.append(current) }
        if lines.count > maxLines {
            let rest = lines[(maxLines - 1)...].joined(separator: " ")
            lines = Array(lines.prefix(maxLines - 1)) + [rest]
        }
        return lines.map { truncate($0, to: limit) }
    }

    /// Payload text as lines to show: split at line ends, control characters
    /// made visible, trailing empty lines dropped.
    static func payloadLines(_ text: String) -> [String] {
        var lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            .map { printable(String($0)) }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines
    }

    /// Control characters as `·` (U+00B7), so labels stay on one line.
    static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { s in
            (s.value < 0x20 || (0x7f...0x9f).contains(s.value)) ? "·" : s
        }))
    }

    /// Escapes for XML text and attribute values; characters XML 1.0 does
    /// not allow at all become U+FFFD.
    static func xml(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            switch s {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                let v = s.value
                let allowed = v == 0x9 || v == 0xA || v == 0xD || (0x20...0xD7FF).contains(v)
                    || (0xE000...0xFFFD).contains(v) || (0x10000...0x10FFFF).contains(v)
                out.unicodeScalars.append(allowed ? s : "\u{FFFD}")
            }
        }
        return out
    }

    /// 1234567 as "1,234,567".
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    /// Seconds with microseconds, as the trace has them.
    static func seconds(_ t: Double) -> String {
        guard t.isFinite, abs(t) < 1e12 else { return "\(t)" }
        let sign = t < 0 ? "-" : ""
        let micros = Int((abs(t) * 1_000_000).rounded())
        let frac = String(micros % 1_000_000)
        return sign + "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - frac.count) + frac
    }
}

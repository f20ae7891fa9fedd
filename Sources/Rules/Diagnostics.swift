// Errors in a ruleset file, printed as nft prints them (src/erec.c, erec_print):
//
//   rules.nft:5:12-21: Error: invalid IPv4 address '10.0.0.300'
//   		ip saddr 10.0.0.300 accept
//   		         ^^^^^^^^^^
//
// The source line as it is; under it the line's own tabs kept and every other
// character before the culprit replaced by a space (so the carets line up in a
// terminal whatever its tab width), then one caret per character of the
// culprit. Checked against nft 1.0.6 `nft -c -f` (Tests/RulesTests/Invalid/*.nft
// hold the positions nft reports where tunwall and nft agree on the error).

/// One problem in a ruleset file.
public struct RuleError: Error, Hashable, Sendable, CustomStringConvertible {
    public let file: String
    /// 1-based; 0 when the file could not be read.
    public let line: Int
    /// 1-based, first character of the culprit.
    public let column: Int
    /// Last character (inclusive), as nft prints COL-COL.
    public let endColumn: Int
    public let message: String
    public let sourceLine: String
    /// A second place on the same line that the error is about (nft underlines it with `~`):
    /// the `accept` a statement comes after, the field a set does not fit, ….
    public let related: ClosedRange<Int>?
    /// For an error in an included file: "In file included from FILE:L:C-C:", innermost first.
    public let includedFrom: [String]

    public init(file: String, line: Int, column: Int, endColumn: Int, message: String, sourceLine: String,
                related: ClosedRange<Int>? = nil, includedFrom: [String] = []) {
        self.includedFrom = includedFrom
        self.file = file
        self.line = line
        self.column = column
        self.endColumn = endColumn
        self.message = message
        self.sourceLine = sourceLine
        self.related = related
    }

    public var description: String {
        if line == 0 { return "\(file): Error: \(message)" }
        // A command line (`tunwall nft …`), as nft prints its errors: no place in front.
        if file.isEmpty { return "Error: \(message)\n\(sourceLine)\n\(caretLine)" }
        let chain = includedFrom.map { $0 + "\n" }.joined()
        return "\(chain)\(file):\(line):\(column)-\(endColumn): Error: \(message)\n\(sourceLine)\n\(caretLine)"
    }

    /// The line under the source line: the source's tabs copied and other characters as spaces,
    /// `^` under the culprit, `~` under the related place.
    public var caretLine: String {
        let source = Array(sourceLine)
        let last = max(endColumn, related?.upperBound ?? 0)
        var out = ""
        for position in 1...max(last, 1) {
            if position >= column && position <= endColumn {
                out.append("^")
            } else if let related, related.contains(position) {
                out.append("~")
            } else {
                out.append(position <= source.count && source[position - 1] == "\t" ? "\t" : " ")
            }
        }
        return out
    }
}

public struct RuleErrors: Error, Sendable, CustomStringConvertible {
    /// At least one.
    public let errors: [RuleError]
    public init(errors: [RuleError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Errors found while reading a file, by place; turned into `RuleError`s at the end.
struct Diagnostics {
    private(set) var items: [(range: SourceRange, message: String, related: SourceRange?)] = []

    var isEmpty: Bool { items.isEmpty }

    mutating func error(_ range: SourceRange, _ message: String, related: SourceRange? = nil) {
        // The same place and message once (a `define` used twice fails twice in the same spot).
        if items.contains(where: { $0.range == range && $0.message == message }) { return }
        items.append((range, message, related?.line == range.line ? related : nil))
    }

    /// nft prints an error at the end of a file that ends with a newline on the
    /// line after the last one but shows the last line's text; so do we.
    func ruleErrors(file: String, lines: [String], endsWithNewline: Bool) -> [RuleError] {
        items.map { item in
            var index = item.range.line - 1
            if endsWithNewline && index == lines.count - 1 && index > 0 { index -= 1 }
            let text = index >= 0 && index < lines.count ? lines[index] : ""
            return RuleError(file: file, line: item.range.line, column: item.range.column,
                             endColumn: item.range.endColumn, message: item.message, sourceLine: text,
                             related: item.related.map { $0.column...$0.endColumn })
        }
    }
}

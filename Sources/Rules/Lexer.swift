// The lexer: ruleset text → tokens with line and column, following nft's
// flex scanner (nftables src/scanner.l) where it matters for what a file means:
//
// - longest match wins among addresses, numbers and words, so `10.0.1.0/24` is
//   an address, a slash and a number; `fd00:1::/64` likewise; `ftp-data` and
//   `nd-neighbor-solicit` are single words (words may hold `- / . _`);
// - a decimal number with a leading zero is octal, as strtoull(…, 0) reads it
//   (`022` is 18; `08` is not a number but a word);
// - `[fd00::1]` is one IPv6 address token (the RFC 2732 form used before `:PORT`);
// - `#` starts a comment up to the end of the line; a backslash before a newline
//   joins two lines; `\r\n` is a newline;
// - `eq ne lt gt le ge and or not xor` are operators, like their symbols.
//
// Columns count characters from 1 (a tab is one column), as nft's do.

import Wire

struct SourceRange: Hashable, Sendable {
    var line: Int
    var column: Int
    var endColumn: Int

    /// From the start of `self` to the end of `other` (same line), else `self`.
    func through(_ other: SourceRange) -> SourceRange {
        guard other.line == line, other.endColumn >= column else { return self }
        return SourceRange(line: line, column: column, endColumn: other.endColumn)
    }
}

enum TokenKind: Equatable, Sendable {
    case word, number, quoted, asteriskString, address
    case newline, semicolon, eof
    case leftBrace, rightBrace, leftParen, rightParen, leftBracket, rightBracket
    case comma, colon, slash, dash, at, dollar, assign, dot
    case equal, notEqual, less, greater, lessEqual, greaterEqual
    case ampersand, pipe, bang, caret, star, plus, shiftLeft, shiftRight
    case junk
}

struct Token: Sendable {
    var kind: TokenKind
    /// Words, addresses (without brackets) and quoted strings (without quotes): the text.
    var text: String
    var number: UInt64 = 0
    var range: SourceRange
    /// For addresses: written as `[v6]`.
    var bracketed = false

    func `is`(_ word: String) -> Bool { kind == .word && text == word }

    /// How nft's bison grammar names the token in "unexpected X" (parser_bison.y %token strings).
    var nftName: String {
        switch kind {
        case .word: return Keywords.reserved.contains(text) ? text : "string"
        case .address: return "string"
        case .number: return "number"
        case .quoted: return "quoted string"
        case .asteriskString: return "string with a trailing asterisk"
        case .newline: return "newline"
        case .semicolon: return "semicolon"
        case .eof: return "end of file"
        case .leftBrace: return "'{'"
        case .rightBrace: return "'}'"
        case .leftParen: return "'('"
        case .rightParen: return "')'"
        case .leftBracket: return "'['"
        case .rightBracket: return "']'"
        case .comma: return "comma"
        case .colon: return "colon"
        case .slash: return "/"
        case .dash: return "-"
        case .at: return "@"
        case .dollar: return "'$'"
        case .assign: return "'='"
        case .dot: return "."
        case .equal: return "=="
        case .notEqual: return "!="
        case .less: return "<"
        case .greater: return ">"
        case .lessEqual: return "<="
        case .greaterEqual: return ">="
        case .ampersand: return "&"
        case .pipe: return "'|'"
        case .bang: return "!"
        case .caret: return "^"
        case .star: return "*"
        case .plus: return "+"
        case .shiftLeft: return "<<"
        case .shiftRight: return ">>"
        case .junk: return "junk"
        }
    }
}

/// The text split into lines (for error messages) and tokens.
struct Lexer {
    let bytes: [UInt8]
    private(set) var lines: [String] = []
    private var position = 0
    private var line = 1
    private var lineStart = 0

    init(_ text: String) {
        bytes = Array(text.utf8)
        var current: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") {
                if current.last == UInt8(ascii: "\r") { current.removeLast() }
                lines.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(byte)
            }
            index += 1
        }
        lines.append(String(decoding: current, as: UTF8.self))
        endsWithNewline = bytes.last == UInt8(ascii: "\n")
    }

    private(set) var endsWithNewline = false

    /// Column (1-based, in characters) of byte offset `offset` on the current line.
    private func column(_ offset: Int) -> Int {
        var count = 1
        var index = lineStart
        while index < offset {
            // Count characters, not bytes: skip UTF-8 continuation bytes.
            if bytes[index] & 0xC0 != 0x80 { count += 1 }
            index += 1
        }
        return count
    }

    private func range(_ start: Int, _ end: Int) -> SourceRange {
        let first = column(start)
        return SourceRange(line: line, column: first, endColumn: max(first, column(end) - 1))
    }

    mutating func tokenize() -> [Token] {
        var tokens: [Token] = []
        while true {
            let token = next()
            tokens.append(token)
            if token.kind == .eof { return tokens }
        }
    }

    private func byte(_ offset: Int) -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

    private mutating func next() -> Token {
        while position < bytes.count {
            let c = bytes[position]
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                position += 1
            case UInt8(ascii: "#"):
                while position < bytes.count, bytes[position] != UInt8(ascii: "\n") { position += 1 }
            case UInt8(ascii: "\\") where byte(position + 1) == UInt8(ascii: "\n")
                || (byte(position + 1) == UInt8(ascii: "\r") && byte(position + 2) == UInt8(ascii: "\n")):
                position += byte(position + 1) == UInt8(ascii: "\n") ? 2 : 3
                line += 1
                lineStart = position
            case UInt8(ascii: "\r") where byte(position + 1) == UInt8(ascii: "\n"):
                position += 1
            case UInt8(ascii: "\n"):
                let token = Token(kind: .newline, text: "", range: range(position, position + 1))
                position += 1
                line += 1
                lineStart = position
                return token
            default:
                return scanToken()
            }
        }
        return endOfFile()
    }

    /// nft reports the end of a file that ends with a newline on the line after
    /// the last one, column 1 (and prints the last line's text under it).
    private func endOfFile() -> Token {
        if endsWithNewline {
            return Token(kind: .eof, text: "", range: SourceRange(line: line, column: 1, endColumn: 1))
        }
        let col = column(bytes.count)
        return Token(kind: .eof, text: "", range: SourceRange(line: line, column: col, endColumn: col))
    }

    private mutating func scanToken() -> Token {
        let start = position
        let c = bytes[start]
        func single(_ kind: TokenKind, _ length: Int = 1) -> Token {
            position = start + length
            return Token(kind: kind, text: String(decoding: bytes[start..<start + length], as: UTF8.self),
                         range: range(start, start + length))
        }
        if c == UInt8(ascii: "\"") {
            var end = start + 1
            while end < bytes.count, bytes[end] != UInt8(ascii: "\"") { end += 1 }
            guard end < bytes.count else { return single(.junk) }
            let text = String(decoding: bytes[start + 1..<end], as: UTF8.self)
            let tokenRange = range(start, end + 1)
            // A quoted string may run over several lines; keep line counting right.
            for index in start..<end where bytes[index] == UInt8(ascii: "\n") {
                line += 1
                lineStart = index + 1
            }
            position = end + 1
            var token = Token(kind: .quoted, text: text, range: tokenRange)
            if token.range.line != line { token.range.endColumn = token.range.column }
            return token
        }
        if c == UInt8(ascii: "[") {
            if let close = bytes[start...].firstIndex(of: UInt8(ascii: "]")), close > start + 1 {
                let inner = String(decoding: bytes[start + 1..<close], as: UTF8.self)
                if Lexer.scanIPv6(Array(bytes[start + 1..<close]), from: 0) == close - start - 1 {
                    position = close + 1
                    return Token(kind: .address, text: inner, range: range(start, close + 1), bracketed: true)
                }
            }
            return single(.leftBracket)
        }
        if Lexer.isWordStart(c) || Lexer.isDigit(c) || c == UInt8(ascii: ":") {
            if let token = scanWordLike() { return token }
        }
        let two = byte(start + 1)
        switch c {
        case UInt8(ascii: "{"): return single(.leftBrace)
        case UInt8(ascii: "}"): return single(.rightBrace)
        case UInt8(ascii: "("): return single(.leftParen)
        case UInt8(ascii: ")"): return single(.rightParen)
        case UInt8(ascii: "]"): return single(.rightBracket)
        case UInt8(ascii: ","): return single(.comma)
        case UInt8(ascii: ";"): return single(.semicolon)
        case UInt8(ascii: ":"): return single(.colon)
        case UInt8(ascii: "/"): return single(.slash)
        case UInt8(ascii: "-"): return single(.dash)
        case UInt8(ascii: "@"): return single(.at)
        case UInt8(ascii: "$"): return single(.dollar)
        case UInt8(ascii: "."): return single(.dot)
        case UInt8(ascii: "*"): return single(.star)
        case UInt8(ascii: "+"): return single(.plus)
        case UInt8(ascii: "&"): return single(.ampersand)
        case UInt8(ascii: "|"): return single(.pipe)
        case UInt8(ascii: "^"): return single(.caret)
        case UInt8(ascii: "="): return two == UInt8(ascii: "=") ? single(.equal, 2) : single(.assign)
        case UInt8(ascii: "!"): return two == UInt8(ascii: "=") ? single(.notEqual, 2) : single(.bang)
        case UInt8(ascii: "<"):
            if two == UInt8(ascii: "=") { return single(.lessEqual, 2) }
            return two == UInt8(ascii: "<") ? single(.shiftLeft, 2) : single(.less)
        case UInt8(ascii: ">"):
            if two == UInt8(ascii: "=") { return single(.greaterEqual, 2) }
            return two == UInt8(ascii: ">") ? single(.shiftRight, 2) : single(.greater)
        default:
            // One junk token per character (UTF-8 sequence), as flex's `.` rule.
            var length = 1
            while start + length < bytes.count, bytes[start + length] & 0xC0 == 0x80 { length += 1 }
            return single(.junk, length)
        }
    }

    /// Addresses, numbers and words: the longest of the candidates, ties to the
    /// earlier flex rule (address, then number, then word).
    private mutating func scanWordLike() -> Token? {
        let start = position
        let v6 = Lexer.scanIPv6(bytes, from: start)
        let v4 = Lexer.scanIPv4(bytes, from: start)
        let time = Lexer.scanTimeString(bytes, from: start)
        var numberLength = 0
        var numberValue: UInt64? = nil
        if Lexer.isDigit(bytes[start]) {
            (numberLength, numberValue) = Lexer.scanNumber(bytes, from: start)
        }
        var wordLength = 0
        var asterisk = false
        if Lexer.isWordStart(bytes[start]) && !(bytes[start] == UInt8(ascii: ".") && !Lexer.isWordChar(byte(start + 1) ?? 0)) {
            wordLength = 1
            while let b = byte(start + wordLength), Lexer.isWordChar(b) { wordLength += 1 }
            if byte(start + wordLength) == UInt8(ascii: "*") {
                wordLength += 1
                asterisk = true
            }
        }
        let addressLength = max(v4, v6, Lexer.scanMAC(bytes, from: start))
        let best = max(addressLength, numberLength, time, wordLength)
        guard best > 0 else { return nil }
        let text = String(decoding: bytes[start..<start + best], as: UTF8.self)
        let tokenRange = range(start, start + best)
        position = start + best
        if addressLength == best {
            return Token(kind: .address, text: text, range: tokenRange)
        }
        if numberLength == best {
            if let value = numberValue {
                return Token(kind: .number, text: text, number: value, range: tokenRange)
            }
            return Token(kind: .word, text: text, range: tokenRange)
        }
        if wordLength == best && asterisk {
            return Token(kind: .asteriskString, text: text, range: tokenRange)
        }
        if let op = Lexer.wordOperators[text] {
            return Token(kind: op, text: text, range: tokenRange)
        }
        return Token(kind: .word, text: text, range: tokenRange)
    }

    static let wordOperators: [String: TokenKind] = [
        "eq": .equal, "ne": .notEqual, "lt": .less, "gt": .greater, "le": .lessEqual, "ge": .greaterEqual,
        "and": .ampersand, "or": .pipe, "not": .bang, "xor": .caret, "lshift": .shiftLeft, "rshift": .shiftRight,
    ]

    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
    static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 97 && (c | 0x20) <= 122 }
    static func isHex(_ c: UInt8) -> Bool { isDigit(c) || ((c | 0x20) >= 97 && (c | 0x20) <= 102) }
    static func isWordStart(_ c: UInt8) -> Bool { isLetter(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") }
    static func isWordChar(_ c: UInt8) -> Bool {
        isLetter(c) || isDigit(c) || c == UInt8(ascii: "/") || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
    }

    /// `([0-9]{1,3}\.){3}[0-9]{1,3}`: the length matched, 0 if none.
    static func scanIPv4(_ bytes: [UInt8], from start: Int) -> Int {
        scanGroups(bytes, from: start, groups: 4, digits: 3, separator: UInt8(ascii: "."), isDigit)
    }

    /// `groups` runs of 1 to `digits` characters `digit` accepts, separated
    /// by `separator`: the length matched, 0 if none.
    static func scanGroups(_ bytes: [UInt8], from start: Int, groups: Int, digits maximum: Int, separator: UInt8,
                           _ digit: (UInt8) -> Bool) -> Int {
        var index = start
        for part in 0..<groups {
            var digits = 0
            while index < bytes.count, digit(bytes[index]), digits < maximum { index += 1; digits += 1 }
            if digits == 0 { return 0 }
            if part < groups - 1 {
                guard index < bytes.count, bytes[index] == separator else { return 0 }
                index += 1
            }
        }
        return index - start
    }

    /// nft's macaddr: `([0-9a-f]{1,2}:){5}[0-9a-f]{1,2}`, the length matched, 0 if none.
    static func scanMAC(_ bytes: [UInt8], from start: Int) -> Int {
        let length = scanGroups(bytes, from: start, groups: 6, digits: 2, separator: UInt8(ascii: ":"), isHex)
        guard length > 0 else { return 0 }
        let index = start + length
        // A longer run of hex digits or another colon is something else (an IPv6 address).
        if index < bytes.count, isHex(bytes[index]) || bytes[index] == UInt8(ascii: ":") { return 0 }
        return index - start
    }

    /// The longest prefix of the run of `[0-9A-Fa-f:.]` at `start` that is an IPv6 address.
    static func scanIPv6(_ bytes: [UInt8], from start: Int) -> Int {
        var end = start
        var colons = 0
        while end < bytes.count, isHex(bytes[end]) || bytes[end] == UInt8(ascii: ":") || bytes[end] == UInt8(ascii: ".") {
            if bytes[end] == UInt8(ascii: ":") { colons += 1 }
            end += 1
        }
        guard colons >= 2 else { return 0 }
        var length = end - start
        while length >= 2 {
            let text = String(decoding: bytes[start..<start + length], as: UTF8.self)
            if IPv6Address(text) != nil { return length }
            length -= 1
        }
        return 0
    }

    /// `0x…` hexadecimal, `0…` octal, or decimal; the value is nil when strtoull would fail.
    static func scanNumber(_ bytes: [UInt8], from start: Int) -> (Int, UInt64?) {
        var index = start
        if bytes[start] == UInt8(ascii: "0"), start + 2 < bytes.count + 0,
           start + 1 < bytes.count, (bytes[start + 1] | 0x20) == UInt8(ascii: "x"),
           start + 2 < bytes.count, isHex(bytes[start + 2]) {
            index = start + 2
            var value: UInt64? = 0
            while index < bytes.count, isHex(bytes[index]) {
                let digit = UInt64(isDigit(bytes[index]) ? bytes[index] - 48 : (bytes[index] | 0x20) - 87)
                if let v = value {
                    let (m, o1) = v.multipliedReportingOverflow(by: 16)
                    let (s, o2) = m.addingReportingOverflow(digit)
                    value = (o1 || o2) ? nil : s
                }
                index += 1
            }
            return (index - start, value)
        }
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        let octal = bytes[start] == UInt8(ascii: "0") && index - start > 1
        let base: UInt64 = octal ? 8 : 10
        var value: UInt64? = 0
        for offset in start..<index {
            let digit = UInt64(bytes[offset] - 48)
            if digit >= base { value = nil; break }
            if let v = value {
                let (m, o1) = v.multipliedReportingOverflow(by: base)
                let (s, o2) = m.addingReportingOverflow(digit)
                value = (o1 || o2) ? nil : s
            }
        }
        return (index - start, value)
    }

    /// nft's timestring `([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?` (needs one unit).
    static func scanTimeString(_ bytes: [UInt8], from start: Int) -> Int {
        var index = start
        var matched = 0
        for unit in ["d", "h", "m", "s", "ms"] {
            var digitsEnd = index
            while digitsEnd < bytes.count, isDigit(bytes[digitsEnd]) { digitsEnd += 1 }
            guard digitsEnd > index else { break }
            let unitBytes = Array(unit.utf8)
            if digitsEnd + unitBytes.count <= bytes.count, Array(bytes[digitsEnd..<digitsEnd + unitBytes.count]) == unitBytes {
                index = digitsEnd + unitBytes.count
                matched = index - start
            }
        }
        return matched
    }
}

// Reading configuration JSON with errors that name the exact place: Foundation's
// JSONSerialization does the syntax, then the document is converted into a
// small `JSONValue` tree (so true/false and numbers stay apart, which NSNumber
// blurs) and walked by `JSONObjectReader`, which refuses unknown keys and
// suggests the key that was probably meant:
//
//   {"name": "lan0", "adresses": ["10.0.1.1/24"]}   at firewall.interfaces[0]
//   → basic.json: firewall.interfaces[0]: unknown key "adresses" (did you mean "addresses"?)
//
// A JSON syntax error keeps the position Foundation reports and adds the line
// and column: `basic.json: invalid JSON at line 3, column 11: Invalid value
// around character 24.` Duplicate keys cannot be seen through
// JSONSerialization (the last one wins).

import Foundation

/// A place in a JSON document, printed the way a person would write it:
/// `hosts[1].routes[0].via`.
package struct JSONPath: CustomStringConvertible, Sendable, Equatable {
    package enum Step: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    package private(set) var steps: [Step] = []

    package static let root = JSONPath()

    package var isRoot: Bool { steps.isEmpty }

    package func key(_ key: String) -> JSONPath {
        var path = self
        path.steps.append(.key(key))
        return path
    }

    package func index(_ index: Int) -> JSONPath {
        var path = self
        path.steps.append(.index(index))
        return path
    }

    package var description: String {
        var text = ""
        for step in steps {
            switch step {
            case .key(let key): text += text.isEmpty ? key : ".\(key)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }
}

/// A JSON value with booleans and numbers told apart.
package enum JSONValue: Sendable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    /// The value, and its text for messages ("1500", "1500.5").
    case number(Double, text: String)
    case bool(Bool)
    case null

    /// For messages: `found the string "1500"`, `found an array`.
    package var kindDescription: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string(let s): return "the string \(quoted(s))"
        case .number(_, let text): return "the number \(text)"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    /// Converts what JSONSerialization returns. NSNumber carries booleans as
    /// the type encoding "c" (char), integers as "i"/"q", floating point as "d".
    package init(foundation value: Any) {
        switch value {
        case let dictionary as [String: Any]:
            var object: [String: JSONValue] = [:]
            for (key, member) in dictionary { object[key] = JSONValue(foundation: member) }
            self = .object(object)
        case let array as [Any]:
            self = .array(array.map { JSONValue(foundation: $0) })
        case let string as String:
            self = .string(string)
        case let number as NSNumber:
            let encoding = String(cString: number.objCType)
            if encoding == "c" {
                self = .bool(number.boolValue)
            } else if encoding == "d" || encoding == "f" || number is NSDecimalNumber {
                let double = number.doubleValue
                self = .number(double, text: number is NSDecimalNumber ? number.description : "\(double)")
            } else {
                let integer = number.int64Value
                self = .number(Double(integer), text: String(integer))
            }
        default:
            self = .null
        }
    }
}

/// `"text"` with JSON-style escapes for quotes and backslashes, for messages.
package func quoted(_ text: String) -> String {
    var result = "\""
    for character in text {
        switch character {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        default: result.append(character)
        }
    }
    return result + "\""
}

/// Parses a whole document whose top level must be an object.
package func parseJSONDocument(_ data: Data, file: String) throws(ConfigError) -> JSONValue {
    let object: Any
    do {
        object = try JSONSerialization.jsonObject(with: data, options: [])
    } catch {
        throw ConfigError("\(file): invalid JSON\(syntaxErrorPosition(error, data: data)): \(syntaxErrorReason(error))")
    }
    let value = JSONValue(foundation: object)
    guard case .object = value else {
        throw ConfigError("\(file): expected a JSON object at the top level, found \(value.kindDescription)")
    }
    return value
}

/// Foundation's own words, e.g. "Invalid value around character 24.".
private func syntaxErrorReason(_ error: Error) -> String {
    let nsError = error as NSError
    if let debug = nsError.userInfo[NSDebugDescriptionErrorKey] as? String, !debug.isEmpty { return debug }
    return nsError.localizedDescription
}

/// " at line L, column C" when Foundation names a character offset (a
/// 0-based byte offset into the document); empty otherwise.
private func syntaxErrorPosition(_ error: Error, data: Data) -> String {
    let reason = syntaxErrorReason(error)
    guard let range = reason.range(of: "character ") else { return "" }
    let digits = reason[range.upperBound...].prefix { $0.isNumber }
    guard let offset = Int(digits), offset <= data.count else { return "" }
    var line = 1
    var column = 1
    var index = data.startIndex
    var consumed = 0
    while consumed < offset {
        let byte = data[index]
        if byte == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if byte & 0xC0 != 0x80 {  // count characters, not UTF-8 continuation bytes
            column += 1
        }
        index = data.index(after: index)
        consumed += 1
    }
    return " at line \(line), column \(column)"
}

/// One JSON object being read: unknown keys are refused when it is opened,
/// then each member is taken by type.
package struct JSONObjectReader {
    package let file: String
    package let path: JSONPath
    private let members: [String: JSONValue]

    /// `allowedKeys` in the order a person would write them (they are listed in
    /// that order when no suggestion is close). `hints` add a sentence for
    /// particular unknown keys (e.g. "namespace" inside a topology).
    package init(
        _ value: JSONValue, at path: JSONPath, file: String, allowedKeys: [String], hints: [String: String] = [:]
    ) throws(ConfigError) {
        guard case .object(let members) = value else {
            throw ConfigError.config(file, path, "expected an object, found \(value.kindDescription)")
        }
        self.file = file
        self.path = path
        self.members = members
        let unknown = members.keys.filter { !allowedKeys.contains($0) }.sorted()
        if let key = unknown.first {
            var message = "unknown key \(quoted(key))"
            if let hint = hints[key] {
                message += " (\(hint))"
            } else if let suggestion = closestMatch(to: key, among: allowedKeys) {
                message += " (did you mean \(quoted(suggestion))?)"
            } else {
                message += " (expected \(allowedKeys.map(quoted).joined(separator: ", ")))"
            }
            throw ConfigError.config(file, path, message)
        }
    }

    package func error(_ key: String, _ message: String) -> ConfigError {
        ConfigError.config(file, path.key(key), message)
    }

    /// The member, or nil if absent or null.
    package func optional(_ key: String) -> JSONValue? {
        guard let value = members[key] else { return nil }
        if case .null = value { return nil }
        return value
    }

    package func required(_ key: String) throws(ConfigError) -> JSONValue {
        guard let value = optional(key) else {
            throw ConfigError.config(file, path, "missing key \(quoted(key))")
        }
        return value
    }

    package func string(_ key: String) throws(ConfigError) -> String {
        try stringValue(required(key), key: key)
    }

    package func optionalString(_ key: String) throws(ConfigError) -> String? {
        guard let value = optional(key) else { return nil }
        return try stringValue(value, key: key)
    }

    private func stringValue(_ value: JSONValue, key: String) throws(ConfigError) -> String {
        guard case .string(let string) = value else {
            throw error(key, "expected a string, found \(value.kindDescription)")
        }
        return string
    }

    /// An integer in `range`; 1500.0 counts as 1500, 1500.5 does not.
    package func optionalInteger(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value = optional(key) else { return nil }
        guard case .number(let double, let text) = value else {
            throw error(key, "expected an integer, found \(value.kindDescription)")
        }
        guard double.rounded() == double else {
            throw error(key, "expected an integer, found the number \(text)")
        }
        guard let integer = Int(exactly: double), range.contains(integer) else {
            throw error(key, "\(text) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return integer
    }

    package func optionalBool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = optional(key) else { return nil }
        guard case .bool(let flag) = value else {
            throw error(key, "expected true or false, found \(value.kindDescription)")
        }
        return flag
    }

    package func array(_ key: String) throws(ConfigError) -> [JSONValue] {
        try arrayValue(required(key), key: key)
    }

    package func optionalArray(_ key: String) throws(ConfigError) -> [JSONValue]? {
        guard let value = optional(key) else { return nil }
        return try arrayValue(value, key: key)
    }

    private func arrayValue(_ value: JSONValue, key: String) throws(ConfigError) -> [JSONValue] {
        guard case .array(let elements) = value else {
            throw error(key, "expected an array, found \(value.kindDescription)")
        }
        return elements
    }

    /// An array of strings, each handed to `parse` with its own path.
    package func strings(_ key: String) throws(ConfigError) -> [(String, JSONPath)] {
        var result: [(String, JSONPath)] = []
        for (index, element) in try array(key).enumerated() {
            guard case .string(let string) = element else {
                throw ConfigError.config(file, path.key(key).index(index),
                                      "expected a string, found \(element.kindDescription)")
            }
            result.append((string, path.key(key).index(index)))
        }
        return result
    }
}

/// The candidate within a small edit distance of `word` (typos, not
/// different words): at most 1 edit for short keys, 2 for longer ones.
package func closestMatch(to word: String, among candidates: [String]) -> String? {
    let limit = word.count <= 4 ? 1 : 2
    var best: (String, Int)?
    for candidate in candidates {
        let distance = editDistance(word.lowercased(), candidate.lowercased())
        if distance <= limit, distance < (best?.1 ?? Int.max) { best = (candidate, distance) }
    }
    return best?.0
}

/// Levenshtein distance with transpositions counted as one edit
/// (optimal string alignment), so "adresses" → "addresses" is 1.
package func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { table[i][0] = i }
    for j in 0...b.count { table[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            var value = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                value = min(value, table[i - 2][j - 2] + 1)
            }
            table[i][j] = value
        }
    }
    return table[a.count][b.count]
}

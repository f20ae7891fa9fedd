// A JSON value (RFC 8259) as the trace model reads and writes it. JSON has one
// kind of number, so `n` 1 and `t` 1.000000 are both `.number`; values compare
// as JSON values (object members in any order), which is what "the model
// writes the same line as the engine" means. Parsing is Foundation's
// JSONSerialization; writing is canonical (members sorted by key, no spaces).

import Foundation

public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public enum ParseError: Error { case notJSON }

    /// Parses one JSON text (any value at the top, not only objects).
    public init(parsing data: Data) throws(ParseError) {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw .notJSON
        }
        guard let value = JSONValue(foundation: parsed) else { throw .notJSON }
        self = value
    }

    /// What JSONSerialization made of a text (String, NSNumber, NSNull, [Any], [String: Any]).
    public init?(foundation value: Any) {
        switch value {
        case let s as String:
            self = .string(s)
        case is NSNull:
            self = .null
        case let n as NSNumber:
            // JSONSerialization gives true/false as NSNumber too; their type code is "c" (char).
            if String(cString: n.objCType) == "c" {
                self = .bool(n.boolValue)
            } else {
                self = .number(n.doubleValue)
            }
        case let a as [Any]:
            var items: [JSONValue] = []
            items.reserveCapacity(a.count)
            for item in a {
                guard let v = JSONValue(foundation: item) else { return nil }
                items.append(v)
            }
            self = .array(items)
        case let o as [String: Any]:
            var members: [String: JSONValue] = [:]
            for (key, item) in o {
                guard let v = JSONValue(foundation: item) else { return nil }
                members[key] = v
            }
            self = .object(members)
        default:
            return nil
        }
    }

    /// "a string", "an object", ...: what a message says was found.
    public var typeDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The canonical text: members sorted by key, integers without a
    /// fraction, other numbers in Swift's shortest round-trip form.
    public var encoded: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let d):
            // Integers up to 2^53 are exact in a Double; print them as integers.
            if d == d.rounded(), abs(d) < 9_007_199_254_740_992 {
                out += String(Int64(d))
            } else if d.isFinite {
                out += "\(d)"
            } else {
                out += "null"
            }
        case .string(let s): Self.quote(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                Self.quote(key, to: &out)
                out += ":"
                members[key]!.write(to: &out)
            }
            out += "}"
        }
    }

    /// RFC 8259 §7: quote, backslash and control characters escaped.
    private static func quote(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// The first place two values differ ("packet.sport: 40000 here, 40001 there"), or nil when equal.
    public func difference(from other: JSONValue, path: String = "") -> String? {
        func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        switch (self, other) {
        case (.object(let a), .object(let b)):
            for key in Set(a.keys).union(b.keys).sorted() {
                guard let x = a[key] else { return "\(name(key)): absent here, \(b[key]!.encoded) there" }
                guard let y = b[key] else { return "\(name(key)): \(x.encoded) here, absent there" }
                if let d = x.difference(from: y, path: name(key)) { return d }
            }
            return nil
        case (.array(let a), .array(let b)) where a.count == b.count:
            for (i, (x, y)) in zip(a, b).enumerated() {
                if let d = x.difference(from: y, path: "\(path)[\(i)]") { return d }
            }
            return nil
        default:
            return self == other ? nil : "\(path.isEmpty ? "the line" : path): \(encoded) here, \(other.encoded) there"
        }
    }
}

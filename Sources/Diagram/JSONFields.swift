// Typed access to one parsed JSON object, with messages that name the key
// path (`packet.sport: expected an integer, got a string`).

import Foundation

struct FieldError: Error {
    var message: String
}

struct JSONFields {
    let object: [String: Any]
    /// Where this object sits in the line, e.g. `steps[2]`; empty at the top.
    let path: String

    init(_ object: [String: Any], path: String = "") {
        self.object = object
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value, or nil when the key is absent or null.
    func value(_ key: String) -> Any? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        return v
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func string(_ key: String) throws(FieldError) -> String {
        guard let s = try optionalString(key) else { throw FieldError(message: "missing key \"\(name(key))\"") }
        return s
    }

    func optionalString(_ key: String) throws(FieldError) -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v as? String else { throw wrongType(key, "a string", v) }
        return s
    }

    func int(_ key: String) throws(FieldError) -> Int {
        guard let i = try optionalInt(key) else { throw FieldError(message: "missing key \"\(name(key))\"") }
        return i
    }

    func optionalInt(_ key: String) throws(FieldError) -> Int? {
        guard let v = value(key) else { return nil }
        guard !(v is String), let number = v as? NSNumber else { throw wrongType(key, "an integer", v) }
        let d = number.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 9e15 else { throw wrongType(key, "an integer", v) }
        return Int(d)
    }

    func double(_ key: String) throws(FieldError) -> Double {
        guard let v = value(key) else { throw FieldError(message: "missing key \"\(name(key))\"") }
        guard !(v is String), let number = v as? NSNumber, number.doubleValue.isFinite else {
            throw wrongType(key, "a number", v)
        }
        return number.doubleValue
    }

    func object(_ key: String) throws(FieldError) -> JSONFields {
        guard let o = try optionalObject(key) else { throw FieldError(message: "missing key \"\(name(key))\"") }
        return o
    }

    func optionalObject(_ key: String) throws(FieldError) -> JSONFields? {
        guard let v = value(key) else { return nil }
        guard let o = v as? [String: Any] else { throw wrongType(key, "an object", v) }
        return JSONFields(o, path: name(key))
    }

    func array(_ key: String) throws(FieldError) -> [Any] {
        guard let v = value(key) else { throw FieldError(message: "missing key \"\(name(key))\"") }
        guard let a = v as? [Any] else { throw wrongType(key, "an array", v) }
        return a
    }

    func strings(_ key: String) throws(FieldError) -> [String] {
        var result: [String] = []
        for (i, v) in try array(key).enumerated() {
            guard let s = v as? String else { throw wrongType("\(key)[\(i)]", "a string", v) }
            result.append(s)
        }
        return result
    }

    private func wrongType(_ key: String, _ expected: String, _ v: Any) -> FieldError {
        FieldError(message: "\(name(key)): expected \(expected), got \(JSONFields.describe(v))")
    }

    static func describe(_ v: Any) -> String {
        switch v {
        case is String: return "a string"
        case is NSNull: return "null"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        case is NSNumber: return "a number"
        default: return "\(type(of: v))"
        }
    }
}

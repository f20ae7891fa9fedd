// Typed access to one JSON object of a trace line, with messages that name the
// key path (`packet.sport: expected an integer, got a string`). `finish`
// rejects keys the model does not have: a key the writer adds without the
// model (and docs/trace-schema.md) knowing it is an error, not ignored.

public struct FieldError: Error, Sendable, Equatable {
    public var message: String

    public init(message: String) {
        self.message = message
    }
}

struct JSONFields {
    let object: [String: JSONValue]
    /// Where this object sits in the line, e.g. `steps[2]`; empty at the top.
    let path: String

    init(_ object: [String: JSONValue], path: String = "") {
        self.object = object
        self.path = path
    }

    /// `value` as an object, or an error naming `path`.
    init(_ value: JSONValue, path: String) throws(FieldError) {
        guard case .object(let o) = value else {
            throw FieldError(message: "\(path): expected an object, got \(value.typeDescription)")
        }
        self.init(o, path: path)
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value, or nil when the key is absent or null.
    func value(_ key: String) -> JSONValue? {
        guard let v = object[key], v != .null else { return nil }
        return v
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func missing(_ key: String, _ why: String = "") -> FieldError {
        FieldError(message: "missing key \"\(name(key))\"" + (why.isEmpty ? "" : " (\(why))"))
    }

    func string(_ key: String) throws(FieldError) -> String {
        guard let s = try optionalString(key) else { throw missing(key) }
        return s
    }

    func optionalString(_ key: String) throws(FieldError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw wrongType(key, "a string", v) }
        return s
    }

    /// A string that must be one of `values` (the model's list, which the docs repeat).
    func oneOf(_ key: String, _ values: [String]) throws(FieldError) -> String {
        let s = try string(key)
        guard values.contains(s) else { throw FieldError(message: "\(name(key)): unknown value \"\(s)\"") }
        return s
    }

    func int(_ key: String) throws(FieldError) -> Int {
        guard let i = try optionalInt(key) else { throw missing(key) }
        return i
    }

    func optionalInt(_ key: String) throws(FieldError) -> Int? {
        guard let v = value(key) else { return nil }
        guard case .number(let d) = v, d.isFinite, d == d.rounded(), abs(d) < 9e15 else {
            throw wrongType(key, "an integer", v)
        }
        return Int(d)
    }

    func double(_ key: String) throws(FieldError) -> Double {
        guard let v = value(key) else { throw missing(key) }
        guard case .number(let d) = v, d.isFinite else { throw wrongType(key, "a number", v) }
        return d
    }

    func object(_ key: String) throws(FieldError) -> JSONFields {
        guard let o = try optionalObject(key) else { throw missing(key) }
        return o
    }

    func optionalObject(_ key: String) throws(FieldError) -> JSONFields? {
        guard let v = value(key) else { return nil }
        guard case .object(let o) = v else { throw wrongType(key, "an object", v) }
        return JSONFields(o, path: name(key))
    }

    func array(_ key: String) throws(FieldError) -> [JSONValue] {
        guard let v = value(key) else { throw missing(key) }
        guard case .array(let a) = v else { throw wrongType(key, "an array", v) }
        return a
    }

    func strings(_ key: String) throws(FieldError) -> [String] {
        var result: [String] = []
        for (i, v) in try array(key).enumerated() {
            guard case .string(let s) = v else { throw wrongType("\(key)[\(i)]", "a string", v) }
            result.append(s)
        }
        return result
    }

    /// Fails on the first key (in sorted order) that is not one of `keys`.
    func finish(_ keys: [String]) throws(FieldError) {
        for key in object.keys.sorted() where !keys.contains(key) {
            throw FieldError(message: "\(name(key)): unknown key (not in trace schema version \(TraceReader.version))")
        }
    }

    private func wrongType(_ key: String, _ expected: String, _ v: JSONValue) -> FieldError {
        FieldError(message: "\(name(key)): expected \(expected), got \(v.typeDescription)")
    }
}

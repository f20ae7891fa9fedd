// docs/trace-schema.md as a checker: the keys, and the values the page lists
// for a key, are read from the page's tables themselves, so a key the engine
// writes but the page does not document (or a value outside the page's list)
// fails, and so does a key the page documents that this checker cannot type.
// What the tables say in prose (which keys are required, when `out`, `reason`
// and `sent` appear, that `sport`/`dport` go with TCP and UDP) is written out
// below next to the sentence it follows.

import Foundation

struct TraceSchema {
    struct Violation: Error, CustomStringConvertible {
        let description: String
    }

    /// A key as a table cell names it: `key` (`value`, `value`, ...).
    struct Key {
        var name: String
        /// The backticked words inside the parentheses after it: the values
        /// the page lists, or an object's own keys.
        var inner: [String]
    }

    let headerKeys: [String: Key]
    let interfaceKeys: Set<String>
    let packetKeys: [String: Key]
    let packetInfoKeys: [String: Key]
    let stepKeys: [String: [String: Key]]

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The checker of the page as it is in the repository.
    static func fromDocs() throws -> TraceSchema {
        try TraceSchema(markdown: String(contentsOf: repository.appendingPathComponent("docs/trace-schema.md"), encoding: .utf8))
    }

    init(markdown: String) throws {
        // The three tables, in the page's order: the header line's keys, a
        // packet line's keys, and the steps by kind.
        var tables: [[[String]]] = []
        var current: [[String]] = []
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("|") else {
                if !current.isEmpty { tables.append(current); current = [] }
                continue
            }
            let cells = Self.cells(String(line))
            if cells.allSatisfy({ $0.allSatisfy { $0 == "-" } }) { continue }
            current.append(cells)
        }
        if !current.isEmpty { tables.append(current) }
        guard tables.count == 3 else { throw Violation(description: "docs/trace-schema.md: expected 3 tables, found \(tables.count)") }

        func keyTable(_ rows: [[String]]) -> [String: Key] {
            var keys: [String: Key] = [:]
            for row in rows.dropFirst() where row.count >= 3 {
                let meaning = Self.keys(row[2])
                for name in Self.keys(row[0]).map(\.name) {
                    keys[name] = Key(name: name, inner: meaning.map(\.name))
                }
            }
            return keys
        }
        headerKeys = keyTable(tables[0])
        packetKeys = keyTable(tables[1])
        // "`packet` … : `summary` (…), `family` (…), …": the packet object's keys and their values.
        func objectKeys(_ table: [[String]], _ key: String) -> [String: Key] {
            guard let row = table.first(where: { Self.keys($0[0]).map(\.name) == [key] }), row.count >= 3,
                  let colon = row[2].firstIndex(of: ":") else { return [:] }
            return Dictionary(Self.keys(String(row[2][row[2].index(after: colon)...])).map { ($0.name, $0) },
                              uniquingKeysWith: { a, _ in a })
        }
        packetInfoKeys = objectKeys(tables[1], "packet")
        interfaceKeys = Set(objectKeys(tables[0], "interfaces").keys)
        var steps: [String: [String: Key]] = [:]
        for row in tables[2].dropFirst() where row.count >= 3 {
            guard let kind = Self.keys(row[0]).first?.name else { continue }
            steps[kind] = Dictionary(Self.keys(row[1]).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        }
        stepKeys = steps
    }

    static func cells(_ line: String) -> [String] {
        var cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if cells.first == "" { cells.removeFirst() }
        if cells.last == "" { cells.removeLast() }
        return cells
    }

    /// The backticked words of a cell outside parentheses, each with the
    /// backticked words of the parenthesis that follows it. Quotes around a
    /// word (`"received"`) are dropped.
    static func keys(_ cell: String) -> [Key] {
        var keys: [Key] = []
        var depth = 0
        var word: String?
        for c in cell {
            if word != nil {
                if c == "`" {
                    let clean = word!.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                    if depth == 0 { keys.append(Key(name: clean, inner: [])) }
                    else if depth == 1 && !keys.isEmpty { keys[keys.count - 1].inner.append(clean) }
                    word = nil
                } else {
                    word!.append(c)
                }
                continue
            }
            switch c {
            case "`": word = ""
            case "(": depth += 1
            case ")": depth = max(0, depth - 1)
            default: break
            }
        }
        return keys
    }

    // MARK: Checking

    /// Every key the page documents, with the JSON type this checker expects
    /// of it; a documented key missing here fails `selfCheck`.
    static let types: [String: String] = [
        "v": "int", "type": "string", "start": "string", "interfaces": "array",
        "n": "int", "t": "number", "origin": "string", "in": "string?", "packet": "object", "steps": "array",
        "verdict": "string", "out": "string", "reason": "string", "sent": "object",
        "summary": "string", "family": "int", "proto": "string", "src": "string", "dst": "string", "sport": "int",
        "dport": "int", "length": "int", "text": "string",
        "kind": "string", "state": "string", "direction": "string", "master": "string", "hook": "string",
        "where": "string", "rule": "string", "event": "string", "line": "string", "rewritten": "string",
        "expectation": "object", "to": "string", "name": "string", "host": "string?", "addresses": "array",
    ]

    /// The keys of each kind of step that every such step has (the page lists
    /// `master` "for a connection an expectation let in", and an ftp step's
    /// `line`, `rewritten`, `expectation` by event; a tftp step likewise).
    static let requiredStepKeys: [String: Set<String>] = [
        "conntrack": ["state", "direction"], "rule": ["hook", "verdict", "where", "rule"], "ftp": ["event"], "tftp": ["event"],
        "nat": [], "route": ["out"], "drop": ["reason"],
    ]

    /// Fails when the page documents a key this checker cannot type, or a kind of step it does not know.
    func selfCheck() throws {
        var documented = Set(headerKeys.keys).union(packetKeys.keys).union(packetInfoKeys.keys).union(interfaceKeys)
        for (kind, keys) in stepKeys {
            guard Self.requiredStepKeys[kind] != nil else { throw Violation(description: "the page documents step kind \(kind)") }
            documented.formUnion(keys.keys)
            documented.formUnion(keys["expectation"]?.inner ?? [])
        }
        for key in documented where Self.types[key] == nil {
            throw Violation(description: "the page documents key \"\(key)\", which this checker does not know")
        }
        for required in ["v", "type", "n", "t", "origin", "in", "packet", "steps", "verdict", "out", "reason", "sent"]
        where packetKeys[required] == nil {
            throw Violation(description: "the page no longer documents the packet key \"\(required)\"")
        }
    }

    func check(_ object: [String: Any], line: Int, version: Int) throws {
        func fail(_ why: String) -> Violation { Violation(description: "line \(line): \(why)") }
        func typed(_ key: String, _ value: Any?) throws {
            guard let value else { return }
            let ok: Bool
            switch Self.types[key] {
            case "int": ok = value is Int
            case "number": ok = value is Double || value is Int
            case "string": ok = value is String
            case "string?": ok = value is String || value is NSNull
            case "array": ok = value is [Any]
            case "object": ok = value is [String: Any]
            default: ok = false
            }
            guard ok else { throw fail("\(key): wrong type (\(value))") }
        }
        func allowed(_ object: [String: Any], _ keys: some Collection<String>, _ what: String) throws {
            for (key, value) in object {
                guard keys.contains(key) else { throw fail("\(what): key \"\(key)\" is not in docs/trace-schema.md") }
                try typed(key, value)
            }
        }
        func required(_ object: [String: Any], _ keys: [String], _ what: String) throws {
            for key in keys where object[key] == nil { throw fail("\(what): missing \"\(key)\"") }
        }
        func listed(_ value: Any?, _ key: Key?, _ what: String) throws {
            guard let text = value as? String, let values = key?.inner, !values.isEmpty else { return }
            guard values.contains(text) else { throw fail("\(what): \"\(text)\" is not one of \(values)") }
        }

        guard object["v"] as? Int == version else { throw fail("v must be \(version), is \(object["v"] ?? "absent")") }
        switch object["type"] as? String {
        case "header":
            try allowed(object, headerKeys.keys, "header")
            try required(object, Array(headerKeys.keys), "header")
            for case let interface as [String: Any] in object["interfaces"] as? [Any] ?? [] {
                try allowed(interface, interfaceKeys, "interface")
                try required(interface, Array(interfaceKeys), "interface")
                guard (interface["addresses"] as? [Any])?.allSatisfy({ $0 is String }) == true else { throw fail("addresses are strings") }
            }
        case "packet":
            try allowed(object, packetKeys.keys, "packet line")
            try required(object, ["n", "t", "origin", "in", "packet", "steps", "verdict"], "packet line")
            try listed(object["origin"], packetKeys["origin"], "origin")
            try listed(object["verdict"], packetKeys["verdict"], "verdict")
            let origin = object["origin"] as? String, verdict = object["verdict"] as? String
            // "`in`: interface it arrived on (null unless received)".
            guard (origin == "received") == (object["in"] is String) else { throw fail("in: a string exactly when received") }
            // "`out`: the output interface, when verdict is forward"; "`reason` … when drop";
            // "`sent` … the packet as it left, when verdict is forward".
            guard (verdict == "forward") == (object["out"] != nil) else { throw fail("out: present exactly when forwarded") }
            guard (verdict == "drop") == (object["reason"] != nil) else { throw fail("reason: present exactly when dropped") }
            guard (verdict == "forward") == (object["sent"] != nil) else { throw fail("sent: present exactly when forwarded") }
            try checkInfo(object["packet"] as? [String: Any] ?? [:], fail)
            if let sent = object["sent"] as? [String: Any] { try checkInfo(sent, fail) }
            for case let step as [String: Any] in object["steps"] as? [Any] ?? [] {
                try checkStep(step, fail)
            }
        default:
            throw fail("type must be header or packet")
        }
    }

    func checkInfo(_ info: [String: Any], _ fail: (String) -> Violation) throws {
        for (key, _) in info where packetInfoKeys[key] == nil {
            throw fail("packet: key \"\(key)\" is not in docs/trace-schema.md")
        }
        for key in ["summary", "family", "proto", "src", "dst", "length"] where info[key] == nil {
            throw fail("packet: missing \"\(key)\"")
        }
        guard let family = info["family"] as? Int, family == 4 || family == 6 else { throw fail("packet: family 4 or 6") }
        // "`proto` (`"tcp"`, `"udp"`, `"icmp"`, `"icmpv6"`, or the number as a string)".
        let proto = info["proto"] as? String ?? ""
        guard packetInfoKeys["proto"]?.inner.contains(proto) == true || (!proto.isEmpty && proto.allSatisfy(\.isNumber)) else {
            throw fail("packet: proto \"\(proto)\" is neither listed nor a number")
        }
        // "`sport`, `dport` (TCP/UDP only)".
        let ported = proto == "tcp" || proto == "udp"
        guard ported == (info["sport"] is Int), ported == (info["dport"] is Int) else { throw fail("packet: ports exactly for TCP and UDP") }
        for key in ["summary", "src", "dst", "text"] where info[key] != nil && !(info[key] is String) { throw fail("packet: \(key) is a string") }
        guard info["length"] is Int else { throw fail("packet: length is an integer") }
    }

    func checkStep(_ step: [String: Any], _ fail: (String) -> Violation) throws {
        guard let kind = step["kind"] as? String, step["text"] is String else { throw fail("a step needs kind and text") }
        guard let keys = stepKeys[kind] else { throw fail("step kind \"\(kind)\" is not in docs/trace-schema.md") }
        for (key, value) in step where key != "kind" && key != "text" {
            guard let documented = keys[key] else { throw fail("\(kind) step: key \"\(key)\" is not in docs/trace-schema.md") }
            switch key {
            case "expectation":
                guard let e = value as? [String: Any] else { throw fail("expectation is an object") }
                for (k, _) in e where !documented.inner.contains(k) { throw fail("expectation: key \"\(k)\" is not documented") }
                guard e["dst"] is String, e["dport"] is Int else { throw fail("expectation needs dst and dport") }
                if let src = e["src"], !(src is String) { throw fail("expectation: src is a string") }
                if let to = e["to"], !(to is String) { throw fail("expectation: to is a string") }
            case "master":
                // "the control connection, `"10.0.1.2:40000 -> 203.0.113.10:21"`".
                guard let master = value as? String, Self.isConnection(master) else { throw fail("master: \(value) is not A:P -> B:Q") }
            case "state", "direction", "event":
                guard let text = value as? String, documented.inner.contains(text) else {
                    throw fail("\(kind) step: \(key) \"\(value)\" is not one of \(documented.inner)")
                }
            case "verdict":
                guard let text = value as? String, ["accept", "drop", "reject"].contains(text),
                      documented.inner.contains(text) else { throw fail("rule step: verdict \(value)") }
            default:
                guard value is String else {
                    throw fail("\(kind) step: \(key) is a string")
                }
            }
        }
        for key in Self.requiredStepKeys[kind] ?? [] where step[key] == nil { throw fail("\(kind) step: missing \"\(key)\"") }
    }

    /// "10.0.1.2:40000 -> 203.0.113.10:21", or with IPv6 addresses in brackets.
    static func isConnection(_ text: String) -> Bool {
        let ends = text.components(separatedBy: " -> ")
        return ends.count == 2 && ends.allSatisfy { end in
            guard let colon = end.lastIndex(of: ":"), let port = Int(end[end.index(after: colon)...]) else { return false }
            return (0...65535).contains(port) && end.distance(from: end.startIndex, to: colon) > 0
        }
    }
}

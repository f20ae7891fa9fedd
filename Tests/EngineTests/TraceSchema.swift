// The trace's three descriptions held together: docs/trace-schema.md (for
// people), the model in Sources/TraceFormat (read by `tunwall diagram`), and
// what the engine writes (TraceRecord.jsonLine, Foundation-free on the packet
// path).
//
// - `selfCheck`: the page's tables and the model list the same keys, the same
//   kinds of step, and the same values for every key the model has a list for;
//   a key or value one has and the other lacks fails.
// - `check`: a line the engine wrote decodes with the model (strictly: a key
//   the model lacks, or a value outside its lists, fails), and the model
//   encodes it back to the same JSON value.
// The page is read from its tables: a key as a cell names it, `key`, and the
// values it lists, the backticked words in the parentheses after it.

import Foundation
import TraceFormat

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

    /// The page as it is in the repository.
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

        // A key's values are listed in its meaning: `"received"` (…), `"generated"` (…), ….
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

    // MARK: The page against the model

    /// Every difference between the page and the model, as one failure.
    func selfCheck() throws {
        var problems: [String] = []
        func same(_ what: String, page: some Collection<String>, model: some Collection<String>) {
            let page = Set(page), model = Set(model)
            for key in model.subtracting(page).sorted() { problems.append("\(what): \"\(key)\" is in the model, not on the page") }
            for key in page.subtracting(model).sorted() { problems.append("\(what): \"\(key)\" is on the page, not in the model") }
        }
        same("header keys", page: headerKeys.keys, model: TraceHeader.keys)
        same("interface keys", page: interfaceKeys, model: TraceInterface.keys)
        same("packet line keys", page: packetKeys.keys, model: TracePacket.keys)
        same("packet keys", page: packetInfoKeys.keys, model: PacketInfo.keys)
        same("origin values", page: packetKeys["origin"]?.inner ?? [], model: PacketOrigin.allCases.map(\.rawValue))
        same("verdict values", page: packetKeys["verdict"]?.inner ?? [], model: PacketVerdict.allCases.map(\.rawValue))
        same("packet.family values", page: packetInfoKeys["family"]?.inner ?? [], model: PacketInfo.families.map(String.init))
        same("packet.proto values", page: packetInfoKeys["proto"]?.inner ?? [], model: PacketInfo.protocols)
        same("step kinds", page: stepKeys.keys, model: TraceStep.keys.keys)
        for (kind, keys) in stepKeys {
            same("\(kind) step keys", page: keys.keys, model: TraceStep.keys[kind] ?? [])
            if let expectation = keys["expectation"] {
                same("\(kind) expectation keys", page: expectation.inner, model: TraceExpectation.keys)
            }
        }
        let values: [(kind: String, key: String, model: [String])] = [
            ("conntrack", "state", ConntrackStep.states), ("conntrack", "direction", ConntrackStep.directions),
            ("rule", "hook", RuleStep.hooks), ("rule", "verdict", RuleStep.verdicts),
            ("ftp", "event", HelperStep.events["ftp"] ?? []), ("tftp", "event", HelperStep.events["tftp"] ?? []),
        ]
        for (kind, key, model) in values {
            same("\(kind) \(key) values", page: stepKeys[kind]?[key]?.inner ?? [], model: model)
        }
        guard problems.isEmpty else {
            throw Violation(description: "docs/trace-schema.md and Sources/TraceFormat disagree:\n" + problems.joined(separator: "\n"))
        }
    }

    // MARK: A line the engine wrote against the model

    /// Decodes `object` (one line of JSON as JSONSerialization read it) with
    /// the model and requires the model to encode it back to the same JSON.
    func check(_ object: [String: Any], line: Int, version: Int) throws {
        guard let json = JSONValue(foundation: object) else { throw Violation(description: "line \(line): not JSON") }
        try Self.roundTrip(json, line: line, version: version)
    }

    /// The line decoded: decode, encode, compare with what was read; encode
    /// to text, read that, decode again, compare with the first decoding.
    @discardableResult
    static func roundTrip(_ json: JSONValue, line: Int, version: Int) throws -> TraceLine {
        func fail(_ why: String) -> Violation { Violation(description: "line \(line): \(why)\n\(json.encoded)") }
        guard version == TraceReader.version else {
            throw fail("the engine writes trace schema version \(version), the model reads \(TraceReader.version)")
        }
        let decoded: TraceLine
        do {
            decoded = try TraceLine(json: json)
        } catch {
            throw fail("the model cannot read it: \(error.message)")
        }
        if let difference = decoded.json.difference(from: json) {
            throw fail("the model writes it otherwise: \(difference) (model, engine)")
        }
        let again: TraceLine
        do {
            again = try TraceLine(json: try JSONValue(parsing: Data(decoded.json.encoded.utf8)))
        } catch {
            throw fail("the model cannot read what it wrote: \(error)")
        }
        guard again == decoded else { throw fail("decoding the model's own text gives another value") }
        return decoded
    }
}

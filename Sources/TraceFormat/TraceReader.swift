// Reading a trace file: the header line first, then packet lines, each a JSON
// object of schema version 1 decoded by the model (TraceCoding.swift). The
// first thing wrong stops the reading with `FILE:LINE: message`. Blank lines
// are skipped.

import Foundation

public enum TraceReader {
    /// The schema version this model reads and writes (`"v"`); the engine's
    /// is TraceRecord.schemaVersion, and a test requires them to be equal.
    public static let version = 1

    /// Parses the bytes of a trace; `file` names it in errors.
    public static func read(_ data: Data, file: String) throws(TraceError) -> Trace {
        var header: TraceHeader?
        var interfaceNames: Set<String> = []
        var packets: [TracePacket] = []
        var lineNumber = 0
        for rawLine in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = rawLine
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            func fail(_ message: String) -> TraceError { TraceError(file: file, line: lineNumber, message: message) }
            let json: JSONValue
            do {
                json = try JSONValue(parsing: Data(line))
            } catch {
                throw fail("not valid JSON")
            }
            guard case .object(let object) = json else {
                throw fail("expected a JSON object, got \(json.typeDescription)")
            }
            do throws(FieldError) {
                let fields = JSONFields(object)
                let type = try TraceLine.type(fields)
                if header == nil {
                    guard type == "header" else {
                        throw FieldError(message: "expected the header line (\"type\":\"header\") first, got \"\(type)\"")
                    }
                    let h = try TraceHeader(fields)
                    interfaceNames = Set(h.interfaces.map(\.name))
                    header = h
                } else {
                    guard type == "packet" else {
                        throw FieldError(message: type == "header" ? "a second header line" : "unknown line type \"\(type)\"")
                    }
                    packets.append(try TracePacket(fields, interfaces: interfaceNames))
                }
            } catch {
                throw fail(error.message)
            }
        }
        guard let header else {
            throw TraceError(file: file, line: max(lineNumber, 1), message: "no header line: not a tunwall trace")
        }
        return Trace(header: header, packets: packets)
    }
}

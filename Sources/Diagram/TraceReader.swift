// Reading a trace file: the header line first, then packet lines, each a JSON
// object of schema version 1. The first thing wrong stops the reading with
// `FILE:LINE: message`. Blank lines are skipped.

import Foundation

public enum TraceReader {
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
            let fields: JSONFields
            do {
                let parsed = try JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed])
                guard let object = parsed as? [String: Any] else {
                    throw fail("expected a JSON object, got \(JSONFields.describe(parsed))")
                }
                fields = JSONFields(object)
            } catch let error as TraceError {
                throw error
            } catch {
                throw fail("not valid JSON")
            }
            do throws(FieldError) {
                let v = try fields.int("v")
                guard v == version else {
                    throw FieldError(message: "trace version \(v) is not supported (this tunwall reads version \(version))")
                }
                let type = try fields.string("type")
                if header == nil {
                    guard type == "header" else {
                        throw FieldError(message: "expected the header line (\"type\":\"header\") first, got \"\(type)\"")
                    }
                    let h = try readHeader(fields)
                    interfaceNames = Set(h.interfaces.map(\.name))
                    header = h
                } else {
                    guard type == "packet" else {
                        throw FieldError(message: type == "header" ? "a second header line" : "unknown line type \"\(type)\"")
                    }
                    packets.append(try readPacket(fields, line: lineNumber, interfaces: interfaceNames))
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

    static func readHeader(_ fields: JSONFields) throws(FieldError) -> TraceHeader {
        var interfaces: [TraceInterface] = []
        for (i, item) in try fields.array("interfaces").enumerated() {
            guard let object = item as? [String: Any] else {
                throw FieldError(message: "interfaces[\(i)]: expected an object, got \(JSONFields.describe(item))")
            }
            let f = JSONFields(object, path: "interfaces[\(i)]")
            let name = try f.string("name")
            guard !interfaces.contains(where: { $0.name == name }) else {
                throw FieldError(message: "interfaces[\(i)].name: \"\(name)\" appears twice")
            }
            let addresses = f.has("addresses") ? try f.strings("addresses") : []
            interfaces.append(TraceInterface(name: name, host: try f.optionalString("host"), addresses: addresses))
        }
        return TraceHeader(start: try fields.optionalString("start"), interfaces: interfaces)
    }

    static func readPacket(_ fields: JSONFields, line: Int, interfaces: Set<String>) throws(FieldError) -> TracePacket {
        func interface(_ key: String) throws(FieldError) -> String? {
            guard let name = try fields.optionalString(key) else { return nil }
            guard interfaces.contains(name) else {
                throw FieldError(message: "\(key): interface \"\(name)\" is not in the header")
            }
            return name
        }
        let originText = try fields.string("origin")
        guard let origin = PacketOrigin(rawValue: originText) else {
            throw FieldError(message: "origin: unknown value \"\(originText)\"")
        }
        let verdictText = try fields.string("verdict")
        guard let verdict = PacketVerdict(rawValue: verdictText) else {
            throw FieldError(message: "verdict: unknown value \"\(verdictText)\"")
        }
        let info = try readInfo(try fields.object("packet"))
        let inInterface = try interface("in")
        if origin == .received && inInterface == nil {
            throw FieldError(message: "missing key \"in\" (a received packet names its interface)")
        }
        let outInterface = try interface("out")
        var sent: PacketInfo?
        if let s = try fields.optionalObject("sent") { sent = try readInfo(s) }
        if verdict == .forward {
            guard outInterface != nil else { throw FieldError(message: "missing key \"out\" (verdict is forward)") }
            guard sent != nil else { throw FieldError(message: "missing key \"sent\" (verdict is forward)") }
        }
        var steps: [TraceStep] = []
        for (i, item) in try fields.array("steps").enumerated() {
            guard let object = item as? [String: Any] else {
                throw FieldError(message: "steps[\(i)]: expected an object, got \(JSONFields.describe(item))")
            }
            steps.append(try readStep(JSONFields(object, path: "steps[\(i)]")))
        }
        return TracePacket(
            fileLine: line, n: try fields.int("n"), t: try fields.double("t"), origin: origin,
            inInterface: inInterface, packet: info, steps: steps,
            verdict: verdict, outInterface: outInterface, reason: try fields.optionalString("reason"), sent: sent)
    }

    static func readInfo(_ f: JSONFields) throws(FieldError) -> PacketInfo {
        PacketInfo(summary: try f.string("summary"), proto: try f.optionalString("proto"),
                   src: try f.optionalString("src"), dst: try f.optionalString("dst"),
                   sport: try f.optionalInt("sport"), dport: try f.optionalInt("dport"),
                   length: try f.optionalInt("length"), text: try f.optionalString("text"))
    }

    static func readStep(_ f: JSONFields) throws(FieldError) -> TraceStep {
        var step = TraceStep(kind: try f.string("kind"), text: try f.string("text"))
        step.state = try f.optionalString("state")
        step.master = try f.optionalString("master")
        step.verdict = try f.optionalString("verdict")
        step.location = try f.optionalString("where")
        step.event = try f.optionalString("event")
        step.line = try f.optionalString("line")
        step.rewritten = try f.optionalString("rewritten")
        step.reason = try f.optionalString("reason")
        if let e = try f.optionalObject("expectation") {
            step.expectation = TraceExpectation(src: try e.optionalString("src"), dst: try e.string("dst"),
                                                dport: try e.int("dport"), to: try e.optionalString("to"))
        }
        return step
    }
}

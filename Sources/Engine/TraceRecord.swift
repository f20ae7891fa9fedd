// One packet's way through the firewall, as `--trace` narrates it and
// `--trace-json` writes it (docs/trace-schema.md, version 1): the packet as it
// arrived, each decision taken (conntrack, rules with their file:line, NAT,
// the FTP helper), and where it went or why it stopped.
// Written here without Foundation (it runs on the packet path while tracing);
// the model that reads these lines is Sources/TraceFormat, and
// Tests/EngineTests/TraceSchema.swift requires the two to agree line by line.
//
// Example (narrated):
//   #12 lan0 IP 10.0.1.2.40000 > 203.0.113.10.21: Flags [P.], seq 1201:1223, ack 301, win 502, length 22
//   #12   conntrack: established, original direction (helper ftp)
//   #12   ftp: rewrote "PORT 10,0,1,2,195,80" -> "PORT 203,0,113,1,195,80", seq offset +3 from seq 1201
//   #12 -> wan0 IP 203.0.113.1.40000 > 203.0.113.10.21: Flags [P.], seq 1201:1226, ack 301, win 502, length 25

import Rules
import Wire

/// A JSON value, written by hand: the Engine has no Foundation.
public indirect enum TraceJSON: Sendable, Equatable {
    case string(String)
    case int(Int)
    case number(Double)
    case bool(Bool)
    case null
    case array([TraceJSON])
    case object([(String, TraceJSON)])

    public static func == (a: TraceJSON, b: TraceJSON) -> Bool { a.encoded == b.encoded }

    public var encoded: String {
        switch self {
        case .string(let s): return JSON.string(s)
        case .int(let i): return String(i)
        case .number(let d):
            // Microseconds are plenty for a trace.
            let micro = Int((d * 1_000_000).rounded())
            let fraction = String(abs(micro) % 1_000_000)
            return (micro < 0 ? "-" : "") + "\(abs(micro) / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.encoded).joined(separator: ",") + "]"
        case .object(let members):
            return "{" + members.map { JSON.string($0.0) + ":" + $0.1.encoded }.joined(separator: ",") + "}"
        }
    }
}

/// What a trace shows of a packet.
public struct TracePacket: Sendable {
    public var summary: String
    public var family: Int
    public var proto: String
    public var source: String
    public var destination: String
    public var sourcePort: Int?
    public var destinationPort: Int?
    public var length: Int
    /// The TCP payload as text (connections with a helper, at most 512 bytes).
    public var text: String?

    /// Reads what a trace shows from the packet's bytes (allocates: tracing only).
    init(_ bytes: UnsafeMutableRawBufferPointer) {
        summary = PacketSummary.line(for: bytes)
        length = bytes.count
        family = 0
        proto = "?"
        source = "?"
        destination = "?"
        guard let packet = try? Packet(parsing: Array(bytes)) else { return }
        switch packet.network {
        case .v4(let ip):
            family = 4
            source = ip.source.description
            destination = ip.destination.description
        case .v6(let ip):
            family = 6
            source = ip.source.description
            destination = ip.destination.description
        }
        switch packet.transport {
        case .tcp(let tcp):
            proto = "tcp"
            sourcePort = Int(tcp.sourcePort)
            destinationPort = Int(tcp.destinationPort)
            if !packet.payload.isEmpty && packet.payload.count <= 512 {
                text = String(decoding: packet.payload, as: UTF8.self)
            }
        case .udp(let udp):
            proto = "udp"
            sourcePort = Int(udp.sourcePort)
            destinationPort = Int(udp.destinationPort)
        case .icmpv4:
            proto = "icmp"
        case .icmpv6:
            proto = "icmpv6"
        case .none:
            proto = "other"
        }
    }

    var json: TraceJSON {
        var members: [(String, TraceJSON)] = [("summary", .string(summary)), ("family", .int(family)), ("proto", .string(proto)),
                                              ("src", .string(source)), ("dst", .string(destination))]
        if let sourcePort { members.append(("sport", .int(sourcePort))) }
        if let destinationPort { members.append(("dport", .int(destinationPort))) }
        members.append(("length", .int(length)))
        if let text { members.append(("text", .string(text))) }
        return .object(members)
    }
}

/// One decision: its kind, its narrated text, and the kind's own keys.
public struct TraceStep: Sendable {
    public var kind: String
    public var text: String
    public var fields: [(String, TraceJSON)]

    public init(kind: String, text: String, fields: [(String, TraceJSON)] = []) {
        self.kind = kind
        self.text = text
        self.fields = fields
    }

    var json: TraceJSON { .object([("kind", .string(kind))] + fields + [("text", .string(text))]) }
}

public struct TraceRecord: Sendable {
    /// The trace schema's version (docs/trace-schema.md), written as `"v"` on
    /// every JSON line. Raise it with any change a reader would notice; the
    /// test fixtures made from traces (Scripts/regenerate-fixtures.sh) carry
    /// the version they were made with, and their tests fail until remade.
    /// TraceFormat's TraceReader.version moves with it (TraceModelTests).
    public static let schemaVersion = 1

    public enum Origin: String, Sendable { case received, generated, released }

    public var number: Int
    /// Seconds since the firewall started.
    public var time: Double
    public var origin: Origin
    public var input: String?
    public var packet: TracePacket
    public var steps: [TraceStep] = []
    /// "forward", "drop", "held", "consumed".
    public var verdict = "forward"
    public var output: String?
    public var reason: String?
    public var sent: TracePacket?
    /// The rule that marked the packet (`meta nftrace set 1`), if one did:
    /// what `tunwall monitor trace` streams (TraceMark.swift). Not part of
    /// the JSON line: the trace file's schema stays as it is.
    public var mark: TraceMark?

    /// The narrated lines (docs/trace-schema.md).
    public var narrated: [String] {
        let tag = "#\(number)"
        var lines: [String] = []
        switch origin {
        case .received: lines.append("\(tag) \(input ?? "?") \(packet.summary)")
        case .generated, .released: lines.append("\(tag) \(origin.rawValue) \(packet.summary)")
        }
        for step in steps { lines.append("\(tag)   \(step.kind): \(step.text)") }
        switch verdict {
        case "forward":
            if origin == .received, let sent {
                lines.append("\(tag) -> \(output ?? "?") \(sent.summary)")
            } else {
                lines.append("\(tag) -> \(output ?? "?")")
            }
        case "drop": lines.append("\(tag) dropped: \(reason ?? "?")")
        case "held": lines.append("\(tag) held: the FTP helper waits for the rest of the line")
        default: lines.append("\(tag) consumed: answered or delivered by the firewall")
        }
        return lines
    }

    /// The JSON line (without the newline).
    public var jsonLine: String {
        var members: [(String, TraceJSON)] = [("v", .int(Self.schemaVersion)), ("type", .string("packet")), ("n", .int(number)),
                                              ("t", .number(time)), ("origin", .string(origin.rawValue)),
                                              ("in", input.map { .string($0) } ?? .null), ("packet", packet.json),
                                              ("steps", .array(steps.map(\.json))), ("verdict", .string(verdict))]
        if let output { members.append(("out", .string(output))) }
        if let reason { members.append(("reason", .string(reason))) }
        if let sent { members.append(("sent", sent.json)) }
        return TraceJSON.object(members).encoded
    }

    /// The header line that starts a JSON trace.
    /// `segments`: the hosts on each interface that is a segment (TraceSegmentHost.swift).
    public static func headerLine(start: String, interfaces: [(name: String, host: String?, addresses: [String])],
                                  segments: [String: [TraceSegmentHost]] = [:]) -> String {
        TraceJSON.object([
            ("v", .int(schemaVersion)), ("type", .string("header")), ("start", .string(start)),
            ("interfaces", .array(interfaces.map { interface in
                var members: [(String, TraceJSON)] = [("name", .string(interface.name)),
                                                      ("host", interface.host.map { .string($0) } ?? .null),
                                                      ("addresses", .array(interface.addresses.map { .string($0) }))]
                if let hosts = segments[interface.name], !hosts.isEmpty { members.append(("segment", .array(hosts.map(\.json)))) }
                return .object(members)
            })),
        ]).encoded
    }
}

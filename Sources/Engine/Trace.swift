// Recording traces: while `tracing` is on, each packet gets a TraceRecord
// that the pipeline's stages add their decisions to, and the runner takes the
// finished records (`takeTraces`) to narrate them and write JSON lines.
// Nothing here runs while tracing is off (one Bool test per stage).

import Conntrack
import Rules
import Wire

extension Engine {
    /// The records finished since the last call, in order.
    public func takeTraces() -> [TraceRecord] {
        flushGeneratedTraces()
        guard !finishedTraces.isEmpty else { return [] }
        defer { finishedTraces.removeAll(keepingCapacity: true) }
        return finishedTraces
    }

    private func seconds(_ now: Timestamp) -> Double {
        if traceStart == nil { traceStart = now }
        return Double(now &- (traceStart ?? now)) / 1e9
    }

    /// The trace of a packet that just arrived; it travels in the packet's
    /// context and every stage adds its steps to it.
    func beginTrace(_ packet: PacketBuffer, input: InterfaceID, now: Timestamp) -> PacketTrace {
        // Packets made outside any packet (released lines, by `tick`) came first.
        flushGeneratedTraces()
        traceCount &+= traceStride
        traceClock = now
        let name = input >= 0 && input < interfaces.count ? interfaces[input].name : "?"
        return PacketTrace(record: TraceRecord(number: traceCount, time: seconds(now), origin: .received, input: name,
                                               packet: TracePacket(packet.bytes)),
                           endpoints: Self.endpoints(packet.bytes))
    }

    func finishTrace(_ verdict: Verdict, _ packet: PacketBuffer, _ trace: PacketTrace?) {
        guard let trace else { return }
        var record = trace.record
        switch verdict {
        case .forward(let out):
            record.verdict = "forward"
            record.output = interfaces[out].name
            var sent = TracePacket(packet.bytes)
            if record.packet.text == nil { sent.text = nil }
            record.sent = sent
        case .drop(let reason):
            record.verdict = "drop"
            record.reason = reason.description
            record.steps.append(TraceStep(kind: "drop", text: "\(reason.description): \(reason.explanation)",
                                          fields: [("reason", .string(reason.description))]))
        case .consumed:
            record.verdict = trace.held ? "held" : "consumed"
        }
        finishedTraces.append(record)
        // Packets the pipeline made for this one come after it in the trace.
        flushGeneratedTraces()
    }

    private func flushGeneratedTraces() {
        guard !pendingGeneratedTraces.isEmpty else { return }
        finishedTraces.append(contentsOf: pendingGeneratedTraces)
        pendingGeneratedTraces.removeAll(keepingCapacity: true)
    }

    func traceConntrack(_ tracking: TrackResult, _ trace: inout PacketTrace?) {
        var text = "\(tracking.state), \(tracking.direction) direction"
        var fields: [(String, TraceJSON)] = [("state", .string(tracking.state.description)),
                                             ("direction", .string(tracking.direction.description))]
        var helper = HelperKind.none
        if let position = tracking.entry {
            helper = conntrack.table[position].helper
            let entry = conntrack.table[position]
            if entry.status.contains(.expected), let master = masterText(entry) {
                fields.append(("master", .string(master)))
                text += ", \(HelperRegistry.relatedNoun(entry.expectedBy)) of \(master)"
            }
        } else if tracking.isPending && conntrack.pending.status.contains(.expected),
                  let master = masterText(conntrack.pending) {
            fields.append(("master", .string(master)))
            text = "related: expected by the \(conntrack.pending.expectedBy.description.uppercased()) helper of \(master)"
        }
        if helper != .none { text += " (helper \(helper))" } else { trace?.record.packet.text = nil }
        if let reason = tracking.invalidReason { text += ": \(reason)" }
        trace?.record.steps.append(TraceStep(kind: "conntrack", text: text, fields: fields))
    }

    private func masterText(_ entry: ConnEntry) -> String? {
        let position = Int(entry.masterPosition)
        guard conntrack.table.isIssued(position), conntrack.table[position].id == entry.masterID else {
            return nil
        }
        return conntrack.table[position].original.endpoints(arrow: "->")
    }

    func traceRule(_ hook: Hook, _ verdict: RuleVerdict, decision: Int32, _ trace: inout PacketTrace?) {
        guard trace != nil, let found = ruleset.decision(decision) else { return }
        let verdictText: String
        switch verdict {
        case .accept: verdictText = "accept"
        case .drop: verdictText = "drop"
        case .reject: verdictText = "reject"
        }
        trace?.record.steps.append(TraceStep(
            // A rule is quoted after its place; a policy's place already says
            // "policy", so it is not said twice.
            kind: "rule", text: "\(verdictText) at \(found.location) (\(hook))" + (found.isPolicy ? "" : " \(found.text)"),
            fields: [("hook", .string("\(hook)")), ("verdict", .string(verdictText)), ("where", .string(found.location)),
                     ("rule", .string(found.text))]))
    }

    /// A NAT stage ran: if the packet's addresses or ports changed, say how.
    func traceNAT(_ packet: PacketBuffer, _ trace: inout PacketTrace?) {
        guard let before = trace?.endpoints else { return }
        let after = Self.endpoints(packet.bytes)
        guard after != before else { return }
        trace?.endpoints = after
        if before.source != after.source {
            trace?.record.steps.append(TraceStep(kind: "nat", text: "source \(before.source) -> \(after.source)"))
        }
        if before.destination != after.destination {
            trace?.record.steps.append(TraceStep(kind: "nat", text: "destination \(before.destination) -> \(after.destination)"))
        }
    }

    /// A helper's step: its kind is the helper's name ("ftp", "tftp"). It
    /// belongs to the packet in the pipeline, or with none (a held line
    /// released by `tick`) to the last packet the engine made.
    func traceHelper(_ event: HelperEvent, _ trace: inout PacketTrace?) {
        var fields: [(String, TraceJSON)] = [("event", .string(event.name))]
        if let line = event.line { fields.append(("line", .string(line))) }
        if let rewritten = event.rewritten { fields.append(("rewritten", .string(rewritten))) }
        if let e = event.expectation {
            var members: [(String, TraceJSON)] = [("src", .string(e.source)), ("dst", .string(e.destination)),
                                                  ("dport", .int(Int(e.destinationPort)))]
            if let to = e.to { members.append(("to", .string(to))) }
            fields.append(("expectation", .object(members)))
        }
        let step = TraceStep(kind: event.helper.description, text: event.text, fields: fields)
        if trace != nil {
            trace?.record.steps.append(step)
        } else if !pendingGeneratedTraces.isEmpty {
            pendingGeneratedTraces[pendingGeneratedTraces.count - 1].steps.append(step)
        }
    }

    /// The record of a packet the engine made (outbox `slot`, leaving by
    /// `interface`); it follows the packet that caused it (`finishTrace`),
    /// or with none in the pipeline, comes out with the next `takeTraces`.
    func generatedTrace(_ slot: Int, interface: InterfaceID, origin: TraceRecord.Origin) -> TraceRecord {
        var record = TraceRecord(number: 0, time: seconds(traceClock), origin: origin, input: nil,
                                 packet: TracePacket(outbox.buffers[slot].bytes))
        record.output = interfaces[interface].name
        record.sent = record.packet
        return record
    }

    func traceGenerated(_ slot: Int, interface: InterfaceID, origin: TraceRecord.Origin) {
        traceGenerated(generatedTrace(slot, interface: interface, origin: origin))
    }

    /// Numbers a made packet's record (once it is sure to leave) and queues it.
    func traceGenerated(_ record: TraceRecord) {
        var record = record
        traceCount &+= traceStride
        record.number = traceCount
        pendingGeneratedTraces.append(record)
    }

    /// "address:port" of each end of the packet as it is now (ports for TCP/UDP).
    static func endpoints(_ bytes: UnsafeMutableRawBufferPointer) -> TraceEndpoints {
        let source: String, destination: String
        if let ip = try? IPv4Packet(validatingQuoted: bytes) {
            source = ip.source.description
            destination = ip.destination.description
        } else if let ip = try? IPv6Packet(validatingQuoted: bytes) {
            source = "[" + ip.source.description + "]"
            destination = "[" + ip.destination.description + "]"
        } else {
            return TraceEndpoints()
        }
        guard let packet = try? Packet(parsing: Array(bytes)) else { return TraceEndpoints(source: source, destination: destination) }
        switch packet.transport {
        case .tcp(let tcp): return TraceEndpoints(source: "\(source):\(tcp.sourcePort)", destination: "\(destination):\(tcp.destinationPort)")
        case .udp(let udp): return TraceEndpoints(source: "\(source):\(udp.sourcePort)", destination: "\(destination):\(udp.destinationPort)")
        default: return TraceEndpoints(source: source, destination: destination)
        }
    }
}

/// A packet's trace on its way through the pipeline (PacketContext.trace):
/// the record the stages add steps to, its ends as the last NAT stage left
/// them (to say what the next one changed), and whether a helper held it.
/// A class, so that the packet context holds one pointer for it: the context
/// of every packet carries the slot, tracing or not, and a large optional
/// value there costs every packet (measured: ~150 instructions a packet).
final class PacketTrace {
    var record: TraceRecord
    var endpoints: TraceEndpoints
    var held = false

    init(record: TraceRecord, endpoints: TraceEndpoints) {
        self.record = record
        self.endpoints = endpoints
    }
}

/// Both ends of a packet as a trace writes them, to see what NAT changed.
struct TraceEndpoints: Equatable {
    var source = ""
    var destination = ""
}

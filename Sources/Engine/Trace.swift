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
        guard !finishedTraces.isEmpty else { return [] }
        defer { finishedTraces.removeAll(keepingCapacity: true) }
        return finishedTraces
    }

    private func seconds(_ now: Timestamp) -> Double {
        if traceStart == nil { traceStart = now }
        return Double(now &- (traceStart ?? now)) / 1e9
    }

    func beginTrace(_ packet: PacketBuffer, input: InterfaceID, now: Timestamp) {
        traceCount &+= 1
        traceTime = now
        traceHeld = false
        let name = input >= 0 && input < interfaces.count ? interfaces[input].name : "?"
        traceRecord = TraceRecord(number: traceCount, time: seconds(now), origin: .received, input: name,
                                  packet: TracePacket(packet.bytes))
        traceEndpoints = Self.endpoints(packet.bytes)
    }

    func finishTrace(_ verdict: Verdict, _ packet: PacketBuffer) {
        guard var record = traceRecord else { return }
        traceRecord = nil
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
            record.verdict = traceHeld ? "held" : "consumed"
        }
        finishedTraces.append(record)
        // Packets the pipeline made for this one come after it in the trace.
        finishedTraces.append(contentsOf: pendingGeneratedTraces)
        pendingGeneratedTraces.removeAll()
    }

    func traceConntrack(_ tracking: TrackResult) {
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
        if helper != .none { text += " (helper \(helper))" } else { traceRecord?.packet.text = nil }
        if let reason = tracking.invalidReason { text += ": \(reason)" }
        traceRecord?.steps.append(TraceStep(kind: "conntrack", text: text, fields: fields))
    }

    private func masterText(_ entry: ConnEntry) -> String? {
        let position = Int(entry.masterPosition)
        guard position >= 0, position < conntrack.table.capacity, conntrack.table[position].id == entry.masterID else {
            return nil
        }
        return conntrack.table[position].original.endpoints(arrow: "->")
    }

    func traceRule(_ hook: Hook, _ verdict: RuleVerdict, decision: Int32) {
        guard traceRecord != nil, let found = ruleset.decision(decision) else { return }
        let verdictText: String
        switch verdict {
        case .accept: verdictText = "accept"
        case .drop: verdictText = "drop"
        case .reject: verdictText = "reject"
        }
        traceRecord?.steps.append(TraceStep(
            kind: "rule", text: "\(verdictText) at \(found.location) (\(hook)) \(found.text)",
            fields: [("hook", .string("\(hook)")), ("verdict", .string(verdictText)), ("where", .string(found.location)),
                     ("rule", .string(found.text))]))
    }

    /// A NAT stage ran: if the packet's addresses or ports changed, say how.
    func traceNAT(_ packet: PacketBuffer, _ parsed: ParsedPacket) {
        let before = traceEndpoints
        let after = Self.endpoints(packet.bytes)
        guard traceRecord != nil, after != before else { return }
        traceEndpoints = after
        if before.source != after.source {
            traceRecord?.steps.append(TraceStep(kind: "nat", text: "source \(before.source) -> \(after.source)"))
        }
        if before.destination != after.destination {
            traceRecord?.steps.append(TraceStep(kind: "nat", text: "destination \(before.destination) -> \(after.destination)"))
        }
    }

    /// A helper's step: its kind is the helper's name ("ftp", "tftp").
    func traceHelper(_ event: HelperEvent) {
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
        if traceRecord != nil {
            traceRecord?.steps.append(step)
        } else if !pendingGeneratedTraces.isEmpty {
            pendingGeneratedTraces[pendingGeneratedTraces.count - 1].steps.append(step)
        }
    }

    /// A packet the engine made (outbox `slot`, leaving by `interface`).
    func traceGenerated(_ slot: Int, interface: InterfaceID, origin: TraceRecord.Origin) {
        traceCount &+= 1
        var record = TraceRecord(number: traceCount, time: seconds(traceTime), origin: origin, input: nil,
                                 packet: TracePacket(outbox.buffers[slot].bytes))
        record.output = interfaces[interface].name
        record.sent = record.packet
        if traceRecord != nil {
            pendingGeneratedTraces.append(record)
        } else {
            finishedTraces.append(record)
        }
    }

    /// "address:port" of each end of the packet as it is now (ports for TCP/UDP).
    static func endpoints(_ bytes: UnsafeMutableRawBufferPointer) -> TraceEndpoints {
        guard bytes.count >= 20 else { return TraceEndpoints() }
        let v4 = bytes[0] >> 4 == 4
        guard v4 || bytes.count >= 40 else { return TraceEndpoints() }
        let source = v4 ? IPv4Address(bytes.be32(12)).description
            : "[" + IPv6Address(loadingFrom: bytes.readOnly, at: 8).description + "]"
        let destination = v4 ? IPv4Address(bytes.be32(16)).description
            : "[" + IPv6Address(loadingFrom: bytes.readOnly, at: 24).description + "]"
        guard let packet = try? Packet(parsing: Array(bytes)) else { return TraceEndpoints(source: source, destination: destination) }
        switch packet.transport {
        case .tcp(let tcp): return TraceEndpoints(source: "\(source):\(tcp.sourcePort)", destination: "\(destination):\(tcp.destinationPort)")
        case .udp(let udp): return TraceEndpoints(source: "\(source):\(udp.sourcePort)", destination: "\(destination):\(udp.destinationPort)")
        default: return TraceEndpoints(source: source, destination: destination)
        }
    }
}

/// Both ends of a packet as a trace writes them, to see what NAT changed.
struct TraceEndpoints: Equatable {
    var source = ""
    var destination = ""
}

// The impairment stage: after the pipeline's verdict, a forwarded packet
// goes through the impairments of the interface it came in by (`in`) and
// then of the one it leaves by (`out`), each a netem of its own
// (ImpairmentStage), and leaves at once, later (ImpairmentQueue, released
// by `releaseImpaired`), twice, corrupted, or not at all:
//
//   … verdict .forward(wan0) ─▶ lan0 in ─▶ wan0 out ─┬─▶ .forward(wan0)      at once
//                                                    ├─▶ .consumed, held     leaves at its time
//                                                    └─▶ .drop(impair-loss / impair-queue-full)
//
// A duplicate is a copy made before the stage corrupts the packet, which
// goes through the same stage again without being duplicated (netem enqueues
// its clone at the root qdisc with duplication switched off) and the stages
// after it; it always waits in the queue, even when due at once. Packets the
// engine makes itself (ICMP errors, resets, fragments, released FTP lines)
// are not impaired. While no stage is on the engine pays one branch per
// packet (`impairing`).

import Conntrack
import Wire

extension Engine {
    /// Sets one direction of one interface's impairments (replacing what it
    /// had, like `tc qdisc replace`); `Impairment()` switches it off. Packets
    /// already held leave at their time.
    public func setImpairment(_ impairment: Impairment, interface: InterfaceID, direction: ImpairmentDirection) {
        guard interface >= 0, interface < interfaces.count else { return }
        let index = Self.stageIndex(interface, direction)
        impairmentStages[index].configure(impairment, defaultSeed: ImpairmentStage.defaultSeed(interface: interface,
                                                                                                 direction: direction))
        impairing = impairmentStages.contains { $0.active }
    }

    public func impairment(interface: InterfaceID, direction: ImpairmentDirection) -> Impairment {
        guard interface >= 0, interface < interfaces.count else { return Impairment() }
        return impairmentStages[Self.stageIndex(interface, direction)].settings
    }

    public func impairmentCounters(interface: InterfaceID, direction: ImpairmentDirection) -> ImpairmentCounters {
        guard interface >= 0, interface < interfaces.count else { return ImpairmentCounters() }
        return impairmentStages[Self.stageIndex(interface, direction)].counters
    }

    /// Packets held by impairments now.
    public var impairedCount: Int { impairmentQueue.count }

    /// When the next held packet is due (the runner's wake-up); nil if none.
    public var nextImpairedRelease: Timestamp? { impairmentQueue.nextRelease }

    /// Hands every held packet due by `now` to `send`, in order, with the
    /// time it was due. The caller writes it to the interface, as it does a
    /// forwarded packet.
    public func releaseImpaired(now: Timestamp, _ send: (inout PacketBuffer, InterfaceID, Timestamp) -> Void) {
        guard !impairmentQueue.isEmpty else { return }
        while let due = impairmentQueue.popDue(now: now) {
            if due.stages.0 >= 0 { impairmentStages[Int(due.stages.0)].held -= 1 }
            if due.stages.1 >= 0 { impairmentStages[Int(due.stages.1)].held -= 1 }
            var packet = due.buffer
            send(&packet, due.interface, due.due)
            impairmentQueue.free(due.slot)
        }
    }

    static func stageIndex(_ interface: InterfaceID, _ direction: ImpairmentDirection) -> Int {
        interface * 2 + (direction == .in ? 0 : 1)
    }

    /// The stage itself, for a packet the pipeline forwards from `input` to `output`.
    func impair(_ packet: inout PacketBuffer, input: InterfaceID, output: InterfaceID, now: Timestamp,
                _ trace: PacketTrace?) -> Verdict {
        let first = Self.stageIndex(input, .in), second = Self.stageIndex(output, .out)
        let path = (impairmentStages[first].active ? Int32(truncatingIfNeeded: first) : ImpairmentQueue.noStage,
                    impairmentStages[second].active ? Int32(truncatingIfNeeded: second) : ImpairmentQueue.noStage)
        guard path.0 >= 0 || path.1 >= 0 else { return .forward(output) }
        let outcome = walk(&packet, path: path, from: 0, arrival: now, noDuplicateAt: -1, output: output, trace, depth: 0)
        if let reason = outcome.drop { return drop(reason) }
        if outcome.release <= now { return .forward(output) }
        hold(packet, path: path, output: output, release: outcome.release)
        trace?.held = true
        return .consumed
    }

    /// Runs the packet through the stages of `path` from step `from` on,
    /// arriving at `arrival`; returns its drop reason or when it leaves.
    private func walk(_ packet: inout PacketBuffer, path: (Int32, Int32), from: Int, arrival: Timestamp, noDuplicateAt: Int,
                      output: InterfaceID, _ trace: PacketTrace?, depth: Int) -> (drop: DropReason?, release: Timestamp) {
        var time = arrival
        for step in from..<2 {
            let stage = Int(step == 0 ? path.0 : path.1)
            guard stage >= 0 else { continue }
            let decision = impairmentStages[stage].decide(length: packet.length, now: time,
                                                          mayDuplicate: step != noDuplicateAt && depth < 2)
            if decision.duplicate {
                duplicate(packet, path: path, step: step, arrival: time, output: output, trace, depth: depth)
            }
            if let trace { traceImpairment(decision, stage: stage, arrival: time, trace) }
            if let reason = decision.drop { return (reason, time) }
            if decision.corrupt { corruptOneBit(&packet, stage: stage) }
            time = decision.release
        }
        return (nil, time)
    }

    /// The copy of a duplicated packet: its own way from the stage that made it.
    private func duplicate(_ packet: PacketBuffer, path: (Int32, Int32), step: Int, arrival: Timestamp,
                           output: InterfaceID, _ trace: PacketTrace?, depth: Int) {
        while impairmentScratch.count <= depth { impairmentScratch.append(PacketBuffer.allocate()) }
        var copy = impairmentScratch[depth]
        copy.load(UnsafeRawBufferPointer(packet.bytes))
        copy.virtio = packet.virtio
        let outcome = walk(&copy, path: path, from: step, arrival: arrival, noDuplicateAt: step, output: output, trace,
                           depth: depth + 1)
        if outcome.drop == nil { hold(copy, path: path, output: output, release: outcome.release) }
    }

    private func hold(_ packet: PacketBuffer, path: (Int32, Int32), output: InterfaceID, release: Timestamp) {
        guard impairmentQueue.hold(UnsafeRawBufferPointer(packet.bytes), virtio: packet.virtio, interface: output,
                                   release: release, stages: path) != nil else { return }
        if path.0 >= 0 { impairmentStages[Int(path.0)].held += 1 }
        if path.1 >= 0 { impairmentStages[Int(path.1)].held += 1 }
    }

    /// netem's corruption: one random bit of the packet flipped, the checksum
    /// left as it was, so the receiver finds it wrong. A partial checksum
    /// (NEEDS_CSUM) is finished first, as netem calls skb_checksum_help, and
    /// DATA_VALID is cleared, or the receiving kernel would trust the
    /// packet. A GSO super-packet (netem segments it first and corrupts one
    /// segment) has a bit of its partial checksum flipped instead, so every
    /// segment the kernel cuts from it arrives with a wrong checksum.
    func corruptOneBit(_ packet: inout PacketBuffer, stage: Int) {
        let bytes = packet.bytes
        guard bytes.count > 0 else { return }
        let point = impairmentStages[stage].corruptionPoint(length: bytes.count)
        packet.virtio.flags.remove(.dataValid)
        if packet.virtio.gsoType != .none && packet.virtio.needsChecksum {
            let field = Int(packet.virtio.checksumStart) + Int(packet.virtio.checksumOffset)
            if field + 1 < bytes.count {
                bytes[field + 1] ^= point.mask
                return
            }
        }
        if packet.virtio.needsChecksum {
            Checksum.completePartial(bytes, start: Int(packet.virtio.checksumStart), offset: Int(packet.virtio.checksumOffset))
            packet.virtio.flags.remove(.needsChecksum)
        }
        bytes[point.index] ^= point.mask
    }

    private func traceImpairment(_ decision: ImpairmentDecision, stage: Int, arrival: Timestamp, _ trace: PacketTrace) {
        let name = interfaces[stage / 2].name, direction = stage % 2 == 0 ? "in" : "out"
        func step(_ event: String, _ text: String) {
            trace.record.steps.append(TraceStep(kind: "impair", text: "\(name) \(direction): \(text)",
                                                fields: [("event", .string(event)), ("interface", .string(name)),
                                                         ("direction", .string(direction))]))
        }
        if decision.duplicate { step("duplicated", "duplicated (the copy goes its own way)") }
        if decision.drop == .impairLoss { step("lost", "lost") }
        if decision.drop == .impairQueueFull {
            step("queue-full", "queue full (\(impairmentStages[stage].settings.limit) packets): dropped at the tail")
        }
        guard decision.drop == nil else { return }
        if decision.corrupt { step("corrupted", "one bit flipped, checksum left wrong") }
        if decision.reordered { step("reordered", "sent early, ahead of the delayed packets") }
        if decision.release > arrival {
            let milliseconds = Double(decision.release - arrival) / 1e6
            step("delayed", "held \(Impairment.trimmed(milliseconds)) ms (delay and rate)")
        }
    }
}

extension ImpairmentStage {
    /// Where corruption strikes: a byte below `length` and one bit of it (netem:
    /// `data[get_random_u32_below(len)] ^= 1 << get_random_u32_below(8)`).
    mutating func corruptionPoint(length: Int) -> (index: Int, mask: UInt8) {
        let index = Int(truncatingIfNeeded: randomBelow(UInt64(max(length, 1))))
        let bit = UInt8(truncatingIfNeeded: randomBelow(8))
        return (min(index, max(length - 1, 0)), 1 << bit)
    }
}

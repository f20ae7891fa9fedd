// Steering (issue 17): with several workers, each engine is one shard and a
// packet belongs to the worker whose shard holds its connection
// (SteeringDirectory.swift). The pipeline asks twice, before anything else
// changes state for the packet:
//
//   a fragment, before reassembly   → the worker its addresses hash to (fragments have no ports)
//   a whole datagram, before conntrack → the owner of its tuple (an ICMP error: the
//                                     quoted packet's tuple reversed), else the
//                                     worker whose helper expects it, else this one
//
// When the answer is another worker, `process` returns `.consumed` and
// leaves `handOff` set: the runner copies the packet into that worker's
// hand-off ring and the worker runs it again from the step after the one
// that sent it (`process(_:from:now:handOff:)`), so a reassembled datagram
// keeps what refragmentation needs and is never steered back and forth.
// With one worker `steering` is nil and this costs one branch a packet.

import Conntrack
import Wire

/// Where the pipeline sent a packet instead of finishing it.
public struct HandOff: Sendable {
    /// The worker that owns it.
    public let worker: Int
    /// How far steering went: the receiving worker does not ask again.
    public let stage: SteeringStage
    /// For a datagram reassembled here: what its refragmentation needs.
    public let reassembled: ReassembledFacts?
    /// `.impairment`: the interface the pipeline forwards it to.
    public var output: InterfaceID = -1

    public init(worker: Int, stage: SteeringStage, reassembled: ReassembledFacts?, output: InterfaceID = -1) {
        self.worker = worker
        self.stage = stage
        self.reassembled = reassembled
        self.output = output
    }
}

public enum SteeringStage: UInt8, Sendable {
    /// Not steered yet (a packet as read).
    case none = 0
    /// Its fragments were gathered by the right worker: steer the whole datagram.
    case fragments = 1
    /// Steered to its owner: run it here.
    case done = 2
    /// Forwarded by its owner, to go through the impairments, which only
    /// worker 0 runs (a rate or a loss pattern is one queue's).
    case impairment = 3
}

extension Engine {
    /// Makes this engine shard `membership.worker` of `membership.workers`:
    /// its flow table claims tuples in the directory, its expectations are
    /// recorded there, and packets owned elsewhere are handed off.
    public func joinSteering(_ membership: SteeringMembership) {
        steering = membership
        // Trace numbers unique across the workers (a `monitor trace` client sees them all).
        traceCount = membership.worker + 1 - max(1, membership.workers)
        traceStride = max(1, membership.workers)
        conntrack.table.steering = membership
        conntrack.expectations.steering = membership
        // Linux's fragment memory limits are the namespace's (ipfrag_high_thresh,
        // ipfrag_low_thresh): each shard gets its share, so that all of them
        // together hold no more than one engine would.
        let workers = max(1, membership.workers)
        reassembly.limits.highThreshold = ReassemblyLimits().highThreshold / workers
        reassembly.limits.lowThreshold = ReassemblyLimits().lowThreshold / workers
    }

    /// With several workers only worker 0's engine impairs: the others
    /// mirror which stages are on (`mirrorImpairments`) and send a forwarded
    /// packet that meets one to worker 0 (`impairElsewhere`).
    public func mirrorImpairments(of primary: Engine) {
        remoteImpairmentStages = primary.impairmentStages.map(\.active)
        remoteImpairing = remoteImpairmentStages.contains(true)
    }

    /// A forwarded packet whose way passes an impairment worker 0 runs.
    @inline(__always)
    func impairElsewhere(input: InterfaceID, output: InterfaceID) -> Verdict? {
        let first = Self.stageIndex(input, .in), second = Self.stageIndex(output, .out)
        guard first >= 0, second >= 0, first < remoteImpairmentStages.count, second < remoteImpairmentStages.count,
              remoteImpairmentStages[first] || remoteImpairmentStages[second] else { return nil }
        handOff = HandOff(worker: 0, stage: .impairment, reassembled: nil, output: output)
        return .consumed
    }

    /// Before reassembly: a fragment goes to the worker its datagram's
    /// addresses hash to.
    @inline(__always)
    func steerFragment(_ packet: PacketBuffer, _ ctx: inout PacketContext, _ membership: SteeringMembership) -> Verdict? {
        let worker = membership.directory.fragmentWorker(source: ctx.parsed.tuple.source,
                                                         destination: ctx.parsed.tuple.destination,
                                                         workers: membership.workers)
        guard worker != membership.worker else { return nil }
        return handOff(packet, ctx, HandOff(worker: worker, stage: .fragments, reassembled: nil))
    }

    /// Before conntrack: a datagram goes to the worker that owns its connection.
    @inline(__always)
    func steerConnection(_ packet: PacketBuffer, _ ctx: inout PacketContext, _ membership: SteeringMembership) -> Verdict? {
        let directory = membership.directory
        let owner: Int?
        if let quoted = ctx.parsed.tracked.quotedTuple {
            // nf_conntrack_inet_error looks the quoted packet's tuple up reversed.
            owner = quoted.inverted().flatMap { directory.owner(of: $0) }
        } else {
            owner = directory.owner(of: ctx.parsed.tuple) ?? directory.owner(expecting: ctx.parsed.tuple)
        }
        guard let owner, owner != membership.worker, owner < membership.workers else { return nil }
        return handOff(packet, ctx, HandOff(worker: owner, stage: .done, reassembled: ctx.reassembled))
    }

    private func handOff(_ packet: PacketBuffer, _ ctx: PacketContext, _ target: HandOff) -> Verdict {
        // A packet is counted as received once: by the worker that finishes
        // it, or, for a reassembled datagram, fragment by fragment by the
        // worker that gathered them.
        if ctx.reassembled == nil {
            statistics.interfaces[ctx.input].receivedPackets &-= 1
            statistics.interfaces[ctx.input].receivedBytes &-= UInt64(ctx.receivedLength)
        }
        statistics.handedOff &+= 1
        handOff = target
        return .consumed
    }
}

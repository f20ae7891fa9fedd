// One direction of one interface's impairments: the settings turned into
// netem's thresholds, the random state, and what the decisions need to
// remember (the Gilbert-Elliott state, the reorder counter, the token
// bucket, how many packets it holds). `decide` takes one packet and says
// what happens to it, in netem_enqueue's order (net/sched/sch_netem.c):
//
//   duplicate? → lost? (a duplicated packet that is lost goes once, as
//   netem's count 2 − 1) → corrupted? → tail drop at `limit` → sent early
//   (reorder) or delayed by delay ± jitter → the rate's token bucket.
//
// The rate is a token bucket (tbf's, not netem's serialization model):
// tokens in bits fill at `rate` up to a burst of 10 ms of the rate (at least
// two 1514-byte frames); a packet leaves once the bucket holds its length,
// first in first out after the delay, so packets wait in the queue and the
// queue's limit tail-drops. A packet sent early by reorder skips the delay
// and the rate, as netem puts it at the head of its queue.
//
// No allocation: plain values, called once per packet while the stage is on.

import Conntrack

/// What a stage did, counted while it is on (`tunwall impair IF show`, `tunwall stats`).
public struct ImpairmentCounters: Equatable, Sendable {
    /// Packets the stage looked at.
    public var packets: UInt64 = 0
    public var delayed: UInt64 = 0
    public var lost: UInt64 = 0
    public var duplicated: UInt64 = 0
    public var reordered: UInt64 = 0
    public var corrupted: UInt64 = 0
    /// Tail drops: the stage held `limit` packets already (the rate's queue).
    public var queueDropped: UInt64 = 0
    /// Packets that waited for the rate's tokens.
    public var rateLimited: UInt64 = 0
}

struct ImpairmentDecision {
    var drop: DropReason? = nil
    var duplicate = false
    var corrupt = false
    var reordered = false
    /// When the packet leaves; the arrival time for "at once".
    var release: Timestamp = 0
}

struct ImpairmentStage {
    private(set) var settings = Impairment()
    /// False while nothing is configured: the stage is skipped.
    private(set) var active = false
    var counters = ImpairmentCounters()
    /// Packets of this stage waiting in the queue (ImpairmentQueue decrements).
    var held = 0

    private var random = ImpairmentRandom(seed: 0)
    private var lossThreshold: UInt32 = 0
    private var lossRandom = CorrelatedRandom(correlation: 0)
    private var geP: UInt32 = 0, geR: UInt32 = 0, geH: UInt32 = 0, geLossInGood: UInt32 = 0
    private var geBad = false
    private var duplicateThreshold: UInt32 = 0
    private var duplicateRandom = CorrelatedRandom(correlation: 0)
    private var reorderThreshold: UInt32 = 0
    private var reorderRandom = CorrelatedRandom(correlation: 0)
    private var corruptThreshold: UInt32 = 0
    private var corruptRandom = CorrelatedRandom(correlation: 0)
    private var delayRandom = CorrelatedRandom(correlation: 0)
    private var counter = 0
    private var tokens = 0.0
    private var burst = 0.0
    private var bitsPerNanosecond = 0.0
    private var bucketTime: Timestamp = 0
    private var lastDeparture: Timestamp = 0

    /// Default seeds differ per interface and direction, so two stages with
    /// the same settings do not lose the same packets in step.
    static func defaultSeed(interface: Int, direction: ImpairmentDirection) -> UInt64 {
        0x7477_616c_6c00_0000 &+ UInt64(truncatingIfNeeded: interface) &* 2 &+ (direction == .in ? 0 : 1)
    }

    /// Takes new settings; the random sequence, the Gilbert-Elliott state, the
    /// reorder counter and the bucket start again from the seed, so setting
    /// the same words twice repeats the same decisions. Counters and packets
    /// already held stay.
    mutating func configure(_ new: Impairment, defaultSeed: UInt64) {
        settings = new
        active = !new.isNone
        random = ImpairmentRandom(seed: new.seed ?? defaultSeed)
        switch new.loss {
        case .none:
            lossThreshold = 0
            geP = 0
        case .random(let p, let correlation):
            lossThreshold = ImpairmentThreshold.of(p)
            lossRandom = CorrelatedRandom(correlation: correlation)
            geP = 0
        case .gilbertElliott(let p, let r, let lossInBad, let lossInGood):
            lossThreshold = 0
            geP = ImpairmentThreshold.of(p)
            geR = ImpairmentThreshold.of(r)
            // netem's a3 is h, the chance a packet in the bad state gets through.
            geH = ImpairmentThreshold.of(1 - lossInBad)
            geLossInGood = ImpairmentThreshold.of(lossInGood)
        }
        geBad = false
        duplicateThreshold = ImpairmentThreshold.of(new.duplicate)
        duplicateRandom = CorrelatedRandom(correlation: new.duplicateCorrelation)
        reorderThreshold = ImpairmentThreshold.of(new.reorder)
        reorderRandom = CorrelatedRandom(correlation: new.reorderCorrelation)
        corruptThreshold = ImpairmentThreshold.of(new.corrupt)
        corruptRandom = CorrelatedRandom(correlation: new.corruptCorrelation)
        delayRandom = CorrelatedRandom(correlation: new.delayCorrelation)
        counter = 0
        bitsPerNanosecond = Double(new.rate) / 1e9
        burst = max(2 * 1514 * 8, Double(new.rate) / 100)
        tokens = burst
        bucketTime = 0
        lastDeparture = 0
    }

    /// The fate of one packet of `length` bytes arriving at `now`;
    /// `mayDuplicate` is false for a duplicate itself (netem clears its
    /// duplicate setting while the copy goes through again).
    mutating func decide(length: Int, now: Timestamp, mayDuplicate: Bool) -> ImpairmentDecision {
        var decision = ImpairmentDecision(release: now)
        counters.packets &+= 1
        if duplicateThreshold != 0 && mayDuplicate && duplicateThreshold >= duplicateRandom.next(&random) {
            decision.duplicate = true
        }
        if lossEvent() {
            if decision.duplicate {
                // netem: count = 2 − 1, the packet goes once.
                decision.duplicate = false
            } else {
                counters.lost &+= 1
                decision.drop = .impairLoss
                return decision
            }
        }
        if decision.duplicate { counters.duplicated &+= 1 }
        if corruptThreshold != 0 && corruptThreshold >= corruptRandom.next(&random) {
            decision.corrupt = true
            counters.corrupted &+= 1
        }
        if held >= settings.limit {
            counters.queueDropped &+= 1
            decision.drop = .impairQueueFull
            return decision
        }
        if settings.gap == 0 || counter < settings.gap - 1 || reorderThreshold < reorderRandom.next(&random) {
            let delay = jitteredDelay()
            if delay > 0 { counters.delayed &+= 1 }
            decision.release = saturatingAdd(now, delay)
            counter &+= 1
        } else {
            // netem: "put one out of N packets at the front of the queue".
            counter = 0
            decision.reordered = true
            counters.reordered &+= 1
            return decision
        }
        if bitsPerNanosecond > 0 { decision.release = tokenBucket(length: length, arrival: decision.release) }
        return decision
    }

    /// Uniform in 0..<bound from the stage's sequence (corruption's byte and bit).
    mutating func randomBelow(_ bound: UInt64) -> UInt64 { random.below(bound) }

    private mutating func lossEvent() -> Bool {
        if lossThreshold != 0 { return lossThreshold >= lossRandom.next(&random) }
        guard geP != 0 || geBad else { return false }
        // loss_gilb_ell: the transition first, then the loss in the state it left from.
        if geBad {
            if random.next32() < geR { geBad = false }
            return random.next32() > geH
        }
        if random.next32() < geP { geBad = true }
        return random.next32() < geLossInGood
    }

    /// tabledist: delay ± jitter, never below zero.
    private mutating func jitteredDelay() -> UInt64 {
        let mu = settings.delay, sigma = settings.jitter
        guard sigma > 0 else { return mu }
        switch settings.distribution {
        case .uniform:
            let rnd = UInt64(delayRandom.next(&random))
            let offset = rnd % (2 * min(sigma, UInt64(UInt32.max)))
            let value = mu &+ offset
            return value > sigma ? value - sigma : 0
        case .normal:
            var sum: UInt64 = 0
            for _ in 0..<12 { sum &+= UInt64(random.next32()) }
            // (sum / 2³² − 6) · σ, in floating point: the sum is below 12 · 2³².
            let z = Double(sum) / 4_294_967_296 - 6
            let value = Double(mu) + z * Double(sigma)
            guard value > 0 else { return 0 }
            return value >= 1.8e19 ? UInt64.max : UInt64(value)
        }
    }

    private mutating func tokenBucket(length: Int, arrival: Timestamp) -> Timestamp {
        let start = max(arrival, lastDeparture)
        if start > bucketTime {
            tokens = min(burst, tokens + Double(start - bucketTime) * bitsPerNanosecond)
            bucketTime = start
        }
        let bits = Double(length) * 8
        var departure = start
        if tokens >= bits {
            tokens -= bits
        } else {
            let wait = (bits - tokens) / bitsPerNanosecond
            departure = saturatingAdd(start, wait >= 1.8e19 ? UInt64.max : UInt64(wait.rounded(.up)))
            tokens = 0
            bucketTime = departure
            counters.rateLimited &+= 1
        }
        lastDeparture = departure
        return departure
    }
}

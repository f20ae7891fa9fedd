// The neighbour table: Linux's neighbour cache (net/core/neighbour.c) for
// the firewall's TAP interfaces, IPv4 (ARP) and IPv6 (ND) entries in one
// table keyed by interface and address (IPv4 held IPv4-mapped, as tuples
// are). It only keeps state and decides; NeighbourStage.swift sends the
// solicitations and the packets it releases, so the rules here read like
// the kernel's:
//
//   (none/FAILED) ─output─▶ INCOMPLETE ─reply─▶ REACHABLE ─reachable_time─▶ STALE
//        ▲                     │ 3 broadcast probes,           ▲ (or DELAY if used
//        └────── FAILED ◀──────┘ retrans 1 s apart             │  in the last 5 s)
//                  ▲                                           │
//                  └── PROBE (3 unicast probes) ◀─5 s─ DELAY ◀─output── STALE
//
// neigh_timer_handler: REACHABLE stays while confirmed + reachable_time is
// ahead; then DELAY if used within delay_first_probe_time, else STALE.
// DELAY becomes REACHABLE if confirmed meanwhile, else PROBE. INCOMPLETE
// and PROBE send a probe each retrans_time and fail after
// neigh_max_probes: ucast_probes + app_probes + mcast_probes (3+0+3, the
// count starting at ucast_probes so that all three are broadcast) for
// INCOMPLETE, ucast_probes + app_probes + mcast_reprobes (3+0+0) for PROBE.
// neigh_update: a valid entry keeps its state when told STALE with the same
// address; a different address replaces it only with override (ARP: after
// locktime 1 s, or a gratuitous ARP; ND: the O flag), or under weak
// override (ND) turns a connected entry STALE and keeps the old address.
//
// Bounds: an entry queues at most `queueBytes` (unres_qlen_bytes) of
// packets while it resolves, dropping the oldest (neigh-queue-full); the
// table holds at most gc_thresh3 entries: past gc_thresh2 (5 s after the
// last time) or at gc_thresh3 a forced collection (neigh_forced_gc) removes
// FAILED entries and those not updated in the last 5 s that hold no
// packets, and a new entry is refused while the table stays full
// (neigh-table-full), so that an ARP flood of made-up senders cannot grow
// it without limit. The periodic collection (neigh_periodic_work) removes
// STALE and FAILED entries unused for gc_staletime (60 s) once the table
// holds gc_thresh1 entries.

import Conntrack
import Wire

public enum NeighbourState: Int, Sendable, CaseIterable, CustomStringConvertible {
    case incomplete, reachable, stale, delay, probe, failed

    /// As `ip neigh` prints it.
    public var description: String {
        switch self {
        case .incomplete: return "INCOMPLETE"
        case .reachable: return "REACHABLE"
        case .stale: return "STALE"
        case .delay: return "DELAY"
        case .probe: return "PROBE"
        case .failed: return "FAILED"
        }
    }

    /// NUD_VALID: the address is known and may be used.
    var isValid: Bool { self == .reachable || self == .stale || self == .delay || self == .probe }
    /// NUD_IN_TIMER.
    var hasTimer: Bool { self == .incomplete || self == .reachable || self == .delay || self == .probe }
}

/// Linux's neighbour parameters (ip-sysctl.rst, neigh/default/*) with their defaults.
public struct NeighbourParameters: Sendable, Hashable {
    public var baseReachableTime: Timestamp = 30 * nanosecondsPerSecond
    public var delayFirstProbeTime: Timestamp = 5 * nanosecondsPerSecond
    public var retransTime: Timestamp = nanosecondsPerSecond
    public var unicastProbes = 3
    public var multicastProbes = 3
    /// unres_qlen_bytes (SK_WMEM_MAX). Linux counts each skb's truesize;
    /// here each packet's length, so the byte bound holds more small packets.
    public var queueBytes = 212_992
    /// Packets an entry queues at most: they are released through the
    /// engine's 64-slot outbox together.
    public var queuePackets = 32
    public var gcThreshold1 = 128
    public var gcThreshold2 = 512
    public var gcThreshold3 = 1024
    public var gcStaleTime: Timestamp = 60 * nanosecondsPerSecond
    /// ARP's locktime (1 s): a different address within it does not override.
    public var lockTime: Timestamp = nanosecondsPerSecond

    public init() {}
    public static let linux = NeighbourParameters()
}

struct NeighbourKey: Hashable {
    var interface: InterfaceID
    var address: IPv6Address
}

/// A packet waiting for its next hop's address.
struct QueuedPacket {
    var bytes: [UInt8]
    var virtio: VirtioNetHeader
}

struct NeighbourEntry {
    var key: NeighbourKey
    var state: NeighbourState
    var address = MACAddress.zero
    var confirmed: Timestamp = 0
    var updated: Timestamp
    var used: Timestamp
    /// When the timer fires (NUD_IN_TIMER states); 0 without one.
    var deadline: Timestamp = 0
    var probes = 0
    var queue: [QueuedPacket] = []
    var queuedBytes = 0
    var live = true
}

/// One line of `tunwall neigh`.
public struct NeighbourRecord: Sendable, Hashable {
    public var interface: String
    public var address: IPAddress
    public var hardwareAddress: MACAddress?
    public var state: NeighbourState

    /// `10.0.1.2 dev lan0 lladdr 02:00:00:00:00:02 REACHABLE`, as `ip neigh` prints it.
    public var description: String {
        var line = "\(address) dev \(interface)"
        if let hardwareAddress { line += " lladdr \(hardwareAddress)" }
        return line + " \(state)"
    }
}

/// What `resolve` found for a packet about to leave.
enum Resolution {
    /// Send it to this address now.
    case send(MACAddress)
    /// Queue it on entry `index`; `probe` asks for a solicitation now.
    case queue(index: Int, probe: Bool)
    /// No entry could be made: the table is full.
    case tableFull
}

/// What a timer or an update asks the stage to do about an entry.
enum NeighbourAction {
    /// Send a solicitation: broadcast/multicast unless `unicast` (then to the entry's address).
    case probe(index: Int, unicast: Bool)
    /// The entry became valid: send its queue.
    case release(index: Int)
    /// Resolution failed: report its queue as unreachable.
    case fail(index: Int)
}

struct NeighbourTable {
    var parameters: NeighbourParameters
    var entries: [NeighbourEntry] = []
    var index: [NeighbourKey: Int] = [:]
    var free: [Int] = []
    /// Earliest deadline of any entry (Timestamp.max when none): the runner's wake-up.
    var nextDeadline: Timestamp = .max
    var lastFlush: Timestamp = 0
    var lastPeriodic: Timestamp = 0
    /// reachable_time: base_reachable_time × a random factor in [0.5, 1.5),
    /// drawn again every 300 s as neigh_periodic_work does.
    var reachableTime: Timestamp
    var lastRandomised: Timestamp = 0
    var random: UInt64
    /// Bytes queued over all entries, bounded by `queueBytesTotal`.
    var queuedTotal = 0
    let queueBytesTotal = 4 << 20
    /// Per interface, the entry the last packet out of it resolved to: a
    /// stream of packets to one next hop skips the dictionary's hashing.
    var lastResolved: [Int] = []

    init(parameters: NeighbourParameters = .linux, seed: UInt64, interfaces: Int = 0) {
        self.parameters = parameters
        lastResolved = Array(repeating: -1, count: interfaces)
        random = seed | 1
        reachableTime = parameters.baseReachableTime
        reachableTime = randomisedReachableTime()
    }

    var count: Int { index.count }

    /// neigh_rand_reach_time: base × uniform [0.5, 1.5).
    mutating func randomisedReachableTime() -> Timestamp {
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        let base = parameters.baseReachableTime
        return base / 2 + (base > 0 ? random % base : 0)
    }

    func lookup(_ key: NeighbourKey) -> Int? { index[key] }

    /// The fast path: a packet about to leave toward `key`
    /// (__neigh_event_send). A valid entry answers at once; STALE starts the
    /// 5 s DELAY; an unknown or FAILED neighbour becomes INCOMPLETE with its
    /// first broadcast probe due now.
    mutating func resolve(_ key: NeighbourKey, now: Timestamp) -> Resolution {
        if key.interface >= 0 && key.interface < lastResolved.count {
            let cached = lastResolved[key.interface]
            if cached >= 0 && cached < entries.count && entries[cached].live && entries[cached].key == key
                && (entries[cached].state == .reachable || entries[cached].state == .delay || entries[cached].state == .probe) {
                entries[cached].used = now
                return .send(entries[cached].address)
            }
        }
        if let position = index[key] {
            if key.interface >= 0 && key.interface < lastResolved.count { lastResolved[key.interface] = position }
            switch entries[position].state {
            case .reachable, .delay, .probe:
                entries[position].used = now
                return .send(entries[position].address)
            case .stale:
                entries[position].used = now
                entries[position].state = .delay
                entries[position].updated = now
                setTimer(position, saturatingAdd(now, parameters.delayFirstProbeTime))
                return .send(entries[position].address)
            case .incomplete:
                entries[position].used = now
                return .queue(index: position, probe: false)
            case .failed:
                startResolving(position, now: now)
                return .queue(index: position, probe: true)
            }
        }
        guard let position = create(key, state: .incomplete, now: now) else { return .tableFull }
        startResolving(position, now: now)
        return .queue(index: position, probe: true)
    }

    private mutating func startResolving(_ position: Int, now: Timestamp) {
        entries[position].state = .incomplete
        entries[position].updated = now
        entries[position].used = now
        entries[position].probes = parameters.unicastProbes
        setTimer(position, saturatingAdd(now, max(parameters.retransTime, nanosecondsPerSecond / 100)))
    }

    /// The probe the caller is about to send (neigh_probe counts it).
    mutating func countProbe(_ position: Int) {
        entries[position].probes += 1
    }

    /// arp_solicit / ndisc_solicit: probes below ucast_probes go unicast to the known address.
    func probeIsUnicast(_ position: Int) -> Bool {
        entries[position].probes < parameters.unicastProbes && entries[position].address != .zero
    }

    /// Queues a copy of a packet on an unresolved entry, dropping the oldest
    /// while over the bound (__neigh_event_send); returns how many were dropped.
    mutating func enqueue(_ position: Int, _ packet: UnsafeRawBufferPointer, virtio: VirtioNetHeader) -> Int {
        var dropped = 0
        let length = packet.count
        guard length <= parameters.queueBytes else { return 1 }
        while !entries[position].queue.isEmpty
                && (entries[position].queuedBytes + length > parameters.queueBytes
                    || entries[position].queue.count >= parameters.queuePackets
                    || queuedTotal + length > queueBytesTotal) {
            let old = entries[position].queue.removeFirst()
            entries[position].queuedBytes -= old.bytes.count
            queuedTotal -= old.bytes.count
            dropped += 1
        }
        guard queuedTotal + length <= queueBytesTotal else { return dropped + 1 }
        entries[position].queue.append(QueuedPacket(bytes: Array(packet), virtio: virtio))
        entries[position].queuedBytes += length
        queuedTotal += length
        return dropped
    }

    /// Takes the queue of an entry (to send or to report).
    mutating func takeQueue(_ position: Int) -> [QueuedPacket] {
        let queue = entries[position].queue
        queuedTotal -= entries[position].queuedBytes
        entries[position].queue = []
        entries[position].queuedBytes = 0
        return queue
    }

    /// neigh_update: news about `key` from ARP or ND. `create` makes an
    /// entry (ARP requests and NS for our address: neigh_event_ns);
    /// otherwise only an existing one changes. `address` nil keeps the one
    /// known (an NA without a target link-layer option).
    mutating func update(_ key: NeighbourKey, address given: MACAddress?, state requested: NeighbourState,
                         override: Bool, weakOverride: Bool = false, create: Bool, now: Timestamp,
                         actions: inout [NeighbourAction]) -> Bool {
        var position = index[key]
        if position == nil {
            guard create, given != nil else { return true }
            guard let made = self.create(key, state: .failed, now: now) else { return false }
            position = made
        }
        guard let position else { return true }
        let old = entries[position].state
        var new = requested
        var address = given ?? entries[position].address
        if given == nil && !old.isValid { return true }
        if new == .reachable { entries[position].confirmed = now }
        if old.isValid {
            if address != entries[position].address && !override {
                if weakOverride && old == .reachable {
                    address = entries[position].address
                    new = .stale
                } else {
                    return true
                }
            } else if address == entries[position].address && new == .stale {
                new = old
            }
        }
        if new != old || address != entries[position].address { entries[position].updated = now }
        if new != old {
            clearTimer(position)
            if new == .probe { entries[position].probes = 0 }
            if new == .reachable { setTimer(position, saturatingAdd(now, reachableTime)) }
            entries[position].state = new
        }
        entries[position].address = address
        if new != old && !old.isValid && new.isValid && !entries[position].queue.isEmpty {
            actions.append(.release(index: position))
        }
        return true
    }

    /// neigh_timer_handler for every entry whose timer is due, then the
    /// periodic collection; what to send goes to `actions`.
    mutating func expire(now: Timestamp, actions: inout [NeighbourAction]) {
        if now - min(now, lastRandomised) >= 300 * nanosecondsPerSecond {
            lastRandomised = now
            reachableTime = randomisedReachableTime()
        }
        if nextDeadline <= now {
            nextDeadline = .max
            for position in entries.indices where entries[position].live && entries[position].deadline != 0 {
                if entries[position].deadline <= now { fire(position, now: now, actions: &actions) }
                if entries[position].deadline != 0 { nextDeadline = min(nextDeadline, entries[position].deadline) }
            }
        }
        if now - min(now, lastPeriodic) >= parameters.baseReachableTime / 2 {
            lastPeriodic = now
            collectPeriodically(now: now)
        }
    }

    private mutating func fire(_ position: Int, now: Timestamp, actions: inout [NeighbourAction]) {
        entries[position].deadline = 0
        var next: Timestamp = 0
        let confirmed = entries[position].confirmed
        switch entries[position].state {
        case .reachable:
            if now <= saturatingAdd(confirmed, reachableTime) {
                next = saturatingAdd(confirmed, reachableTime)
            } else if now <= saturatingAdd(entries[position].used, parameters.delayFirstProbeTime) {
                entries[position].state = .delay
                entries[position].updated = now
                next = saturatingAdd(now, parameters.delayFirstProbeTime)
            } else {
                entries[position].state = .stale
                entries[position].updated = now
            }
        case .delay:
            if now <= saturatingAdd(confirmed, parameters.delayFirstProbeTime) {
                entries[position].state = .reachable
                entries[position].updated = now
                next = saturatingAdd(confirmed, reachableTime)
            } else {
                entries[position].state = .probe
                entries[position].updated = now
                entries[position].probes = 0
                next = saturatingAdd(now, parameters.retransTime)
            }
        case .incomplete, .probe:
            next = saturatingAdd(now, parameters.retransTime)
        case .stale, .failed:
            return
        }
        let state = entries[position].state
        if state == .incomplete || state == .probe {
            let maximum = parameters.unicastProbes + (state == .incomplete ? parameters.multicastProbes : 0)
            if entries[position].probes >= maximum {
                entries[position].state = .failed
                entries[position].updated = now
                actions.append(.fail(index: position))
                return
            }
        }
        if next != 0 { entries[position].deadline = max(next, saturatingAdd(now, nanosecondsPerSecond / 100)) }
        if state == .incomplete || state == .probe {
            actions.append(.probe(index: position, unicast: probeIsUnicast(position)))
        }
    }

    private mutating func setTimer(_ position: Int, _ deadline: Timestamp) {
        entries[position].deadline = deadline
        nextDeadline = min(nextDeadline, deadline)
    }

    private mutating func clearTimer(_ position: Int) { entries[position].deadline = 0 }

    /// neigh_alloc: past gc_thresh3, or past gc_thresh2 with the last
    /// forced collection 5 s ago, collect first; refuse while still at gc_thresh3.
    private mutating func create(_ key: NeighbourKey, state: NeighbourState, now: Timestamp) -> Int? {
        let entriesNow = index.count
        if entriesNow >= parameters.gcThreshold3
            || (entriesNow >= parameters.gcThreshold2 && now > saturatingAdd(lastFlush, 5 * nanosecondsPerSecond)) {
            collectForcibly(now: now)
            if index.count >= parameters.gcThreshold3 { return nil }
        }
        let entry = NeighbourEntry(key: key, state: state, updated: now, used: now)
        let position: Int
        if let reused = free.popLast() {
            entries[reused] = entry
            position = reused
        } else {
            entries.append(entry)
            position = entries.count - 1
        }
        index[key] = position
        return position
    }

    private mutating func remove(_ position: Int) {
        index[entries[position].key] = nil
        _ = takeQueue(position)
        entries[position].live = false
        entries[position].deadline = 0
        free.append(position)
    }

    /// neigh_forced_gc: FAILED entries and those not updated in the last 5
    /// s, holding no packets, until the table is down to gc_thresh2.
    mutating func collectForcibly(now: Timestamp) {
        lastFlush = now
        var excess = index.count - parameters.gcThreshold2
        let recent = now - min(now, 5 * nanosecondsPerSecond)
        for position in entries.indices where excess > 0 && entries[position].live && entries[position].queue.isEmpty {
            if entries[position].state == .failed || entries[position].updated < recent {
                remove(position)
                excess -= 1
            }
        }
    }

    /// neigh_periodic_work: once the table holds gc_thresh1 entries, STALE
    /// and FAILED ones unused for gc_staletime go (entries in a timer state stay).
    mutating func collectPeriodically(now: Timestamp) {
        guard index.count >= parameters.gcThreshold1 else { return }
        for position in entries.indices where entries[position].live && !entries[position].state.hasTimer {
            if entries[position].state == .failed
                || now > saturatingAdd(entries[position].used, parameters.gcStaleTime) {
                remove(position)
            }
        }
    }
}

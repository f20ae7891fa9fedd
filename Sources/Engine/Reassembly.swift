// IP reassembly before conntrack, as Linux's nf_defrag_ipv4 (ip_defrag) and
// nf_conntrack_reasm (nf_ct_frag6_gather) do it, so that conntrack, rules,
// NAT and helpers only ever see whole datagrams. This file holds the queues
// and their rules; ReassemblyStage.swift connects them to the pipeline.
//
// - Queues are keyed as Linux keys them: IPv4 by (source, destination, ID,
//   protocol) (ip4_frag key), IPv6 by (source, destination, fragment header
//   ID) (frag_v6_compare_key; the protocol is not part of it).
// - A queue lives 30 s (IPv4, net.ipv4.ipfrag_time) or 60 s (IPv6,
//   net.ipv6.ip6frag_time) from its first fragment; the timer is not
//   restarted by later ones (inet_frag_find arms it once).
// - Memory: every held fragment is charged its length plus a fixed overhead
//   (Linux charges skb->truesize). Past the high threshold (4 MB,
//   ipfrag_high_thresh) the oldest queues are evicted until the low one
//   (3 MB, ipfrag_low_thresh) is reached, as Linux's inet_frag_evictor did.
// - A fragment wholly inside data already held is a duplicate and tolerated
//   (inet_frag_queue_insert: IPFRAG_DUP); any other overlap discards the
//   whole datagram (RFC 5722 for IPv6; IPv4 since Linux 4.19, FragmentSmack,
//   CVE-2018-5391: IPFRAG_OVERLAP kills the queue).
// - Every fragment but the last carries a multiple of 8 bytes (RFC 791,
//   RFC 8200 §4.5); no datagram grows past 65,535 bytes (IPv4 total length,
//   IPv6 payload length); a second "last" fragment must agree with the first.
//
// Example: 4,096 bytes of UDP sent as fragments of 1,480, 1,480 and 1,144
// data bytes at offsets 0, 1480, 2960: the first two are held (`.held`), the
// third completes the queue (`.complete`), whose pieces the stage copies
// behind the first fragment's header.

import Conntrack
import Wire

/// Which datagram a fragment belongs to.
struct FragmentKey: Hashable {
    var source: IPv6Address
    var destination: IPv6Address
    var identification: UInt32
    /// IPv4 only (IPv6's key has no protocol): 0 for IPv6.
    var protocolNumber: UInt8
    var family: AddressFamily
}

/// What the stage read from a fragment's headers (ReassemblyStage.swift).
struct FragmentFacts {
    var key: FragmentKey
    /// Where the fragment's data sits in the datagram's data, in bytes.
    var offset: Int
    var moreFragments: Bool
    /// Bytes before the fragment's data: the IPv4 header, or the IPv6
    /// unfragmentable part plus the 8-byte fragment header.
    var dataStart: Int
    /// Bytes of the header the reassembled datagram keeps: the IPv4 header,
    /// or the IPv6 unfragmentable part (without the fragment header).
    var headerLength: Int
    /// IPv4 DF on this fragment (Linux remembers max_df_size).
    var dontFragment: Bool
    /// The first header after the fragment header (IPv6) or the protocol (IPv4).
    var nextHeader: IPProtocol
    /// IPv6: where the Next Header byte naming the fragment header sits.
    var nextHeaderField: Int
}

/// One held piece of a datagram's data.
struct FragmentPiece {
    var offset: Int
    var data: [UInt8]
    var end: Int { offset + data.count }
}

/// The fragments of one datagram received so far.
struct FragmentQueue {
    let key: FragmentKey
    let created: Timestamp
    let input: InterfaceID
    /// Pieces sorted by offset, never overlapping.
    var pieces: [FragmentPiece] = []
    /// The first fragment's header bytes (up to `headerLength`), once it came.
    var header: [UInt8]? = nil
    var firstFacts: FragmentFacts? = nil
    /// The end of the data, known once the last fragment (MF clear) came.
    var totalData: Int? = nil
    var receivedData = 0
    /// Linux's frag_max_size: the largest fragment (whole packet) seen.
    var maxSize = 0
    /// The largest fragment that had DF set (IPv4, Linux's max_df_size).
    var maxDFSize = 0
    var memory = 0
    /// Which eviction order entry is this queue's (stale entries are skipped).
    var serial: UInt64

    var isComplete: Bool { header != nil && totalData == receivedData }
}

/// What `Reassembler.add` did with a fragment.
enum ReassemblyOutcome {
    /// Kept; the datagram is not whole yet.
    case held
    /// The datagram is whole: the queue, taken out of the table.
    case complete(FragmentQueue)
    /// The fragment was dropped for `reason`; `alsoDiscarded` fragments held
    /// for the same datagram went with it (overlap, bad length).
    case dropped(DropReason, alsoDiscarded: Int)
}

/// Settings, named after Linux's sysctls.
struct ReassemblyLimits {
    /// net.ipv4.ipfrag_high_thresh / ipfrag_low_thresh (and the ip6 ones).
    var highThreshold = 4 * 1024 * 1024
    var lowThreshold = 3 * 1024 * 1024
    /// net.ipv4.ipfrag_time, net.ipv6.ip6frag_time.
    var ipv4Timeout: Timestamp = 30 * nanosecondsPerSecond
    var ipv6Timeout: Timestamp = 60 * nanosecondsPerSecond
    /// Charged per held fragment on top of its bytes (Linux's skb overhead).
    var overheadPerFragment = 256
}

struct Reassembler {
    var limits = ReassemblyLimits()
    private(set) var queues: [FragmentKey: FragmentQueue] = [:]
    /// Queues in creation order per family, for expiry and eviction
    /// (entries whose serial no longer matches their queue are stale).
    private var order: [[(key: FragmentKey, serial: UInt64)]] = [[], []]
    private var orderHead = [0, 0]
    private var nextSerial: UInt64 = 0
    /// Bytes charged for every fragment held.
    private(set) var memory = 0
    /// The most `memory` has been since start (`tunwall stats`), which
    /// shows whether the thresholds held under a flood of fragments.
    private(set) var peakMemory = 0

    var isEmpty: Bool { queues.isEmpty }

    /// Adds one fragment whose data is `data`, with `whole` the fragment as it
    /// arrived (header included: the first one's header is kept from it).
    /// Evicted queues (memory pressure) are reported through `evicted`.
    mutating func add(_ facts: FragmentFacts, whole: UnsafeRawBufferPointer, input: InterfaceID, now: Timestamp,
                      evicted: (FragmentQueue) -> Void) -> ReassemblyOutcome {
        let data = UnsafeRawBufferPointer(rebasing: whole[facts.dataStart...])
        let end = facts.offset + data.count
        // Every piece but the last is a multiple of 8 bytes (RFC 791; RFC
        // 8200 §4.5 drops such a fragment, Linux's IPv4 trims it).
        if facts.moreFragments && data.count & 7 != 0 {
            return .dropped(.fragmentBadLength, alsoDiscarded: 0)
        }
        // The datagram may not grow past 65,535 bytes (RFC 791 total length;
        // RFC 8200 payload length): Linux's "Oversized IP packet".
        let limit = facts.key.family == .ipv4 ? 65_535 - facts.headerLength : 65_535 - (facts.headerLength - IPv6Packet.headerLength)
        guard end <= limit else { return .dropped(.fragmentTooLong, alsoDiscarded: 0) }

        let charge = whole.count + limits.overheadPerFragment
        if queues[facts.key] == nil {
            if memory + charge > limits.highThreshold { evictOldest(now: now, evicted: evicted) }
            let serial = nextSerial
            nextSerial &+= 1
            queues[facts.key] = FragmentQueue(key: facts.key, created: now, input: input, serial: serial)
            order[familyIndex(facts.key.family)].append((facts.key, serial))
        } else if memory + charge > limits.highThreshold {
            evictOldest(now: now, except: facts.key, evicted: evicted)
        }
        // Taken out while it changes, so its pieces are not copied on write.
        guard var queue = queues.removeValue(forKey: facts.key) else { return .dropped(.fragmentMemory, alsoDiscarded: 0) }

        // An empty fragment kills the queue (ip_frag_queue: "end == offset").
        // The last fragment fixes the length; a second one must agree, and no
        // data may lie past it (ip_frag_queue: "corrupted" → discarded).
        if data.count == 0 { return discardTaken(queue, .fragmentBadLength) }
        if !facts.moreFragments {
            if let total = queue.totalData, total != end { return discardTaken(queue, .fragmentBadLength) }
            if let last = queue.pieces.last, last.end > end { return discardTaken(queue, .fragmentBadLength) }
            queue.totalData = end
        } else if let total = queue.totalData, end > total {
            return discardTaken(queue, .fragmentBadLength)
        }

        // Where the piece goes: before the first piece that ends after its
        // start (pieces are sorted and disjoint, so their ends rise). Inside
        // that piece it is a duplicate, tolerated; reaching into it is an
        // overlap (inet_frag_queue_insert: IPFRAG_DUP, IPFRAG_OVERLAP).
        var low = 0, high = queue.pieces.count
        while low < high {
            let middle = (low + high) / 2
            if queue.pieces[middle].end > facts.offset { high = middle } else { low = middle + 1 }
        }
        if low < queue.pieces.count {
            let next = queue.pieces[low]
            if facts.offset >= next.offset && end <= next.end {
                queues[facts.key] = queue
                return .dropped(.fragmentDuplicate, alsoDiscarded: 0)
            }
            if next.offset < end { return discardTaken(queue, .fragmentOverlap) }
        }
        queue.pieces.insert(FragmentPiece(offset: facts.offset, data: Array(data)), at: low)
        queue.receivedData += data.count
        queue.memory += charge
        memory += charge
        peakMemory = max(peakMemory, memory)
        queue.maxSize = max(queue.maxSize, whole.count)
        if facts.dontFragment { queue.maxDFSize = max(queue.maxDFSize, whole.count) }
        if facts.offset == 0 {
            queue.header = Array(whole[0..<facts.headerLength])
            queue.firstFacts = facts
        }
        if queue.isComplete {
            memory -= queue.memory
            return .complete(queue)
        }
        queues[facts.key] = queue
        return .held
    }

    /// Takes out every queue whose time is up, oldest first.
    mutating func expire(now: Timestamp, _ expired: (FragmentQueue) -> Void) {
        for family in [AddressFamily.ipv4, .ipv6] {
            let f = familyIndex(family)
            let timeout = family == .ipv4 ? limits.ipv4Timeout : limits.ipv6Timeout
            while orderHead[f] < order[f].count {
                let (key, serial) = order[f][orderHead[f]]
                guard let queue = queues[key], queue.serial == serial else { orderHead[f] += 1; continue }
                guard now >= queue.created &+ timeout else { break }
                orderHead[f] += 1
                remove(key)
                expired(queue)
            }
            compact(f)
        }
    }

    // MARK: Internals

    private func familyIndex(_ family: AddressFamily) -> Int { family == .ipv4 ? 0 : 1 }

    /// Drops the whole datagram (already taken out of the table) under
    /// `reason`: the fragment that arrived and every one held.
    private mutating func discardTaken(_ queue: FragmentQueue, _ reason: DropReason) -> ReassemblyOutcome {
        memory -= queue.memory
        return .dropped(reason, alsoDiscarded: queue.pieces.count)
    }

    private mutating func remove(_ key: FragmentKey) {
        guard let queue = queues.removeValue(forKey: key) else { return }
        memory -= queue.memory
    }

    /// Evicts the oldest queues (of either family) until memory is under the
    /// low threshold, as Linux's inet_frag_evictor did before 4.17. Linux
    /// since then refuses every new queue while memory is above the high
    /// threshold (inet_frag_find) and frees nothing before ipfrag_time, so
    /// a flood of incomplete datagrams stops all fragmented traffic for
    /// 30 s (LabFragmentTests measures it); evicting the oldest keeps
    /// genuine datagrams, which complete within milliseconds, flowing.
    private mutating func evictOldest(now: Timestamp, except keep: FragmentKey? = nil, evicted: (FragmentQueue) -> Void) {
        while memory > limits.lowThreshold {
            var oldest: (family: Int, key: FragmentKey, created: Timestamp)? = nil
            for f in 0..<2 {
                var i = orderHead[f]
                while i < order[f].count {
                    let (key, serial) = order[f][i]
                    if let queue = queues[key], queue.serial == serial, key != keep {
                        if oldest == nil || queue.created < oldest!.created { oldest = (f, key, queue.created) }
                        break
                    }
                    i += 1
                }
            }
            guard let victim = oldest, let queue = queues[victim.key] else { return }
            remove(victim.key)
            evicted(queue)
        }
        for f in 0..<2 { compact(f) }
    }

    /// Forgets order entries already passed once they are half the array.
    private mutating func compact(_ f: Int) {
        if orderHead[f] > 64 && orderHead[f] * 2 > order[f].count {
            order[f].removeFirst(orderHead[f])
            orderHead[f] = 0
        }
    }
}

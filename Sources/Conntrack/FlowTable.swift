// The flow table: every tracked connection in chunks of entries that grow
// with use (EntryChunks.swift), reachable by either of its two tuples through
// an open-addressing index.
//
// Layout: `entries` holds ConnEntry values at stable positions (a free list
// recycles positions; new ones are handed out in order, a chunk at a time);
// `index` is a power-of-two array of 64-bit slots, each holding the tuple's
// hash in the high half and (entry << 1 | direction) + 1 in the low half
// (0 = empty). Lookups probe linearly from the hash and compare the stored
// hash before the tuple; deletion shifts later slots back (no tombstones), so
// lookups never slow down with churn. At most half the index is ever used:
// an insert that would pass that doubles it first (growIndex), up to four
// slots per entry of `capacity`.
//
// Linux sizes its hash once (nf_conntrack_buckets, at boot or by sysctl,
// when nf_conntrack_hash_resize rehashes everything at once) and allocates
// each nf_conn when the connection is made. Here the index grows by doubling
// as entries do, so an idle table costs a few KB and 1 M connections about
// 246 bytes each (`tunwall bench table`: 208 an entry, 33.5 of index, 4 of
// free list; the index share is 32 to 64 bytes depending on where the count
// is between two doublings). A doubling rehashes from the stored hashes
// alone (no entry is read): amortised a few slot moves per insert, but one
// insert pays for all of them (about 45 ms for the doubling to 4 M slots,
// printed by `tunwall bench table`), where Linux pays nothing until an
// administrator resizes. The index never shrinks, nor do the entry chunks.
//
// Bounded as Linux's table is (nf_conntrack_max): when full, a new connection
// evicts an entry that never became ASSURED (early_drop); if every entry it
// looks at is ASSURED, the new connection is refused instead.
//
// Expiry is lazy: a lookup that finds an expired entry removes it and misses;
// `sweep` walks a few entries per call to reclaim the rest. No timers.

import Wire

public struct FlowTable: Sendable {
    public let capacity: Int
    public private(set) var count = 0
    var entries: EntryChunks
    var index: [UInt64]
    var indexMask: Int
    /// Positions handed out so far: 0..<issued. Those not in use are on the
    /// free list; `issued` never shrinks and never passes `capacity`.
    public private(set) var issued = 0
    /// Free positions below `issued`, reused last freed first. Its capacity
    /// follows `entries.allocated`, so a removal never allocates.
    var freeList: [Int32] = []
    var sweepCursor = 0
    var evictionCursor = 0
    var nextID: UInt32 = 1
    /// Sequence adjustments of the few connections a helper rewrote, by entry
    /// position: [original direction, reply direction]. Kept apart so that
    /// entries stay plain values and other connections pay nothing.
    var adjustments: [Int32: [SequenceAdjustment]] = [:]
    /// While true, removed entries are kept in `destroyed` for events.
    public var recordsRemovals = false
    public internal(set) var destroyed: [ConnEntry] = []
    /// With several workers (SteeringDirectory.swift): the shared directory
    /// every confirmed connection's two tuples are claimed in before the
    /// packet leaves, and released from when the entry goes; nil with one
    /// worker, where it costs a branch per insert and removal.
    public var steering: SteeringMembership? = nil {
        didSet {
            // Connection ids stay unique across shards (conntrack -L -o json
            // sorts by them): shard w of n numbers w+1, w+1+n, …
            if let steering { nextID = UInt32(truncatingIfNeeded: steering.worker + 1); idStride = UInt32(truncatingIfNeeded: max(1, steering.workers)) }
        }
    }
    var idStride: UInt32 = 1
    /// Entries inserted since the table was made (`conntrack -S` insert=).
    public internal(set) var insertedCount: UInt64 = 0
    /// The index hash, its secret keys drawn when the table is made.
    let tupleHash = TupleHash()

    /// How many entries an eviction looks at before it gives up
    /// (Linux's early_drop scans a bounded number of buckets too).
    static let evictionScan = 64

    /// The index of an empty table: room for 4 connections before it doubles.
    static let minimumIndexSize = 16

    /// The most entries a table may have: an index slot holds a position in
    /// 31 bits (and the rest of the engine keeps positions as Int32). Larger
    /// capacities are taken as this one (the firewall's config allows 2^30).
    public static let maximumCapacity = 1 << 30

    public init(capacity: Int) {
        let capacity = min(max(1, capacity), Self.maximumCapacity)
        self.capacity = capacity
        entries = EntryChunks(capacity: capacity)
        index = Array(repeating: 0, count: Self.minimumIndexSize)
        indexMask = Self.minimumIndexSize - 1
    }

    /// The index hash of a tuple (TupleHash), folded to the 32 bits an index word keeps.
    @inline(__always)
    func hash(_ tuple: ConnTuple) -> UInt32 {
        let h = tupleHash.hash(tuple)
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }

    public var isFull: Bool { count >= capacity }

    /// True if `position` is one the table has handed out (live or free
    /// since): the test for a position kept elsewhere before reading it.
    @inline(__always)
    public func isIssued(_ position: Int) -> Bool { position >= 0 && position < issued }

    // MARK: Lookup

    /// The live entry holding `tuple`, and which of its tuples it is. An
    /// expired entry found on the way is removed and reported as a miss.
    public mutating func lookup(_ tuple: ConnTuple, now: Timestamp) -> (entry: Int, direction: Direction)? {
        guard let found = find(tuple) else { return nil }
        if entries[found.entry].expires <= now {
            remove(found.entry)
            return nil
        }
        return found
    }

    func find(_ tuple: ConnTuple) -> (entry: Int, direction: Direction)? {
        find(tuple, hash: hash(tuple))
    }

    @inline(__always)
    private func find(_ tuple: ConnTuple, hash: UInt32) -> (entry: Int, direction: Direction)? {
        var slot = Int(hash) & indexMask
        while true {
            let value = index[slot]
            if value == 0 { return nil }
            if UInt32(truncatingIfNeeded: value >> 32) == hash {
                let ref = Int(UInt32(truncatingIfNeeded: value)) - 1
                let entry = ref >> 1
                let direction: Direction = ref & 1 == 0 ? .original : .reply
                if entries[entry].tuple(direction) == tuple { return (entry, direction) }
            }
            slot = (slot + 1) & indexMask
        }
    }

    // MARK: Sequence adjustment

    /// Records that the segment of `direction` starting at `position` was
    /// rewritten `delta` bytes longer (SequenceAdjustment.record).
    public mutating func recordAdjustment(_ entry: Int, _ direction: Direction, at position: SeqNumber, delta: Int32) {
        guard isIssued(entry), entries[entry].inUse, delta != 0 else { return }
        var both = adjustments[Int32(entry)] ?? [SequenceAdjustment(), SequenceAdjustment()]
        both[direction.rawValue].record(at: position, delta: delta)
        adjustments[Int32(entry)] = both
        entries[entry].status.insert(.sequenceAdjusted)
    }

    /// The adjustment of `direction` of a connection (empty if none).
    public func adjustment(_ entry: Int, _ direction: Direction) -> SequenceAdjustment {
        adjustments[Int32(entry)]?[direction.rawValue] ?? SequenceAdjustment()
    }

    // The two reads below are `mutating` only for how they are called: through
    // a class's stored property (the engine's), a non-mutating call copies the
    // whole table value first (retaining its arrays) on every packet, while a
    // mutating one works in place.

    /// The entry's status bits, read in place (the per-packet NAT check).
    @inline(__always)
    public mutating func status(_ entry: Int) -> ConnStatus { entries[entry].status }

    /// The entry's helper, read in place.
    @inline(__always)
    public mutating func helper(_ entry: Int) -> HelperKind { entries[entry].helper }

    /// `ConnEntry.translated`, computed in place (no copy of the entry).
    @inline(__always)
    public mutating func translated(_ entry: Int, _ direction: Direction) -> ConnTuple { entries[entry].translated(direction) }

    /// The entry at a position, read or changed in place. Addressors, not
    /// `_read`/`_modify`: a coroutine called from another module whose frame
    /// holds a 208-byte entry gets that frame from malloc (two allocations a
    /// read, seen in `tunwall bench connections`); an addressor returns a pointer.
    public subscript(entry: Int) -> ConnEntry {
        unsafeAddress { entries.address(entry) }
        unsafeMutableAddress { entries.mutableAddress(entry) }
    }

    // MARK: Insert and remove

    public enum InsertError: Error, Equatable {
        /// Every entry looked at was ASSURED: nothing could be evicted.
        case full
        /// One of the tuples is already in the table (a clash).
        case clash
    }

    /// Adds a connection; when full, first evicts a non-ASSURED entry.
    /// Returns the entry's position, or why it could not be added.
    public mutating func insert(_ entry: ConnEntry, now: Timestamp) -> Result<Int, InsertError> {
        // Each tuple's hash once, for the clash check and for placing it.
        let originalHash = hash(entry.original), replyHash = hash(entry.reply)
        if find(entry.original, hash: originalHash) != nil || find(entry.reply, hash: replyHash) != nil {
            return .failure(.clash)
        }
        guard let position = takePosition(now: now) else { return .failure(.full) }
        if let steering, !steering.directory.claim(original: entry.original, reply: entry.reply, owner: steering.worker) {
            // Another worker has one of the tuples (nf_conntrack_confirm's clash).
            freeList.append(Int32(truncatingIfNeeded: position))
            return .failure(.clash)
        }
        steering?.noteOwned(entry, adding: true)
        if 4 * count + 4 > index.count { growIndex() }
        var stored = entry
        stored.inUse = true
        stored.id = nextID
        insertedCount &+= 1
        nextID &+= idStride
        if nextID == 0 { nextID = 1 }
        entries[position] = stored
        place(hash: originalHash, reference: position << 1)
        place(hash: replyHash, reference: position << 1 | 1)
        count += 1
        return .success(position)
    }

    /// A free position: a freed one, else the next never used (with a new
    /// chunk when the last is used up), else one made by eviction when the
    /// table is full.
    private mutating func takePosition(now: Timestamp) -> Int? {
        if let free = freeList.popLast() { return Int(free) }
        if issued < capacity {
            if issued == entries.allocated {
                guard entries.addChunk() else { return nil }
                // Room for every position to be freed at once, so that a
                // removal (on the packet path: an expired entry met by a
                // lookup) never allocates; grown geometrically.
                if freeList.capacity < entries.allocated {
                    freeList.reserveCapacity(min(capacity, max(entries.allocated, 2 * freeList.capacity)))
                }
            }
            issued += 1
            return issued - 1
        }
        guard evictOne(now: now) else { return nil }
        return freeList.popLast().map { Int($0) }
    }

    /// Doubles the index and places every tuple again, from the hash each
    /// slot stores (nf_conntrack_hash_resize moves every entry to the new
    /// buckets the same way, all at once). Only on insert; never past four
    /// slots per entry of `capacity`, which half-full holds them all.
    private mutating func growIndex() {
        let size = index.count * 2
        var grown = [UInt64](repeating: 0, count: size)
        let mask = size - 1
        for value in index where value != 0 {
            var slot = Int(UInt32(truncatingIfNeeded: value >> 32)) & mask
            while grown[slot] != 0 { slot = (slot + 1) & mask }
            grown[slot] = value
        }
        index = grown
        indexMask = mask
    }

    private mutating func place(hash: UInt32, reference: Int) {
        var slot = Int(hash) & indexMask
        while index[slot] != 0 { slot = (slot + 1) & indexMask }
        index[slot] = UInt64(hash) << 32 | UInt64(reference + 1)
    }

    /// Removes the entry at `position` (both of its index slots).
    public mutating func remove(_ position: Int) {
        guard isIssued(position), entries[position].inUse else { return }
        unplace(reference: position << 1)
        unplace(reference: position << 1 | 1)
        if recordsRemovals { destroyed.append(entries[position]) }
        if let steering {
            steering.directory.release(original: entries[position].original, reply: entries[position].reply,
                                       owner: steering.worker)
            steering.noteOwned(entries[position], adding: false)
        }
        entries[position].inUse = false
        if entries[position].status.contains(.sequenceAdjusted) {
            entries[position].status.remove(.sequenceAdjusted)
            adjustments[Int32(position)] = nil
        }
        freeList.append(Int32(position))
        count -= 1
    }

    private mutating func unplace(reference: Int) {
        let target = UInt64(reference + 1)
        let tuple = entries[reference >> 1].tuple(reference & 1 == 0 ? .original : .reply)
        var slot = Int(hash(tuple)) & indexMask
        while index[slot] != 0 && index[slot] & 0xffff_ffff != target { slot = (slot + 1) & indexMask }
        guard index[slot] != 0 else { return }
        // Backward-shift deletion (Knuth 6.4 Algorithm R): pull later slots
        // of the same probe run into the hole so no lookup stops short.
        var hole = slot
        var next = (hole + 1) & indexMask
        while index[next] != 0 {
            let home = Int(UInt32(truncatingIfNeeded: index[next] >> 32)) & indexMask
            // Move it if its home is not inside (hole, next].
            let outside = hole <= next ? (home <= hole || home > next) : (home <= hole && home > next)
            if outside {
                index[hole] = index[next]
                hole = next
            }
            next = (next + 1) & indexMask
        }
        index[hole] = 0
    }

    /// early_drop: removes one entry that may go early (expired, not
    /// ASSURED, or a closing TCP connection: `canEarlyDrop`), looking at up
    /// to `evictionScan` entries from a rotating cursor.
    mutating func evictOne(now: Timestamp) -> Bool {
        for _ in 0..<min(Self.evictionScan, issued) {
            let position = evictionCursor
            evictionCursor = (evictionCursor + 1) % issued
            if entries[position].inUse && (entries[position].expires <= now || entries[position].canEarlyDrop) {
                remove(position)
                evicted &+= 1   // a statistic: wraps, never traps
                return true
            }
        }
        return false
    }

    /// Connections evicted to make room (Linux: early_drop).
    public private(set) var evicted: UInt64 = 0

    // MARK: Expiry

    /// Removes expired entries among the next `budget` positions; returns how
    /// many were removed. Called a little at a time, never all at once.
    /// Over 95 % full it also removes the entries that may go early, as
    /// Linux's gc_worker does above nf_conntrack_max95
    /// (gc_worker_can_early_drop), so a table under pressure keeps room for
    /// new connections before it is full.
    @discardableResult
    public mutating func sweep(now: Timestamp, budget: Int) -> Int {
        var removed = 0
        let pressed = count > Self.pressureThreshold(capacity)
        for _ in 0..<min(budget, issued) {
            let position = sweepCursor
            sweepCursor = (sweepCursor + 1) % issued
            guard entries[position].inUse else { continue }
            if entries[position].expires <= now {
                remove(position)
                removed += 1
            } else if pressed && entries[position].canEarlyDrop && count > Self.pressureThreshold(capacity) {
                remove(position)
                evicted &+= 1   // a statistic: wraps, never traps
                removed += 1
            }
        }
        return removed
    }

    /// nf_conntrack_max95: 95 % of the capacity.
    static func pressureThreshold(_ capacity: Int) -> Int { capacity / 20 * 19 + capacity % 20 * 19 / 20 }

    /// Positions of the live entries (for listings; allocates).
    public func livePositions(now: Timestamp) -> [Int] {
        (0..<issued).filter { entries[$0].inUse && entries[$0].expires > now }
    }
}

extension ConnEntry {
    /// May go before its time when the table is under pressure
    /// (gc_worker_can_early_drop): a connection that is not ASSURED, or a TCP
    /// connection already closing (tcp_can_early_drop: FIN_WAIT, CLOSE_WAIT,
    /// LAST_ACK, TIME_WAIT, CLOSE), whose end is near anyway.
    var canEarlyDrop: Bool {
        guard isAssured else { return true }
        return original.protocol == .tcp && tcpState.isClosing
    }
}

// The steering directory: which worker owns a connection, shared by every
// worker thread when the firewall runs several (issue 17; `"workers": N`).
//
// Each worker owns a whole engine with its own conntrack shard. A packet
// read by one worker may belong to a connection another worker owns (the
// kernel picks a TUN queue per flow hash, the two directions of a NATed
// connection arrive on different devices, an FTP data connection is
// expected by its control connection's owner). The directory answers
// "whose is this tuple?" without a lock:
//
//   confirm (FlowTable.insert)      claim(original), claim(reply) → owner
//   expectation made (helper)       add(expectation key)          → owner
//   removal, expectation gone       release the same words
//   a packet read                   owner(of: tuple) ?? owner(expecting:) ?? the reader
//
// Layout: a fixed array of 64-bit words (sized once from the conntrack
// maximum, never grown, so no packet allocates), each `fingerprint << 8 |
// owner`, 0 = free. A key's words live in a window of `window` slots from
// its home slot; lookups read the window with acquire loads and take no
// lock (Linux's conntrack lookups are RCU readers the same way). Writers
// put a word in with a compare-and-exchange from 0 and take it out with one
// back to 0, so concurrent writers never overwrite each other. Only a claim,
// which must be "insert if no other owner has it" (nf_conntrack_confirm's
// clash check), takes a spin lock, one of `stripes` chosen by the home slot
// (Linux takes the two buckets' locks, nf_conntrack_double_lock).
//
// The key is a 56-bit keyed hash of the tuple, not the tuple: a collision
// (odds 2^-56 per pair, and the keys are secret, so they cannot be aimed)
// only sends a packet to another worker, whose own table still compares
// whole tuples; it can never mix two connections' state.

import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import Wire

public final class SteeringDirectory: @unchecked Sendable {
    /// Slots a key may occupy from its home slot (two cache lines).
    public static let window = 16
    /// Spin locks for claims, chosen by home slot.
    static let stripes = 1024
    /// The most workers (TUN allows 256 queues; the owner is 8 bits).
    public static let maximumWorkers = 255

    public let slotCount: Int
    let mask: Int
    let words: UnsafeMutablePointer<Atomic<UInt64>>
    let locks = SpinLocks(count: SteeringDirectory.stripes)
    let hash: TupleHash
    /// Claims and adds refused because a key's window was full (a counted drop for the caller).
    let overflows = Atomic<UInt64>(0)

    /// Room for `entries` keys at a quarter of the slots (two per
    /// connection, one per expectation), at least 4,096 slots. The memory is
    /// calloc'd: pages the hashes never touch stay unmapped, so a large
    /// directory for a mostly idle firewall costs little resident memory.
    public convenience init(entries: Int) {
        self.init(entries: entries, hash: TupleHash())
    }

    /// A directory with the hash given (tests replay keys that once
    /// clustered; the firewall always takes fresh ones).
    init(entries: Int, hash: TupleHash) {
        var size = 4096
        let wanted = min(max(entries, 1), 1 << 22) * 4   // at most 2^24 slots, 128 MB of address space
        while size < wanted { size <<= 1 }
        slotCount = size
        mask = size - 1
        guard let raw = calloc(size, MemoryLayout<UInt64>.stride) else {
            fatalError("SteeringDirectory: cannot allocate \(size) slots")
        }
        words = raw.bindMemory(to: Atomic<UInt64>.self, capacity: size)
        self.hash = hash
    }

    deinit {
        free(UnsafeMutableRawPointer(words))
    }

    // MARK: Keys

    /// The fingerprint (56 bits, never 0) of a connection tuple.
    @inline(__always)
    func fingerprint(_ tuple: ConnTuple) -> UInt64 { Self.fingerprint(hash: hash.hash(tuple)) }

    /// The fingerprint of an expectation's key: the tuple without its source
    /// port, in a domain of its own (bit 63 of the port word) so that it
    /// never equals a whole tuple's.
    @inline(__always)
    func fingerprint(_ key: ExpectationKey) -> UInt64 {
        let rest = 1 << 63 | UInt64(key.destinationPort) << 16
            | UInt64(key.protocol.rawValue) << 8 | UInt64(key.family.rawValue)
        return Self.fingerprint(hash: hash.hash(source: key.source, destination: key.destination, rest: rest))
    }

    /// The top 56 bits of a hash, never 0 (0 is a free slot).
    @inline(__always)
    private static func fingerprint(hash h: UInt64) -> UInt64 {
        let print = h >> 8
        return print == 0 ? 1 : print
    }

    @inline(__always)
    private func home(_ print: UInt64) -> Int { Int(truncatingIfNeeded: print) & mask }

    /// The worker that reassembles datagrams from `source` to `destination`:
    /// fragments carry no ports (only the first has them), so every fragment
    /// of a datagram goes to one worker chosen by its addresses alone (as
    /// the kernel's own flow hash does for fragments), keyed like the rest.
    @inline(__always)
    public func fragmentWorker(source: IPv6Address, destination: IPv6Address, workers: Int) -> Int {
        guard workers > 1 else { return 0 }
        let h = Self.fingerprint(hash: hash.hash(source: source, destination: destination, rest: 1 << 62))
        return Int(truncatingIfNeeded: h % UInt64(truncatingIfNeeded: workers))
    }

    // MARK: Lookups (no lock)

    /// The worker that owns the connection with this tuple (either of its
    /// two), or nil when none does.
    @inline(__always)
    public func owner(of tuple: ConnTuple) -> Int? { owner(print: fingerprint(tuple)) }

    /// The worker whose helper expects a connection like this tuple (the
    /// source port is the expectation's wildcard), or nil.
    @inline(__always)
    public func owner(expecting tuple: ConnTuple) -> Int? { owner(print: fingerprint(ExpectationKey(tuple))) }

    @inline(__always)
    private func owner(print: UInt64) -> Int? {
        let start = home(print)
        for step in 0..<Self.window {
            let word = words[(start + step) & mask].load(ordering: .acquiring)
            if word >> 8 == print { return Int(word & 0xff) }
        }
        return nil
    }

    // MARK: Changes

    /// Claims both tuples of a connection being confirmed for `owner`:
    /// false (and nothing changed) when another worker already has one of
    /// them (two workers confirmed the same connection, or picked the same
    /// NAT mapping: Linux's confirm clash, the packet is dropped) or a
    /// window is full.
    public func claim(original: ConnTuple, reply: ConnTuple, owner: Int) -> Bool {
        let first = fingerprint(original)
        guard claim(print: first, owner: owner) else { return false }
        let second = fingerprint(reply)
        if second == first { return true }
        guard claim(print: second, owner: owner) else {
            remove(print: first, owner: owner)
            return false
        }
        return true
    }

    /// Takes back what `claim` put in.
    public func release(original: ConnTuple, reply: ConnTuple, owner: Int) {
        let first = fingerprint(original), second = fingerprint(reply)
        remove(print: first, owner: owner)
        if second != first { remove(print: second, owner: owner) }
    }

    /// Records an expectation made by `owner`'s helper (several workers may
    /// expect the same key: each has its own word).
    @discardableResult
    public func add(expectation key: ExpectationKey, owner: Int) -> Bool {
        insert(print: fingerprint(key), owner: owner)
    }

    /// Takes back what `add(expectation:)` put in.
    public func remove(expectation key: ExpectationKey, owner: Int) {
        remove(print: fingerprint(key), owner: owner)
    }

    /// Words in use (a walk of every slot: for tests and statistics).
    public var count: Int {
        var total = 0
        for slot in 0..<slotCount where words[slot].load(ordering: .relaxed) != 0 { total += 1 }
        return total
    }

    /// Claims and expectations refused for a full window.
    public var overflowCount: UInt64 { overflows.load(ordering: .relaxed) }

    private func claim(print: UInt64, owner: Int) -> Bool {
        let start = home(print)
        return locks.withLock((start >> 4) & (Self.stripes - 1)) {
            for step in 0..<Self.window {
                let word = words[(start + step) & mask].load(ordering: .acquiring)
                if word >> 8 == print && Int(word & 0xff) != owner { return false }
            }
            return insert(print: print, owner: owner)
        }
    }

    private func insert(print: UInt64, owner: Int) -> Bool {
        let word = print << 8 | UInt64(UInt8(truncatingIfNeeded: owner))
        let start = home(print)
        for step in 0..<Self.window {
            let slot = (start + step) & mask
            if words[slot].load(ordering: .relaxed) == 0,
               words[slot].compareExchange(expected: 0, desired: word, ordering: .acquiringAndReleasing).exchanged {
                return true
            }
        }
        overflows.add(1, ordering: .relaxed)
        return false
    }

    private func remove(print: UInt64, owner: Int) {
        let word = print << 8 | UInt64(UInt8(truncatingIfNeeded: owner))
        let start = home(print)
        for step in 0..<Self.window {
            let slot = (start + step) & mask
            if words[slot].load(ordering: .relaxed) == word,
               words[slot].compareExchange(expected: word, desired: 0, ordering: .acquiringAndReleasing).exchanged {
                return
            }
        }
    }
}

/// What a shard's flow table and expectation table tell the directory: the
/// directory and this shard's worker number.
public struct SteeringMembership: Sendable {
    public let directory: SteeringDirectory
    public let worker: Int
    public let workers: Int
    /// The devices carry tunwall's steering program (SteeringHash.swift):
    /// the kernel queues a packet by its ports, so NAT prefers ports that
    /// bring replies back to this worker, and a connection owned elsewhere
    /// than its ports hash to is written into the program's exceptions.
    public let kernelQueues: SteeringExceptions?

    public init(directory: SteeringDirectory, worker: Int, workers: Int, kernelQueues: SteeringExceptions? = nil) {
        self.directory = directory
        self.worker = worker
        self.workers = workers
        self.kernelQueues = kernelQueues
    }

    /// Whether a translated tuple's replies reach this worker by the
    /// program's hash (always true when the kernel does not steer by ports).
    @inline(__always)
    public func repliesComeHere(_ translated: ConnTuple) -> Bool {
        guard let kernelQueues, workers > 1, let reply = translated.inverted(), let key = SteeringHash.key(of: reply) else {
            return true
        }
        return kernelQueues.worker(key: key, workers: workers) == worker
    }

    /// A connection this worker now owns (at insert) or no longer owns (at
    /// removal): each tuple whose key the program hashes to another worker
    /// is an exception while the connection lives.
    @inline(__always)
    func noteOwned(_ entry: ConnEntry, adding: Bool) {
        guard let kernelQueues, workers > 1 else { return }
        note(entry.original, kernelQueues, adding: adding)
        note(entry.reply, kernelQueues, adding: adding)
    }

    @inline(__always)
    private func note(_ tuple: ConnTuple, _ kernelQueues: SteeringExceptions, adding: Bool) {
        guard let key = SteeringHash.key(of: tuple), SteeringHash.worker(key: key, workers: workers) != worker else { return }
        if adding { kernelQueues.add(key: key, owner: worker) } else { kernelQueues.remove(key: key) }
    }
}

// The queue the kernel gives a packet of a multi-queue TUN device when
// tunwall's steering program is attached (Sources/CTunwall/CSteering.c,
// TUNSETSTEERINGEBPF): the same function in Swift, so that NAT can choose a
// port whose replies the kernel sends to the worker that owns the
// connection (SteeringMembership.repliesComeHere; NATStage.chooseSource).
// VPP's NAT does the same with a port range per worker thread; here a port
// fits a worker when the hash says so, and any other port still works (the
// reply is handed off, as without the program).
//
// The key is what NAT keeps on both sides of a connection: the two ports
// XORed (TCP, UDP, UDP-Lite, SCTP, DCCP: the same value in both directions),
// or an ICMP echo's identifier. drivers/net/tun.c, tun_ebpf_select_queue:
// the queue is the program's return value as a u16, modulo the number of
// queues.

import Synchronization

public enum SteeringHash {
    /// The program's return value for a 16-bit key: the key times 2^32/φ, the upper half.
    @inline(__always)
    public static func value(key: UInt16) -> UInt16 {
        UInt16(truncatingIfNeeded: (UInt32(truncatingIfNeeded: key) &* 0x9E37_79B1) >> 16)
    }

    /// The worker (queue) the program hashes a key to, without exceptions.
    @inline(__always)
    public static func worker(key: UInt16, workers: Int) -> Int {
        Int(value(key: key)) % max(1, workers)
    }

    /// The worker (queue) of a packet with these two ports, in either order.
    @inline(__always)
    public static func worker(ports first: UInt16, _ second: UInt16, workers: Int) -> Int {
        worker(key: first ^ second, workers: workers)
    }

    /// The program's key for a tuple as its packets arrive: the ports XORed
    /// (TCP, UDP), an echo's identifier; nil where the program hashes
    /// addresses (other protocols, ICMP errors).
    @inline(__always)
    public static func key(of tuple: ConnTuple) -> UInt16? {
        if tuple.protocol == .tcp || tuple.protocol == .udp { return tuple.sourcePort ^ tuple.destinationPort }
        if tuple.protocol == .icmp, tuple.icmpType == 8 || tuple.icmpType == 0 { return tuple.sourcePort }
        if tuple.protocol == .icmpv6, tuple.icmpType == 128 || tuple.icmpType == 129 { return tuple.sourcePort }
        return nil
    }
}

/// The steering program's exceptions (CSteering.c): one 64-bit word per
/// key, 0 or the owning worker + 1, in the program's array map mapped into
/// our memory (or memory of our own, for tests and when no program runs).
/// A connection is an exception when a tuple of it hashes to another worker
/// than its owner (an FTP data connection claimed by the worker that expected
/// it, a DNAT that changes a port): its owner writes the word at its
/// tuple's key, and the kernel then queues that key's packets to the owner.
/// Counts per key keep the word while any connection needs it; when two
/// owners want one key (a rare collision) the later wins and the other's
/// packets are handed off, as without the program.
public final class SteeringExceptions: @unchecked Sendable {
    public static let keys = 65536
    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let counts: UnsafeMutablePointer<UInt32>
    private let ownMemory: Bool
    private let locks = SpinLocks(count: 64)

    /// `mapped`: the program's map (CTW_STEERING_KEYS words, zeroed by the
    /// kernel, mapped for the process's life); nil: memory of our own.
    public init(mapped: UnsafeMutableRawPointer? = nil) {
        ownMemory = mapped == nil
        let raw = mapped ?? UnsafeMutableRawPointer.allocate(byteCount: Self.keys * 8, alignment: 8)
        words = raw.bindMemory(to: Atomic<UInt64>.self, capacity: Self.keys)
        for key in 0..<Self.keys { (words + key).initialize(to: Atomic(0)) }
        counts = .allocate(capacity: Self.keys)
        counts.initialize(repeating: 0, count: Self.keys)
    }

    deinit {
        counts.deallocate()
        if ownMemory { UnsafeMutableRawPointer(words).deallocate() }
    }

    /// The worker the kernel queues a packet with this key to.
    @inline(__always)
    public func worker(key: UInt16, workers: Int) -> Int {
        let word = words[Int(key)].load(ordering: .relaxed)
        return word != 0 ? Int(truncatingIfNeeded: word &- 1) % max(1, workers) : SteeringHash.worker(key: key, workers: workers)
    }

    /// The owner recorded for a key, if any (for tests and listings).
    public func owner(key: UInt16) -> Int? {
        let word = words[Int(key)].load(ordering: .relaxed)
        return word == 0 ? nil : Int(truncatingIfNeeded: word &- 1)
    }

    func add(key: UInt16, owner: Int) {
        locks.withLock(Int(key) & 63) {
            counts[Int(key)] &+= 1
            words[Int(key)].store(UInt64(truncatingIfNeeded: owner) &+ 1, ordering: .relaxed)
        }
    }

    func remove(key: UInt16) {
        locks.withLock(Int(key) & 63) {
            guard counts[Int(key)] > 0 else { return }
            counts[Int(key)] &-= 1
            if counts[Int(key)] == 0 { words[Int(key)].store(0, ordering: .relaxed) }
        }
    }
}

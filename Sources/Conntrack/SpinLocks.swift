// An array of spin locks, for state several workers share that is held for
// a few instructions at a time: the steering directory's claim stripes
// (SteeringDirectory.swift, as nf_conntrack_double_lock takes bucket locks)
// and the `limit rate` buckets (Rules' LimitBuckets.swift, as nft_limit's
// per-rule spinlock). A waiter yields the CPU rather than spin hot: on a
// machine with no more CPUs than workers the holder may be the one waiting
// to run.

import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class SpinLocks: @unchecked Sendable {
    public let count: Int
    private let words: UnsafeMutablePointer<Atomic<UInt32>>

    public init(count: Int) {
        self.count = max(count, 1)
        words = .allocate(capacity: self.count)
        for index in 0..<self.count { (words + index).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: count)
        words.deallocate()
    }

    /// Runs `body` holding lock `index`.
    @inline(__always)
    public func withLock<T>(_ index: Int, _ body: () -> T) -> T {
        while !words[index].compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
            while words[index].load(ordering: .relaxed) != 0 { sched_yield() }
        }
        defer { words[index].store(0, ordering: .releasing) }
        return body()
    }
}

// The token buckets of a ruleset's `limit rate` statements, one per
// statement, shared by the rulesets of all workers (`"workers": N`): Linux's
// nft_limit keeps one bucket per rule for every CPU, under the rule's
// spinlock, so `limit rate 10/second` means ten a second for the firewall,
// not ten per worker. Each bucket has its own spin lock: held for a few
// instructions, and never contended with one worker.

import Conntrack

final class LimitBuckets: @unchecked Sendable {
    let count: Int
    /// Tokens (nanoseconds of rate), when the bucket was last filled, and whether it has been.
    let tokens: UnsafeMutableBufferPointer<UInt64>
    let last: UnsafeMutableBufferPointer<UInt64>
    let started: UnsafeMutableBufferPointer<Bool>
    private let locks: SpinLocks

    init(count: Int) {
        self.count = count
        let slots = max(count, 1)
        tokens = .allocate(capacity: slots)
        tokens.initialize(repeating: 0)
        last = .allocate(capacity: slots)
        last.initialize(repeating: 0)
        started = .allocate(capacity: slots)
        started.initialize(repeating: false)
        locks = SpinLocks(count: slots)
    }

    deinit {
        tokens.deallocate()
        last.deallocate()
        started.deallocate()
    }

    /// Runs `body` holding bucket `index`'s lock.
    @inline(__always)
    func withLock<T>(_ index: Int, _ body: () -> T) -> T { locks.withLock(index, body) }
}

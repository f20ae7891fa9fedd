// The connections a ruleset's `ct count` statements count, one list per
// statement (slots `start ..< start + capacity` of one array), shared by the
// rulesets of all workers (`"workers": N`, Ruleset.shareLimits) as Linux's
// nf_conncount list is one per rule for every CPU, under its lock: `ct count
// over 10` then means ten connections through the firewall, not ten per
// worker. A tuple is added only by the worker owning its connection (steering
// runs before the rules) and taken out by that owner when the connection
// closes (Engine: TIME_WAIT or CLOSE, which nf_conncount stops counting);
// any worker drops one that is gone from every shard (the steering
// directory). The locks are taken only once a second ruleset shares the lists.

import Conntrack
import Wire

final class ConnlimitLists: @unchecked Sendable {
    let counts: UnsafeMutableBufferPointer<Int32>
    let tuples: UnsafeMutableBufferPointer<ConnTuple>
    let added: UnsafeMutableBufferPointer<UInt64>
    private let locks: SpinLocks
    /// Set once another ruleset shares these lists: from then on every walk locks.
    @exclusivity(unchecked) private(set) var shared = false

    init(statements: Int, slots: Int) {
        counts = .allocate(capacity: max(statements, 1))
        counts.initialize(repeating: 0)
        let none = ConnTuple(source: .any, destination: .any, sourcePort: 0, destinationPort: 0, protocol: IPProtocol(0),
                             family: .ipv4)
        tuples = .allocate(capacity: max(slots, 1))
        tuples.initialize(repeating: none)
        added = .allocate(capacity: max(slots, 1))
        added.initialize(repeating: 0)
        locks = SpinLocks(count: max(statements, 1))
    }

    deinit {
        counts.deallocate()
        tuples.deallocate()
        added.deallocate()
    }

    func share() { shared = true }

    /// Runs `body` holding statement `index`'s list (without a lock while only one ruleset uses it).
    @inline(__always)
    func withList<T>(_ index: Int, _ body: () -> T) -> T {
        shared ? locks.withLock(index, body) : body()
    }

    /// Takes the connection at `start + slot` out of a list of `count` (the
    /// last one takes its place). Call holding the list.
    @inline(__always)
    func drop(_ slot: Int, start: Int, count: inout Int) {
        count -= 1
        tuples[start + slot] = tuples[start + count]
        added[start + slot] = added[start + count]
    }

    /// Takes `tuple` out of statement `index`'s list (slots from `start`).
    func forget(_ tuple: ConnTuple, statement index: Int, start: Int) {
        withList(index) {
            var count = Int(counts[index])
            var slot = 0
            while slot < count {
                if tuples[start + slot] == tuple { drop(slot, start: start, count: &count) } else { slot += 1 }
            }
            counts[index] = Int32(truncatingIfNeeded: count)
        }
    }
}

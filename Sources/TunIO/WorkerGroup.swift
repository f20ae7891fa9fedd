// What the workers of one firewall share when it runs several (issue 17,
// `"workers": N`): each worker's hand-off ring and wake-up eventfd, the stop
// flag, the park/resume handshake that gives the control thread every
// engine at once, and the conntrack events the other workers pass to the
// one that serves `conntrack -E`.
//
//   worker 1 reads a reply owned by worker 0 → rings[0].put(packet) → wake(0)
//   worker 0's epoll sees its eventfd → drains rings[0] between its own reads
//
// Control requests (conntrack -L/-D/-F, stats, reload, nft, impair) stop
// the world briefly instead of locking the engines: worker 0, which serves
// the control socket, asks every other worker to park at a packet
// boundary, runs the request on all the engines, and lets them go. Requests
// are rare and short, and the packet path takes no lock for them.

import CTunwall
import Conntrack
import Dispatch
import Engine
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class WorkerGroup: @unchecked Sendable {
    public let count: Int
    public let rings: [HandOffRing]
    /// eventfd per worker: written to wake it (a hand-off or a park request).
    public let wakers: [Int32]
    let stopping = Atomic<Bool>(false)
    let parkRequested: [Flag]
    /// Set when a worker's loop has ended: nobody waits for it to park.
    let exited: [Flag]
    let parked: [DispatchSemaphore]
    let resume: [DispatchSemaphore]
    /// True while a `conntrack -E` client listens (set by worker 0).
    let eventsWanted = Atomic<Bool>(false)
    /// Events of workers other than 0, waiting for worker 0 to broadcast them.
    let events = Mutex<[ConntrackEvent]>([])
    /// What `monitor trace` clients want (set by worker 0): 0 nothing,
    /// 1 the packets rules mark, 2 every packet.
    let tracesWanted = Atomic<Int>(0)
    /// Trace records of workers other than 0, waiting for worker 0.
    let traces = Mutex<[TraceRecord]>([])
    /// Packets handed to another worker, and those lost to a full ring.
    public let handOffs = Atomic<UInt64>(0)

    /// Cells in each worker's hand-off ring.
    public static let ringCapacity = 64

    public init(count: Int) {
        self.count = count
        rings = (0..<count).map { _ in HandOffRing(capacity: Self.ringCapacity) }
        wakers = (0..<count).map { _ in ctw_eventfd_create() }
        parkRequested = (0..<count).map { _ in Flag() }
        exited = (0..<count).map { _ in Flag() }
        parked = (0..<count).map { _ in DispatchSemaphore(value: 0) }
        resume = (0..<count).map { _ in DispatchSemaphore(value: 0) }
    }

    deinit {
        for fd in wakers where fd >= 0 { close(fd) }
    }

    /// CPUs this process may run on (sched_getaffinity): the default worker count.
    public static var allowedCPUs: Int { Int(ctw_allowed_cpus()) }

    /// Pins the calling thread to the `index`-th allowed CPU; false when the
    /// system refuses (a cpuset, seccomp), and the thread runs unpinned.
    @discardableResult
    public static func pinCurrentThread(_ index: Int) -> Bool {
        ctw_pin_to_cpu(Int32(truncatingIfNeeded: index)) == 0
    }

    public var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Asks every worker to end its loop.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        for worker in 0..<count { wake(worker) }
    }

    @inline(__always)
    public func wake(_ worker: Int) {
        guard worker >= 0, worker < count, wakers[worker] >= 0 else { return }
        _ = ctw_eventfd_signal(wakers[worker])
    }

    /// Runs `body` while every worker but `caller` waits at a packet
    /// boundary: for that time the caller may touch every engine.
    public func withOthersParked<T>(caller: Int, _ body: () -> T) -> T {
        let others = (0..<count).filter { $0 != caller && !exited[$0].value.load(ordering: .acquiring) }
        for worker in others {
            parkRequested[worker].value.store(true, ordering: .releasing)
            wake(worker)
        }
        for worker in others { parked[worker].wait() }
        defer { for worker in others { resume[worker].signal() } }
        return body()
    }

    /// A worker's loop ended (stopped, or an error): it touches its engine
    /// no more, and a park request waiting for it is let through.
    public func workerExited(_ worker: Int) {
        guard worker >= 0, worker < count else { return }
        exited[worker].value.store(true, ordering: .releasing)
        parked[worker].signal()
    }

    /// Called by each worker between packets: parks it while asked to.
    func parkIfAsked(_ worker: Int) {
        guard parkRequested[worker].value.load(ordering: .acquiring) else { return }
        parkRequested[worker].value.store(false, ordering: .relaxed)
        parked[worker].signal()
        resume[worker].wait()
    }

    /// Another worker's conntrack events (while `conntrack -E` listens) for
    /// worker 0, which is woken to pass them on now rather than at its next
    /// tick: the listener should not wait up to a second because the kernel
    /// queued the connection to another worker.
    func publish(_ new: [ConntrackEvent]) {
        guard !new.isEmpty else { return }
        events.withLock { $0.append(contentsOf: new) }
        wake(0)
    }

    /// Another worker's trace records (while `monitor trace` follows) for worker 0, woken likewise.
    func publish(traces new: [TraceRecord]) {
        guard !new.isEmpty else { return }
        traces.withLock { $0.append(contentsOf: new) }
        wake(0)
    }

    func takePublishedTraces() -> [TraceRecord] {
        traces.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
    }

    func takePublished() -> [ConntrackEvent] {
        events.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
    }
}

/// An atomic flag in a class, so that an array can hold one per worker
/// (Atomic itself cannot be copied into an array).
final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}

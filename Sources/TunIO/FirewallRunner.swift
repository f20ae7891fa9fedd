// The firewall's main loop: one thread, one epoll set over every TUN device,
// the signal fd and the control socket. Each ready device is read until it is
// empty (a batch); every packet goes through the engine and out of the device
// its verdict names, then whatever the engine generated (ICMP errors, echo
// replies, fragments) is sent. Buffers are allocated once, before the loop.
//
//   read(lan0) → [vnet hdr | IP packet] → engine.process → .forward(wan0)
//     → write(wan0, [vnet hdr | IP packet])      (GSO super-packets whole)
//
// SIGINT and SIGTERM end the loop cleanly; SIGHUP asks the owner to reload.
//
// Packets an impairment holds (delay, rate: Engine's ImpairStage) are
// written when they are due: a timerfd in the epoll set is armed for the
// first one's nanosecond (without one, epoll's millisecond timeout rounded
// up: at most about a millisecond late, never early), and due packets are
// also written after every batch.
//
// With several workers (WorkerGroup.swift) there is one runner per worker
// thread, each with its own engine (a conntrack shard), its own queue of
// every multi-queue device and its own ring; worker 0 also serves signals
// and the control socket. A packet the engine hands off (it belongs to a
// connection another worker owns: SteeringStage.swift) is copied into that
// worker's hand-off ring and the worker woken; each runner drains its own
// ring between batches and writes what it forwards through its own queues,
// so that the kernel's flow steering (tun_automq_select_queue: a flow's
// packets go to the queue that last wrote it) sends the flow's next
// packets straight to its owner.

#if canImport(Glibc)
import Glibc
#endif
import CTunwall
import Conntrack
import Engine
import Wire
import SystemIO

public final class FirewallRunner {
    public let engine: Engine
    public let devices: [TunDevice]
    let loop: EventLoop
    let signals: SignalReceiver?
    /// Several workers: the group, and this runner's number in it (0 serves signals and control).
    let group: WorkerGroup?
    public let worker: Int
    let control: ControlServer?
    var buffer = PacketBuffer.allocate()
    var running = true
    /// timerfd for held packets (-1 if it could not be made) and the deadline it is armed for.
    let releaseTimer: Int32
    var armedRelease: Timestamp = 0
    /// `--pcap DIR` and `--trace`/`--trace-json` (Observers.swift); nil when not asked for.
    public var capture: PacketCapture?
    public var traceOutput: TraceOutput?
    /// A `monitor trace` client is connected (followTraceClients).
    var monitoringTraces = false
    /// Packets read from one device before the loop looks at the others.
    static let batch = 64
    /// Batched I/O through io_uring (PacketRing.swift), unless the kernel
    /// refuses it or TUNWALL_IO=syscalls asks for one read(2)/write(2) a packet.
    let ring: PacketRing?

    /// `devices[i]` carries the engine's interface `i`.
    public init(engine: Engine, devices: [TunDevice], control: ControlServer?, signals: SignalReceiver?,
                group: WorkerGroup? = nil, worker: Int = 0) throws(SystemError) {
        self.engine = engine
        self.devices = devices
        self.control = control
        self.signals = signals
        self.group = group
        self.worker = worker
        loop = try EventLoop(maximumEvents: devices.count + 5)
        ring = getenv("TUNWALL_IO").map { String(cString: $0) } == "syscalls" ? nil : PacketRing(devices: devices)
        if let ring {
            try loop.add(ring.fileDescriptor, token: Self.ringToken)
        } else {
            for (index, device) in devices.enumerated() { try loop.add(device.fileDescriptor, token: index) }
        }
        if let signals { try loop.add(signals.fileDescriptor, token: Self.signalToken) }
        if let group, group.wakers[worker] >= 0 { try loop.add(group.wakers[worker], token: Self.wakeToken) }
        if let control { try loop.add(control.fileDescriptor, token: Self.controlToken) }
        releaseTimer = ctw_timer_create()
        if releaseTimer >= 0 { try loop.add(releaseTimer, token: Self.timerToken) }
    }

    deinit {
        buffer.deallocate()
        loop.close()
        if releaseTimer >= 0 { Syscall.close(releaseTimer) }
    }

    static let signalToken = -1
    static let controlToken = -2
    static let timerToken = -3
    static let ringToken = -4
    static let wakeToken = -5

    /// How packets move ("io_uring, multishot reads", "io_uring, a read per buffer" or "read/write"), for the start-up line.
    public var ioMode: String {
        guard let ring else { return "read/write" }
        return ring.multishot ? "io_uring, multishot reads" : "io_uring, a read per buffer"
    }

    /// Monotonic time in nanoseconds (CLOCK_MONOTONIC).
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * nanosecondsPerSecond + UInt64(ts.tv_nsec)
    }

    /// Runs until SIGINT or SIGTERM. `onReload` is called for SIGHUP;
    /// `handle` answers control requests (one line in, text or a stream out);
    /// conntrack events go to the stream clients.
    public func run(onReload: () -> Void, handle: (String) -> ControlReply) throws(SystemError) {
        var lastTick = Self.now()
        followTraceClients()
        while running {
            if let group {
                if group.isStopping { break }
                group.parkIfAsked(worker)
            }
            var readyDevices = 0
            var readyMask: UInt64 = 0
            var signalReady = false
            var controlReady = false
            var ringReady = false
            // Held FTP lines must go out on time: wake often while a helper holds bytes.
            let holding = engine.helperHoldsBytes
            var timeout: Int32 = holding ? 10 : 1000
            // Neighbour probes are due each second while a MAC resolves (ARP, ND).
            if let due = engine.nextNeighbourDeadline {
                let now = Self.now()
                let remaining = due > now ? due - now : 0
                timeout = min(timeout, Int32(clamping: remaining / 1_000_000 + 1))
            }
            if let due = engine.nextImpairedRelease {
                if releaseTimer >= 0 {
                    // Armed again only when the first due time changes (a system call).
                    if due != armedRelease, ctw_timer_arm(releaseTimer, due) == 0 { armedRelease = due }
                }
                if releaseTimer < 0 || armedRelease != due {
                    let now = Self.now()
                    let remaining = due > now ? due - now : 0
                    let wait = remaining / 1_000_000 + (remaining % 1_000_000 > 0 ? 1 : 0)
                    timeout = min(timeout, Int32(clamping: wait))
                }
            }
            _ = try loop.wait(timeoutMilliseconds: timeout) { token in
                switch token {
                case Self.signalToken: signalReady = true
                case Self.controlToken: controlReady = true
                case Self.ringToken: ringReady = true
                case Self.timerToken: ctw_timer_drain(releaseTimer)
                case Self.wakeToken: if let group { ctw_eventfd_drain(group.wakers[worker]) }
                default:
                    if token >= 0 && token < 64 { readyMask |= 1 << UInt64(token) }
                    readyDevices += 1
                }
            }
            if readyDevices > 0 {
                for index in 0..<min(devices.count, 64) where readyMask & (1 << UInt64(index)) != 0 {
                    try drain(device: index)
                }
            }
            // A packet's read completes in task work run as this thread
            // leaves the kernel, which interrupts epoll_wait (EINTR, no
            // event): look at the ring itself rather than wait again for it.
            if ringReady || ring?.hasCompletions == true { try drainRing() }
            if group != nil { try drainHandOffs() }
            try releaseImpaired()
            writeLog()
            if signalReady {
                for signal in signals?.receive() ?? [] {
                    if signal == SIGHUP { onReload() } else {
                        running = false
                        group?.stop()
                    }
                }
            }
            if controlReady, let control {
                let wanted = group?.tracesWanted.load(ordering: .relaxed)
                control.acceptPending(handle)
                followTraceClients()
                // When the trace clients want something else, the others see it as soon as they wake.
                if let group, group.tracesWanted.load(ordering: .relaxed) != wanted {
                    for other in 1..<group.count { group.wake(other) }
                }
            }
            if group != nil {
                // Worker 0 passes on what the others published (they wake it);
                // the others follow what worker 0's trace clients want.
                if control != nil {
                    if monitoringTraces { deliverTraces() }
                } else {
                    followTraceClients()
                }
            }
            publishEvents()
            let now = Self.now()
            if let due = engine.nextNeighbourDeadline, due <= now {
                engine.runNeighbourTimers(now: now)
                try flushOutbox()
            }
            if holding || now - lastTick >= nanosecondsPerSecond {
                engine.tick(now: now)
                lastTick = now
                try flushOutbox()
                control?.dropHungUpSubscribers()
                followTraceClients()
                deliverTraces()
                traceOutput?.flush()
                capture?.flush()
            }
        }
        traceOutput?.flush()
        capture?.flush()
    }

    /// The rules' `log` lines, one per line on stderr, as the kernel log has them.
    private func writeLog() {
        let lines = engine.takeLog()
        guard !lines.isEmpty else { return }
        FileIO.writeAllOrGiveUp(2, Array((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// `conntrack -E`: events are collected only while someone listens.
    /// With several workers, the others pass their events to worker 0 (WorkerGroup).
    private func publishEvents() {
        guard let control else {
            guard let group else { return }
            let listening = group.eventsWanted.load(ordering: .relaxed)
            if listening != engine.conntrack.eventsEnabled { engine.conntrack.setEventsEnabled(listening) }
            if listening { group.publish(engine.conntrack.takeEvents(now: Self.now())) }
            return
        }
        let listening = control.eventSubscriberCount > 0
        group?.eventsWanted.store(listening, ordering: .relaxed)
        if listening != engine.conntrack.eventsEnabled { engine.conntrack.setEventsEnabled(listening) }
        guard listening else { return }
        var events = engine.conntrack.takeEvents(now: Self.now())
        if let group { events += group.takePublished() }
        guard !events.isEmpty else { return }
        control.broadcast(events: events)
    }

    /// `tunwall monitor trace`: while a client follows marked packets the
    /// engine traces them (only then, as Linux makes trace events only while
    /// a listener is there); while one follows all, it traces everything,
    /// as `--trace` does for the firewall's life.
    ///
    /// With several workers, worker 0 (which has the control socket) says
    /// what its clients want in the group, and the others follow it at
    /// their next tick.
    private func followTraceClients() {
        var marked = false
        var all = traceOutput != nil
        if let control {
            marked = control.traceSubscriberCount > 0
            let allClients = control.allTraceSubscriberCount > 0
            all = all || allClients
            group?.tracesWanted.store(allClients ? 2 : marked ? 1 : 0, ordering: .relaxed)
        } else if let group {
            let wanted = group.tracesWanted.load(ordering: .relaxed)
            marked = wanted >= 1
            all = all || wanted == 2
        }
        if engine.followsNftrace != marked { engine.followsNftrace = marked }
        if engine.tracing != all { engine.tracing = all }
        monitoringTraces = marked
    }

    /// The finished trace records to `--trace`/`--trace-json` and to the
    /// `monitor trace` clients. Records nobody wants any more (the last
    /// client just left) are dropped here.
    ///
    /// Other workers pass theirs to worker 0, which broadcasts them.
    private func deliverTraces() {
        var records = engine.takeTraces()
        if control == nil, let group {
            if monitoringTraces { group.publish(traces: records) }
            return
        }
        if let group { records += group.takePublishedTraces() }
        guard !records.isEmpty else { return }
        traceOutput?.write(records)
        if monitoringTraces { control?.broadcast(traces: records) }
        // A client the broadcast dropped (gone, or too slow) stops the tracing it asked for.
        if monitoringTraces && (control?.traceSubscriberCount ?? 0) == 0 { followTraceClients() }
    }

    /// A packet the engine handed to the worker owning its connection:
    /// copied into that worker's ring, which is woken; a full ring loses it.
    @inline(__always)
    private func passOn(_ packet: PacketBuffer, from input: Int) {
        guard let group, let handOff = engine.handOff, handOff.worker >= 0, handOff.worker < group.count else { return }
        if group.rings[handOff.worker].put(packet, input: input, handOff: handOff) {
            group.handOffs.add(1, ordering: .relaxed)
            group.wake(handOff.worker)
        } else {
            engine.count(.handOffFull)
        }
    }

    /// Runs the packets other workers handed to this one, in the order
    /// they were put, and writes them through this worker's own queues.
    private func drainHandOffs() throws(SystemError) {
        guard let group else { return }
        let ring = group.rings[worker]
        var failure: SystemError? = nil
        var taken = 0
        while taken < 1024, failure == nil, ring.take({ packet, input, handOff in
            switch engine.process(&packet, from: input, now: Self.now(), handOff: handOff) {
            case .forward(let out):
                do throws(SystemError) { try send(&packet, to: out) } catch { failure = error }
            case .consumed:
                // Fragments gathered here make a datagram another worker owns.
                passOn(packet, from: input)
            case .drop:
                break
            }
            if failure == nil {
                do throws(SystemError) { try flushOutbox() } catch { failure = error }
            }
        }) {
            taken += 1
        }
        if let failure { throw failure }
        if engine.impairedCount > 0 { try releaseImpaired() }
        if traceOutput != nil || monitoringTraces { deliverTraces() }
    }

    /// Asks the loop to end after the current round.
    public func stop() { running = false }

    /// Reads device `index` until it is empty (or a batch is done).
    private func drain(device index: Int) throws(SystemError) {
        let device = devices[index]
        let prefix = device.hasVirtioHeader ? VirtioNetHeader.size : 0
        for _ in 0..<Self.batch {
            let readStart = PacketBuffer.headroom - prefix
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer.storage[readStart...])
            guard let count = try device.read(into: target) else { return }
            guard count > prefix else { continue }
            if prefix > 0 {
                buffer.virtio = (try? VirtioNetHeader(loadingFrom: UnsafeRawBufferPointer(target))) ?? VirtioNetHeader()
            }
            buffer.start = PacketBuffer.headroom
            buffer.length = count - prefix
            capture?.record(index, outgoing: false, UnsafeRawBufferPointer(buffer.bytes))
            let now = Self.now()
            switch engine.process(&buffer, from: index, now: now) {
            case .forward(let out): try send(&buffer, to: out)
            case .consumed: if group != nil { passOn(buffer, from: index) }
            case .drop: break
            }
            try flushOutbox()
            if engine.impairedCount > 0 { try releaseImpaired() }
            if traceOutput != nil || monitoringTraces { deliverTraces() }
        }
    }

    /// Takes every completion the ring holds (PacketRing.swift): each packet
    /// read goes through the engine and, forwarded, out of the same buffer as
    /// a queued write; then one submission starts every write and read again.
    /// What the engine makes itself (the outbox, released impaired packets)
    /// is written at once, after what was queued before it, so the order of
    /// a packet and what it caused stays as in the plain loop.
    private func drainRing() throws(SystemError) {
        guard let ring else { return }
        var handled = 0
        // Writes to a TUN device complete inside the submission: their
        // completions are taken in the same call rather than on another
        // trip through epoll (at most 1,024 completions a call, so that
        // other work is not starved).
        var submissions = 0
        while handled < 1024 {
            guard let completion = ring.next() else {
                guard ring.hasQueued, submissions < 4 else { break }
                try ring.submit()
                submissions += 1
                continue
            }
            handled += 1
            switch completion {
            case .read(let slot, let result):
                let home = ring.slots[slot].home
                guard ring.received(slot, result) else {
                    if result < 0 && -result != EAGAIN && -result != EINTR {
                        throw SystemError(call: "read(\(devices[home].name))", errno: -result)
                    }
                    ring.release(slot)
                    continue
                }
                capture?.record(home, outgoing: false, UnsafeRawBufferPointer(ring.slots[slot].buffer.bytes))
                let verdict = engine.process(&ring.slots[slot].buffer, from: home, now: Self.now())
                if case .forward(let out) = verdict, out >= 0, out < devices.count {
                    capture?.record(out, outgoing: true, UnsafeRawBufferPointer(ring.slots[slot].buffer.bytes))
                    ring.queueWrite(slot, to: out)
                } else {
                    if case .consumed = verdict, group != nil { passOn(ring.slots[slot].buffer, from: home) }
                    ring.release(slot)
                }
                if engine.outbox.count > 0 {
                    try ring.submit()
                    try flushOutbox()
                }
                if engine.impairedCount > 0 {
                    try ring.submit()
                    try releaseImpaired()
                }
                if traceOutput != nil || monitoringTraces { deliverTraces() }
            case .write(let slot, let result):
                if result < 0 { try countWriteFailure(-result, device: devices[ring.slots[slot].home].name) }
                ring.release(slot)
            case .readEnded(let device, let result):
                if result < 0 && -result != ENOBUFS && -result != EAGAIN && -result != EINTR {
                    throw SystemError(call: "read(\(devices[device].name))", errno: -result)
                }
            }
        }
        try ring.submit()
    }

    /// A write the kernel refused: a full queue (EAGAIN) or a refused packet
    /// or downed link (EIO, EINVAL, ENOBUFS, EMSGSIZE) loses the packet and is
    /// counted, as in `send`; anything else ends the loop.
    private func countWriteFailure(_ code: Int32, device: String) throws(SystemError) {
        switch code {
        case EAGAIN: engine.count(.transmitQueueFull)
        case EIO, EINVAL, ENOBUFS, EMSGSIZE: engine.count(.transmitFailed)
        default: throw SystemError(call: "write", errno: code)
        }
    }

    /// Writes the packets impairments held whose time has come.
    private func releaseImpaired() throws(SystemError) {
        guard engine.impairedCount > 0 else { return }
        var failure: SystemError? = nil
        engine.releaseImpaired(now: Self.now()) { packet, interface, _ in
            guard failure == nil else { return }
            do throws(SystemError) {
                try send(&packet, to: interface)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    private func flushOutbox() throws(SystemError) {
        guard engine.outbox.count > 0 else { return }
        var failure: SystemError? = nil
        engine.outbox.drain { packet, interface in
            guard failure == nil else { return }
            do throws(SystemError) {
                try send(&packet, to: interface)
                engine.countSent(interface, packet.length)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// Writes the packet with its virtio header in the headroom just before it.
    private func send(_ packet: inout PacketBuffer, to index: Int) throws(SystemError) {
        guard index >= 0, index < devices.count else { return }
        capture?.record(index, outgoing: true, UnsafeRawBufferPointer(packet.bytes))
        let device = devices[index]
        let prefix = device.hasVirtioHeader ? VirtioNetHeader.size : 0
        let begin = packet.start - prefix
        if prefix > 0 {
            packet.virtio.store(to: UnsafeMutableRawBufferPointer(rebasing: packet.storage[begin..<packet.start]))
        }
        let bytes = UnsafeRawBufferPointer(rebasing: packet.storage[begin..<packet.start + packet.length])
        // A full queue loses the packet, as a full qdisc would; the peer's
        // TCP retransmits. So does a device whose link is down (EIO: the
        // host has not brought it up yet) or that refuses this one packet
        // (EINVAL). Anything else ends the loop.
        do {
            if try !device.write(bytes) { engine.count(.transmitQueueFull) }
        } catch where [EIO, EINVAL, ENOBUFS, EMSGSIZE].contains(error.errno) {
            engine.count(.transmitFailed)
        }
    }
}

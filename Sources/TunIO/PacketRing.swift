// PacketRing: batched TUN I/O through io_uring (CUring.h). A TUN device
// gives one packet per read(2) and takes one per write(2), and readv, recvmmsg
// and friends do not batch on it; so the plain loop pays two system calls a
// packet. Here every device has buffers (slots) waiting in the kernel for
// its packets; completions are taken from the shared ring without a system
// call, a forwarded packet is written from the same buffer as a queued
// write, and one io_uring_enter hands the kernel all the writes (and any
// reads to start again): one system call per batch, however many packets
// it holds.
//
// A slot goes read → (the engine) → write → read again; its buffer is never
// touched while the kernel owns it. The ring's fd sits in the event loop's
// epoll set: readable while completions wait.
//
// Reads come in one of two ways. Where the kernel has multishot reads
// (6.7+), each device has one read request that completes once per packet
// into a buffer the kernel takes from the device's ring of provided
// buffers, and a slot done with is given back to that ring. Older kernels
// get one plain read per slot, all waiting on the device at once; that
// costs: every packet wakes every waiting read, all but one find nothing
// and wait again (liburing issue #886, where Jens Axboe advises 2 to 4
// reads per file). Measured through masquerade (conn-rate, one worker):
// 20 k new connections/s with 32 plain reads per device, 28-31 k with one
// multishot read, as many as one read(2)/write(2) a packet gets.
//
//   slot 3 of lan0: read completes (1514 bytes) → engine.process → .forward(wan0)
//     → queue write(wan0, slot 3's bytes) … submit → write completes → slot 3 back to lan0's reads

#if canImport(Glibc)
import Glibc
#endif
import CTunwall
import Engine
import Wire
import SystemIO

final class PacketRing {
    /// Buffers per device with a multishot read: 128 (64-byte UDP through
    /// masquerade went from 181-195 k to 199-206 k packets/s over 32; new
    /// connections/s the same), fewer when many devices share the ring.
    static let multishotSlots = 128
    /// Plain reads per device otherwise (each one more woken by every packet).
    static let readSlots = 32
    /// What this ring has per device.
    private(set) var slotsPerDevice = 0

    struct Slot {
        var buffer: PacketBuffer
        /// The device this slot reads from.
        let home: Int
    }

    /// What a completion was.
    enum Completion {
        /// A read into `slot` finished with `result` bytes (or -errno).
        case read(slot: Int, result: Int32)
        /// A write from `slot` finished.
        case write(slot: Int, result: Int32)
        /// A multishot read of `device` ended without a packet (-errno; -ENOBUFS
        /// when every buffer was in use): it is queued again by itself.
        case readEnded(device: Int, result: Int32)
    }

    private var ring = ctw_uring()
    var slots: [Slot] = []
    private let devices: [TunDevice]
    /// Each device's provided buffers, when reads are multishot; empty otherwise.
    private var buffers: [ctw_buffer_ring] = []
    /// Per device: buffers the kernel holds (given, not yet read into), and
    /// whether its multishot read has ended and waits to be queued again.
    private var buffersInKernel: [Int] = []
    private var rearm: [Bool] = []
    var multishot: Bool { !buffers.isEmpty }

    var fileDescriptor: Int32 { ring.fd }

    /// Sets up the ring and starts every slot's first read; nil when this
    /// kernel refuses io_uring (io_uring_disabled, seccomp), and the caller
    /// falls back to read(2)/write(2).
    init?(devices: [TunDevice]) {
        self.devices = devices
        guard devices.count * Self.readSlots <= 4096 else { return nil }
        var entries: UInt32 = 1
        while entries < UInt32(devices.count * Self.multishotSlots) && entries < 4096 { entries <<= 1 }
        guard ctw_uring_init(&ring, entries) == 0 else { return nil }
        var perDevice = Self.multishotSlots
        while devices.count * perDevice > Int(entries) { perDevice >>= 1 }
        if getenv("TUNWALL_IO").map({ String(cString: $0) }) == "uring-reads" || ctw_uring_supports_multishot_read(&ring) != 1
            || !setUpBufferRings(entries: perDevice) {
            perDevice = Self.readSlots
        }
        slotsPerDevice = perDevice
        slots = []
        for device in devices.indices {
            for _ in 0..<perDevice {
                slots.append(Slot(buffer: PacketBuffer.allocate(), home: device))
            }
        }
        // io_uring waits for a blocking fd by polling it; a non-blocking one
        // would have every idle read complete at once with EAGAIN.
        for device in devices {
            let flags = fcntl(device.fileDescriptor, F_GETFL)
            _ = fcntl(device.fileDescriptor, F_SETFL, flags & ~O_NONBLOCK)
        }
        for slot in slots.indices { release(slot) }
        if multishot {
            for device in devices.indices { queueMultishotRead(device) }
        }
        _ = ctw_uring_submit(&ring, 0)
    }

    /// One ring of `entries` provided buffers per device; false (and none
    /// kept) when the kernel refuses one.
    private func setUpBufferRings(entries: Int) -> Bool {
        for device in devices.indices {
            var group = ctw_buffer_ring()
            guard ctw_uring_buffers_init(&ring, &group, UInt32(entries), UInt16(device)) == 0 else {
                for index in buffers.indices { ctw_uring_buffers_close(&ring, &buffers[index]) }
                buffers = []
                return false
            }
            buffers.append(group)
        }
        buffersInKernel = Array(repeating: 0, count: devices.count)
        rearm = Array(repeating: false, count: devices.count)
        return true
    }

    private func queueMultishotRead(_ device: Int) {
        _ = ctw_uring_queue_multishot_read(&ring, devices[device].fileDescriptor, UInt16(device),
                                            UInt64(device) | Self.multishotTag)
        rearm[device] = false
    }

    deinit {
        for index in buffers.indices { ctw_uring_buffers_close(&ring, &buffers[index]) }
        ctw_uring_close(&ring)
        for slot in slots { slot.buffer.deallocate() }
    }

    /// Where a read lands: the virtio header (if any) just before the headroom.
    private func readTarget(_ slot: Int) -> UnsafeMutableRawBufferPointer {
        let prefix = devices[slots[slot].home].hasVirtioHeader ? VirtioNetHeader.size : 0
        return UnsafeMutableRawBufferPointer(rebasing: slots[slot].buffer.storage[(PacketBuffer.headroom - prefix)...])
    }

    /// The slot is free again: its buffer goes back to its device's reads
    /// (given to the buffer ring, or a plain read queued).
    func release(_ slot: Int) {
        let target = readTarget(slot)
        let home = slots[slot].home
        if multishot {
            ctw_uring_buffers_give(&buffers[home], target.baseAddress, UInt32(truncatingIfNeeded: target.count),
                                   UInt16(truncatingIfNeeded: slot))
            buffersInKernel[home] += 1
            return
        }
        _ = ctw_uring_queue(&ring, 0, devices[home].fileDescriptor, target.baseAddress,
                            UInt32(truncatingIfNeeded: target.count), UInt64(slot))
    }

    /// Queues the slot's packet (with its virtio header written in front when
    /// the device takes one) as a write to device `out`.
    func queueWrite(_ slot: Int, to out: Int) {
        let device = devices[out]
        let prefix = device.hasVirtioHeader ? VirtioNetHeader.size : 0
        let packet = slots[slot].buffer
        let begin = packet.start - prefix
        if prefix > 0 {
            packet.virtio.store(to: UnsafeMutableRawBufferPointer(rebasing: packet.storage[begin..<packet.start]))
        }
        _ = ctw_uring_queue(&ring, 1, device.fileDescriptor, packet.storage.baseAddress! + begin,
                            UInt32(truncatingIfNeeded: packet.length + prefix), UInt64(slot) | Self.writeTag)
    }

    private static let writeTag: UInt64 = 1 << 32
    private static let multishotTag: UInt64 = 1 << 33
    /// IORING_CQE_F_BUFFER, IORING_CQE_F_MORE, IORING_CQE_BUFFER_SHIFT (io_uring(7)).
    private static let completionHasBuffer: UInt32 = 1 << 0
    private static let completionHasMore: UInt32 = 1 << 1

    /// True when requests are queued and not yet submitted.
    var hasQueued: Bool { ring.pending > 0 }

    /// True when completions wait (no system call).
    var hasCompletions: Bool { ctw_uring_ready(&ring) > 0 }

    /// The next completion, without a system call; nil when none waits.
    func next() -> Completion? {
        var tag: UInt64 = 0
        var result: Int32 = 0
        var flags: UInt32 = 0
        guard ctw_uring_reap(&ring, &tag, &result, &flags) == 1 else { return nil }
        let index = Int(truncatingIfNeeded: tag & 0xffff_ffff)
        if tag & Self.writeTag != 0 { return .write(slot: index, result: result) }
        guard tag & Self.multishotTag != 0 else { return .read(slot: index, result: result) }
        // A multishot read: the buffer it used names the slot.
        if flags & Self.completionHasMore == 0 { rearm[index] = true }
        guard flags & Self.completionHasBuffer != 0 else { return .readEnded(device: index, result: result) }
        buffersInKernel[index] -= 1
        return .read(slot: Int(flags >> 16), result: result)
    }

    /// Hands the kernel everything queued: one io_uring_enter. A multishot
    /// read that ended is queued again first, once its device has a buffer.
    func submit() throws(SystemError) {
        if multishot {
            for device in devices.indices where rearm[device] && buffersInKernel[device] > 0 {
                queueMultishotRead(device)
            }
        }
        let result = ctw_uring_submit(&ring, 0)
        if result < 0 { throw SystemError(call: "io_uring_enter", errno: -result) }
    }

    /// Bytes a read brought, less the virtio header, and the header decoded
    /// into the slot's buffer; nil for a read that brought no packet.
    func received(_ slot: Int, _ result: Int32) -> Bool {
        let prefix = devices[slots[slot].home].hasVirtioHeader ? VirtioNetHeader.size : 0
        guard result > Int32(prefix) else { return false }
        if prefix > 0 {
            slots[slot].buffer.virtio = (try? VirtioNetHeader(loadingFrom: UnsafeRawBufferPointer(readTarget(slot))))
                ?? VirtioNetHeader()
        }
        slots[slot].buffer.start = PacketBuffer.headroom
        slots[slot].buffer.length = Int(result) - prefix
        return true
    }
}

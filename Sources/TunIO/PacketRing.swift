// PacketRing: batched TUN I/O through io_uring (CUring.h). A TUN device
// gives one packet per read(2) and takes one per write(2), and readv, recvmmsg
// and friends do not batch on it; so the plain loop pays two system calls a
// packet. Here every device has `slotsPerDevice` reads waiting in the kernel
// at once, each into a buffer of its own; completions are taken from the
// shared ring without a system call, a forwarded packet is written from the
// same buffer as a queued write, and one io_uring_enter hands the kernel all
// the writes and the reads to start again: one system call per batch,
// however many packets it holds.
//
// A slot goes read → (the engine) → write → read again; its buffer is never
// touched while the kernel owns it. The ring's fd sits in the event loop's
// epoll set: readable while completions wait.
//
//   slot 3 of lan0: read completes (1514 bytes) → engine.process → .forward(wan0)
//     → queue write(wan0, slot 3's bytes) … submit → write completes → queue read(lan0, slot 3)

#if canImport(Glibc)
import Glibc
#endif
import CTunwall
import Engine
import Wire
import SystemIO

final class PacketRing {
    /// Reads each device has waiting in the kernel.
    static let slotsPerDevice = 32

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
    }

    private var ring = ctw_uring()
    var slots: [Slot]
    private let devices: [TunDevice]

    var fileDescriptor: Int32 { ring.fd }

    /// Sets up the ring and starts every slot's first read; nil when this
    /// kernel refuses io_uring (io_uring_disabled, seccomp), and the caller
    /// falls back to read(2)/write(2).
    init?(devices: [TunDevice]) {
        self.devices = devices
        var entries: UInt32 = 1
        while entries < UInt32(devices.count * Self.slotsPerDevice) { entries <<= 1 }
        guard devices.count * Self.slotsPerDevice <= 4096, ctw_uring_init(&ring, entries) == 0 else { return nil }
        slots = []
        for device in devices.indices {
            for _ in 0..<Self.slotsPerDevice {
                slots.append(Slot(buffer: PacketBuffer.allocate(), home: device))
            }
        }
        // io_uring waits for a blocking fd by polling it; a non-blocking one
        // would have every idle read complete at once with EAGAIN.
        for device in devices {
            let flags = fcntl(device.fileDescriptor, F_GETFL)
            _ = fcntl(device.fileDescriptor, F_SETFL, flags & ~O_NONBLOCK)
        }
        for slot in slots.indices { queueRead(slot) }
        _ = ctw_uring_submit(&ring, 0)
    }

    deinit {
        ctw_uring_close(&ring)
        for slot in slots { slot.buffer.deallocate() }
    }

    /// Where a read lands: the virtio header (if any) just before the headroom.
    private func readTarget(_ slot: Int) -> UnsafeMutableRawBufferPointer {
        let prefix = devices[slots[slot].home].hasVirtioHeader ? VirtioNetHeader.size : 0
        return UnsafeMutableRawBufferPointer(rebasing: slots[slot].buffer.storage[(PacketBuffer.headroom - prefix)...])
    }

    func queueRead(_ slot: Int) {
        let target = readTarget(slot)
        _ = ctw_uring_queue(&ring, 0, devices[slots[slot].home].fileDescriptor, target.baseAddress,
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

    /// The next completion, without a system call; nil when none waits.
    func next() -> Completion? {
        var tag: UInt64 = 0
        var result: Int32 = 0
        guard ctw_uring_reap(&ring, &tag, &result) == 1 else { return nil }
        let slot = Int(truncatingIfNeeded: tag & 0xffff_ffff)
        return tag & Self.writeTag != 0 ? .write(slot: slot, result: result) : .read(slot: slot, result: result)
    }

    /// Hands the kernel everything queued: one io_uring_enter.
    func submit() throws(SystemError) {
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

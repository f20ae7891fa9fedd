// A packet in preallocated memory, as the event loop hands it to the engine
// and takes it back: the bytes sit at `start` with headroom in front (room
// for the virtio_net_hdr on read and write, and for a rewrite that grows the
// packet) and tailroom behind. The virtio header travels beside the bytes,
// already decoded.
//
// Example: a 1500-byte capacity buffer read from a TUN device with
// IFF_VNET_HDR: the read lands at `start - VirtioNetHeader.size`, the first
// 10 bytes are decoded into `virtio`, and `bytes` is the IP packet.

#if canImport(Glibc)
import Glibc
#endif
import Wire

public struct PacketBuffer {
    /// The whole allocation.
    public let storage: UnsafeMutableRawBufferPointer
    /// Offset of the first byte of the IP packet.
    public var start: Int
    public var length: Int
    public var virtio = VirtioNetHeader()

    /// Headroom every buffer keeps in front of the packet.
    public static let headroom = 128
    /// Room for the largest IP packet (64 KiB, also a GSO super-packet) plus headroom and tailroom.
    public static let defaultCapacity = 65_536 + 2 * headroom

    /// Allocates the storage, zeroed; the caller owns it and calls
    /// `deallocate()`. A large buffer is an anonymous mapping rather than
    /// allocated and filled with zeros: its pages are zero and stay unmapped
    /// until a packet is written into them, so the hundreds of 64 KiB
    /// buffers waiting for packets (PacketRing, hand-off rings) cost resident
    /// memory only as far as packets have filled them (idle RSS with 128
    /// ring buffers per device: 47.5 MB filled, 23 MB mapped). Small ones
    /// (impairment queues hold thousands) come from calloc.
    public static func allocate(capacity: Int = defaultCapacity) -> PacketBuffer {
        let length = max(capacity, 1)
        let memory: UnsafeMutableRawPointer?
        if length >= mappedCapacity {
            let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            memory = mapped == MAP_FAILED ? nil : mapped
        } else {
            memory = calloc(length, 1)
        }
        guard let memory else { fatalError("PacketBuffer: cannot allocate \(capacity) bytes") }
        return PacketBuffer(storage: UnsafeMutableRawBufferPointer(start: memory, count: capacity),
                            start: headroom, length: 0)
    }

    /// Buffers from this size up are mapped (`allocate`).
    static let mappedCapacity = 16 * 1024

    public func deallocate() {
        guard let base = storage.baseAddress else { return }
        let length = max(storage.count, 1)
        if length >= Self.mappedCapacity { munmap(base, length) } else { free(base) }
    }

    /// The IP packet.
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[start..<start + length])
    }

    /// The packet and the tailroom behind it: what a rewrite may grow into.
    public var room: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[start...])
    }

    /// Bytes free after the packet.
    public var tailroom: Int { storage.count - start - length }

    /// Copies `packet` in at the standard headroom, with a blank virtio header.
    /// Returns false if it does not fit.
    @discardableResult
    public mutating func load(_ packet: UnsafeRawBufferPointer) -> Bool {
        guard packet.count <= storage.count - Self.headroom else { return false }
        start = Self.headroom
        length = packet.count
        virtio = VirtioNetHeader()
        if let base = packet.baseAddress, packet.count > 0 {
            (storage.baseAddress! + start).copyMemory(from: base, byteCount: packet.count)
        }
        return true
    }

    @discardableResult
    public mutating func load(_ packet: [UInt8]) -> Bool {
        packet.withUnsafeBytes { load($0) }
    }

    /// A copy of the packet's bytes (tests, traces; allocates).
    public var array: [UInt8] { Array(bytes) }
}

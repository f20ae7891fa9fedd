// A packet in preallocated memory, as the event loop hands it to the engine
// and takes it back: the bytes sit at `start` with headroom in front (room
// for the virtio_net_hdr on read and write, and for a rewrite that grows the
// packet) and tailroom behind. The virtio header travels beside the bytes,
// already decoded.
//
// Example: a 1500-byte capacity buffer read from a TUN device with
// IFF_VNET_HDR: the read lands at `start - VirtioNetHeader.size`, the first
// 10 bytes are decoded into `virtio`, and `bytes` is the IP packet.

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

    /// Allocates the storage; the caller owns it and calls `deallocate()`.
    public static func allocate(capacity: Int = defaultCapacity) -> PacketBuffer {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        return PacketBuffer(storage: storage, start: headroom, length: 0)
    }

    public func deallocate() { storage.deallocate() }

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

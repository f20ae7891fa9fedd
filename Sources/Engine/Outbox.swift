// Packets the engine makes itself (ICMP errors, echo replies, IPv4
// fragments), waiting for the event loop to send them. A fixed set of
// buffers, each allocated the first time its slot is used and kept for the
// engine's life: in steady state making a packet never allocates, and when
// all are taken the new packet is dropped and counted (`outboxFull`).
//
// Why lazily: 64 zero-filled 64 KB buffers are 4 MB to allocate and clear for
// every Engine, most of which never make a packet (an engine per test, per
// fuzz input: FuzzEngine ran ~500 inputs/s because of it). Slots fill in
// order, so an engine that generates one ICMP error at a time owns one buffer.

public final class Outbox {
    public static let slots = 64

    // One thread, no re-entry: no dynamic exclusivity checks (see Engine).
    @exclusivity(unchecked) var buffers: [PacketBuffer]
    @exclusivity(unchecked) var interfaces: [InterfaceID]
    @exclusivity(unchecked) public private(set) var count = 0

    init() {
        // A slot not used yet has no storage (baseAddress nil) until `reserve` allocates it.
        let unallocated = PacketBuffer(storage: UnsafeMutableRawBufferPointer(start: nil, count: 0), start: 0, length: 0)
        buffers = Array(repeating: unallocated, count: Self.slots)
        interfaces = Array(repeating: 0, count: Self.slots)
    }

    deinit {
        for buffer in buffers where buffer.storage.baseAddress != nil { buffer.deallocate() }
    }

    /// The next free buffer, reset to the standard headroom and empty; nil if none.
    func reserve() -> Int? {
        guard count < Self.slots else { return nil }
        if buffers[count].storage.baseAddress == nil { buffers[count] = PacketBuffer.allocate() }
        buffers[count].start = PacketBuffer.headroom
        buffers[count].length = 0
        buffers[count].virtio = .init()
        return count
    }

    /// Makes the reserved buffer `slot` (now filled) part of the outbox.
    func commit(_ slot: Int, interface: InterfaceID) {
        interfaces[slot] = interface
        count += 1
    }

    /// Hands every waiting packet to `send` in order, then empties the outbox.
    public func drain(_ send: (inout PacketBuffer, InterfaceID) -> Void) {
        for i in 0..<count { send(&buffers[i], interfaces[i]) }
        count = 0
    }
}

// Packets the engine makes itself (ICMP errors, echo replies, IPv4
// fragments), waiting for the event loop to send them. A fixed set of
// preallocated buffers: making a packet never allocates one, and when all are
// taken the new packet is dropped and counted (`outboxFull`).

public final class Outbox {
    public static let slots = 64

    // One thread, no re-entry: no dynamic exclusivity checks (see Engine).
    @exclusivity(unchecked) var buffers: [PacketBuffer]
    @exclusivity(unchecked) var interfaces: [InterfaceID]
    @exclusivity(unchecked) public private(set) var count = 0

    init() {
        buffers = (0..<Self.slots).map { _ in PacketBuffer.allocate() }
        interfaces = Array(repeating: 0, count: Self.slots)
    }

    deinit {
        for buffer in buffers { buffer.deallocate() }
    }

    /// The next free buffer, reset to the standard headroom and empty; nil if none.
    func reserve() -> Int? {
        guard count < Self.slots else { return nil }
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

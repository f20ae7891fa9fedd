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
    /// Slots that already carry their Ethernet header (ARP and ND the
    /// neighbour stage wrote); the others are framed by `frame` on the way out.
    @exclusivity(unchecked) var framed: [Bool]
    /// Set by an engine with TAP interfaces (NeighbourStage.swift): puts the
    /// Ethernet header on a packet for a TAP interface, resolving its next
    /// hop; false when the packet waits for the neighbour or was dropped.
    var frame: ((inout PacketBuffer, InterfaceID) -> Bool)?

    init() {
        // A slot not used yet has no storage (baseAddress nil) until `reserve` allocates it.
        let unallocated = PacketBuffer(storage: UnsafeMutableRawBufferPointer(start: nil, count: 0), start: 0, length: 0)
        buffers = Array(repeating: unallocated, count: Self.slots)
        interfaces = Array(repeating: 0, count: Self.slots)
        framed = Array(repeating: false, count: Self.slots)
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
    func commit(_ slot: Int, interface: InterfaceID, framed isFramed: Bool = false) {
        interfaces[slot] = interface
        framed[slot] = isFramed
        count += 1
    }

    /// Hands every waiting packet to `send` in order, then empties the
    /// outbox. With TAP interfaces each packet is framed first; framing may
    /// add solicitations behind it (the loop reads `count` afresh) or keep
    /// the packet for its neighbour (then it is not sent).
    public func drain(_ send: (inout PacketBuffer, InterfaceID) -> Void) {
        guard let frame else {
            for i in 0..<count { send(&buffers[i], interfaces[i]) }
            count = 0
            return
        }
        var i = 0
        while i < count {
            if framed[i] || frame(&buffers[i], interfaces[i]) { send(&buffers[i], interfaces[i]) }
            i += 1
        }
        count = 0
    }
}

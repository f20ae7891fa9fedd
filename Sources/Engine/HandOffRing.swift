// The hand-off ring: packets one worker read for a connection another
// worker owns (SteeringStage.swift), on their way to that worker. Many
// workers put (producers), the owner alone takes (consumer).
//
// Dmitry Vyukov's bounded queue: a power-of-two array of cells, each with a
// sequence number that says whose turn it is. A producer reserves a cell
// with one compare-and-exchange on the tail and publishes it with a release
// store of the cell's sequence; the consumer reads the cell once its
// sequence says it is full and hands it back with another store. No lock,
// no allocation: every cell owns a packet buffer allocated with the ring,
// and a put copies the packet into it (hand-offs are the exception: the
// kernel's TUN flow steering sends a flow's packets to the queue that last
// wrote it, so after a connection's first packets its owner reads them).
// A full ring drops the packet and the caller counts it, as a full device
// queue does.

import Synchronization
import Wire

public final class HandOffRing: @unchecked Sendable {
    public let capacity: Int
    let mask: Int
    let sequences: UnsafeMutablePointer<Atomic<Int>>
    let cells: UnsafeMutablePointer<Cell>
    let tail = Atomic<Int>(0)
    /// The consumer's position (only its thread touches it).
    var head = 0

    struct Cell {
        var buffer: PacketBuffer
        var input: InterfaceID
        var handOff: HandOff
    }

    /// `capacity` is rounded up to a power of two (at least 2).
    public init(capacity: Int, bufferCapacity: Int = PacketBuffer.defaultCapacity) {
        var size = 2
        while size < capacity { size <<= 1 }
        self.capacity = size
        mask = size - 1
        sequences = .allocate(capacity: size)
        cells = .allocate(capacity: size)
        for index in 0..<size {
            (sequences + index).initialize(to: Atomic(index))
            (cells + index).initialize(to: Cell(buffer: .allocate(capacity: bufferCapacity), input: 0,
                                                handOff: HandOff(worker: 0, stage: .none, reassembled: nil)))
        }
    }

    deinit {
        for index in 0..<capacity {
            cells[index].buffer.deallocate()
        }
        cells.deinitialize(count: capacity)
        cells.deallocate()
        sequences.deinitialize(count: capacity)
        sequences.deallocate()
    }

    /// Copies `packet` (with its virtio header) into a free cell; false when
    /// the ring is full or the packet does not fit a cell's buffer.
    public func put(_ packet: PacketBuffer, input: InterfaceID, handOff: HandOff) -> Bool {
        var position = tail.load(ordering: .relaxed)
        while true {
            let sequence = sequences[position & mask].load(ordering: .acquiring)
            let difference = sequence &- position
            if difference == 0 {
                let (exchanged, original) = tail.compareExchange(expected: position, desired: position &+ 1,
                                                                 ordering: .relaxed)
                if exchanged { break }
                position = original
            } else if difference < 0 {
                return false
            } else {
                position = tail.load(ordering: .relaxed)
            }
        }
        let cell = cells + (position & mask)
        let copied = cell.pointee.buffer.copy(from: packet)
        cell.pointee.input = input
        cell.pointee.handOff = handOff
        if !copied { cell.pointee.buffer.length = -1 }
        sequences[position & mask].store(position &+ 1, ordering: .releasing)
        return copied
    }

    /// The consumer: calls `body` with the oldest packet, in place in its
    /// cell, and frees the cell; false when the ring is empty.
    public func take(_ body: (inout PacketBuffer, InterfaceID, HandOff) -> Void) -> Bool {
        let cell = cells + (head & mask)
        guard sequences[head & mask].load(ordering: .acquiring) == head &+ 1 else { return false }
        if cell.pointee.buffer.length >= 0 {
            body(&cell.pointee.buffer, cell.pointee.input, cell.pointee.handOff)
        }
        sequences[head & mask].store(head &+ capacity, ordering: .releasing)
        head &+= 1
        return true
    }

    /// True when a put is waiting for `take` (the consumer's view).
    public var hasWaiting: Bool {
        sequences[head & mask].load(ordering: .acquiring) == head &+ 1
    }
}

extension PacketBuffer {
    /// Copies another buffer's packet and virtio header into this one at
    /// the same offset; false (nothing copied) when it would not fit.
    @inline(__always)
    mutating func copy(from other: PacketBuffer) -> Bool {
        guard other.start >= 0, other.length >= 0, other.start + other.length <= storage.count else { return false }
        storage.baseAddress!.advanced(by: other.start)
            .copyMemory(from: other.storage.baseAddress!.advanced(by: other.start), byteCount: other.length)
        start = other.start
        length = other.length
        virtio = other.virtio
        return true
    }
}

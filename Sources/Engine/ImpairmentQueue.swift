// Packets an impairment holds until their time: a binary min-heap over
// preallocated slots, ordered by release time and then by arrival (so equal
// times leave first in, first out, as netem's tfifo does). A packet due no
// earlier than the last one queued in order (a fixed delay, a rate: the
// common case) goes into a FIFO ring beside the heap instead, in O(1);
// the next packet out is the earlier of the ring's head and the heap's root. A slot's buffer is
// allocated the first time the pool needs that many and kept for the
// engine's life: in steady state holding and releasing a packet allocates
// nothing. Two buffer sizes, so that 10,000 delayed 1500-byte packets need
// 40 MB and not 650: most packets fit a small slot (4 KB); a GSO
// super-packet takes a large one (64 KB), each size with its free list.

import Conntrack
import Wire

final class ImpairmentQueue {
    static let smallCapacity = 4096
    static let noStage: Int32 = -1

    // One thread, no re-entry: no dynamic exclusivity checks (see Engine).
    @exclusivity(unchecked) private var buffers: [PacketBuffer] = []
    @exclusivity(unchecked) private var interfaces: [InterfaceID] = []
    /// The stages (Impairments' index) the packet is counted in until it leaves.
    @exclusivity(unchecked) private var firstStage: [Int32] = []
    @exclusivity(unchecked) private var secondStage: [Int32] = []
    @exclusivity(unchecked) private var freeSmall: [Int32] = []
    @exclusivity(unchecked) private var freeLarge: [Int32] = []
    /// The heap's entries carry their keys, so that sifting compares
    /// neighbouring memory instead of reaching into the slot arrays.
    @exclusivity(unchecked) private var heap: [Entry] = []
    /// The FIFO ring: `ring[(ringHead + i) % ring.count]` for i < ringCount,
    /// in release order; it doubles when full.
    @exclusivity(unchecked) private var ring: [Entry] = []
    @exclusivity(unchecked) private var ringHead = 0
    @exclusivity(unchecked) private var ringCount = 0
    @exclusivity(unchecked) private var arrivalCounter: UInt64 = 0

    deinit {
        for buffer in buffers { buffer.deallocate() }
    }

    var count: Int { heap.count + ringCount }
    var isEmpty: Bool { heap.isEmpty && ringCount == 0 }
    /// Slots allocated so far (each with its buffer).
    var slotCount: Int { buffers.count }
    /// Bytes of the slots' buffers.
    var memoryBytes: Int { buffers.reduce(0) { $0 + $1.storage.count } }

    struct Entry {
        var release: Timestamp
        var arrival: UInt64
        var slot: Int32

        @inline(__always) func before(_ other: Entry) -> Bool {
            release != other.release ? release < other.release : arrival < other.arrival
        }
    }

    /// When the first held packet is due; nil when none is held.
    var nextRelease: Timestamp? { next?.release }

    /// The earlier of the ring's head and the heap's root.
    private var next: Entry? {
        guard ringCount > 0 else { return heap.first }
        let head = ring[ringHead]
        guard let root = heap.first else { return head }
        return root.before(head) ? root : head
    }

    /// Copies `bytes` (and its virtio header) into a free slot due at
    /// `release`, leaving by `interface`; returns the slot (nil if the packet
    /// fits no buffer, which a parsed packet always does).
    @discardableResult
    func hold(_ bytes: UnsafeRawBufferPointer, virtio: VirtioNetHeader, interface: InterfaceID, release: Timestamp,
              stages: (Int32, Int32)) -> Int32? {
        let large = bytes.count > Self.smallCapacity - 2 * PacketBuffer.headroom
        guard bytes.count <= PacketBuffer.defaultCapacity - 2 * PacketBuffer.headroom else { return nil }
        let slot: Int32
        if large, let free = freeLarge.popLast() {
            slot = free
        } else if !large, let free = freeSmall.popLast() {
            slot = free
        } else {
            slot = Int32(truncatingIfNeeded: buffers.count)
            buffers.append(PacketBuffer.allocate(capacity: large ? PacketBuffer.defaultCapacity : Self.smallCapacity))
            interfaces.append(0)
            firstStage.append(Self.noStage)
            secondStage.append(Self.noStage)
        }
        let index = Int(slot)
        buffers[index].load(bytes)
        buffers[index].virtio = virtio
        arrivalCounter &+= 1
        interfaces[index] = interface
        firstStage[index] = stages.0
        secondStage[index] = stages.1
        let entry = Entry(release: release, arrival: arrivalCounter, slot: slot)
        if ringCount == 0 || !entry.before(ring[(ringHead + ringCount - 1) % ring.count]) {
            pushRing(entry)
        } else {
            heap.append(entry)
            siftUp(heap.count - 1)
        }
        return slot
    }

    /// The first held packet if it is due by `now`, taken out of the heap:
    /// its slot (a copy of the buffer's handle, the bytes in place), where
    /// it goes, when it was due and the stages it was counted in. The caller
    /// sends it, then gives the slot back with `free`. (A loop over this
    /// rather than a closure per packet: the closure's captures cost a
    /// retain and release each.)
    func popDue(now: Timestamp) -> (slot: Int32, buffer: PacketBuffer, interface: InterfaceID, due: Timestamp,
                                    stages: (Int32, Int32))? {
        guard let first = next, first.release <= now else { return nil }
        if ringCount > 0 && ring[ringHead].slot == first.slot {
            ringHead = ringHead + 1 == ring.count ? 0 : ringHead + 1
            ringCount -= 1
        } else {
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                siftDown(0)
            }
        }
        let index = Int(first.slot)
        return (first.slot, buffers[index], interfaces[index], first.release, (firstStage[index], secondStage[index]))
    }

    func free(_ slot: Int32) {
        if buffers[Int(slot)].storage.count > Self.smallCapacity { freeLarge.append(slot) } else { freeSmall.append(slot) }
    }

    private func pushRing(_ entry: Entry) {
        if ringCount == ring.count {
            // Full (or never used): unroll into a ring twice the size.
            var grown: [Entry] = []
            grown.reserveCapacity(max(64, 2 * ring.count))
            for i in 0..<ringCount { grown.append(ring[(ringHead + i) % ring.count]) }
            while grown.count < grown.capacity { grown.append(entry) }
            ring = grown
            ringHead = 0
        }
        ring[(ringHead + ringCount) % ring.count] = entry
        ringCount += 1
    }

    private func siftUp(_ start: Int) {
        var child = start
        let moving = heap[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard moving.before(heap[parent]) else { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = moving
    }

    private func siftDown(_ start: Int) {
        var parent = start
        let moving = heap[parent]
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            var smallest = left
            if left + 1 < count && heap[left + 1].before(heap[left]) { smallest = left + 1 }
            guard heap[smallest].before(moving) else { break }
            heap[parent] = heap[smallest]
            parent = smallest
        }
        heap[parent] = moving
    }
}

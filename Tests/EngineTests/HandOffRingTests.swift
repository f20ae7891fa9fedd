// The hand-off ring (HandOffRing.swift): first in, first out; a full ring
// refuses; and under many producer threads and one consumer every packet
// arrives exactly once, each producer's in the order it put them.

import Dispatch
import Foundation
@testable import Engine
import Synchronization
import Testing
import Wire

@Suite struct HandOffRingTests {
    static func packet(_ producer: Int, _ sequence: Int, into buffer: inout PacketBuffer) {
        buffer.start = PacketBuffer.headroom
        buffer.length = 64
        let bytes = buffer.bytes
        for index in 0..<64 { bytes[index] = 0 }
        bytes[0] = UInt8(truncatingIfNeeded: producer)
        bytes[1] = UInt8(truncatingIfNeeded: sequence >> 16)
        bytes[2] = UInt8(truncatingIfNeeded: sequence >> 8)
        bytes[3] = UInt8(truncatingIfNeeded: sequence)
    }

    static let handOff = HandOff(worker: 0, stage: .done, reassembled: nil)

    @Test func firstInFirstOutAndFullRefuses() {
        let ring = HandOffRing(capacity: 4, bufferCapacity: 512)
        var buffer = PacketBuffer.allocate(capacity: 512)
        defer { buffer.deallocate() }
        for n in 0..<4 {
            Self.packet(1, n, into: &buffer)
            #expect(ring.put(buffer, input: n, handOff: Self.handOff))
        }
        Self.packet(1, 99, into: &buffer)
        #expect(!ring.put(buffer, input: 9, handOff: Self.handOff), "full")
        var seen: [Int] = []
        while ring.take({ packet, input, _ in
            #expect(packet.length == 64)
            seen.append(Int(packet.bytes[3]))
            #expect(input == Int(packet.bytes[3]))
        }) {}
        #expect(seen == [0, 1, 2, 3])
        #expect(!ring.hasWaiting)
        // A packet bigger than a cell's buffer is refused, not cut.
        var big = PacketBuffer.allocate(capacity: 2048)
        defer { big.deallocate() }
        big.start = PacketBuffer.headroom
        big.length = 1500
        #expect(!ring.put(big, input: 0, handOff: Self.handOff))
        _ = ring.take { _, _, _ in Issue.record("the refused packet was handed on") }
        #expect(!ring.hasWaiting)
    }

    @Test func manyProducersOneConsumerLoseNothing() {
        let producers = 6, perProducer = 20_000
        let ring = HandOffRing(capacity: 64, bufferCapacity: 512)
        let finished = Counter()
        let tally = Tally(producers)
        // Threads of their own: a pool as wide as the CPUs could run the
        // producers only, which would wait for a consumer that never starts.
        let done = DispatchSemaphore(value: 0)
        for index in 0...producers {
            Thread.detachNewThread {
                defer { done.signal() }
                Self.run(index, producers: producers, perProducer: perProducer, ring: ring, finished: finished, tally: tally)
            }
        }
        for _ in 0...producers { done.wait() }
        #expect(tally.total == producers * perProducer, "every packet arrived once")
        #expect(tally.received == Array(repeating: perProducer, count: producers))
        #expect(tally.outOfOrder == 0)
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// The consumer's tally: only the consumer thread touches it until the join.
    final class Tally: @unchecked Sendable {
        var received: [Int]
        var outOfOrder = 0
        var total = 0
        init(_ producers: Int) { received = Array(repeating: 0, count: producers) }
    }

    static func run(_ index: Int, producers: Int, perProducer: Int, ring: HandOffRing, finished: Counter, tally: Tally) {
        if index == producers {
            // The consumer.
            while tally.total < producers * perProducer {
                let took = ring.take { packet, _, _ in
                    let producer = Int(packet.bytes[0])
                    let sequence = Int(packet.bytes[1]) << 16 | Int(packet.bytes[2]) << 8 | Int(packet.bytes[3])
                    if sequence != tally.received[producer] { tally.outOfOrder += 1 }
                    tally.received[producer] = sequence + 1
                    tally.total += 1
                }
                if !took {
                    if finished.value.load(ordering: .acquiring) == producers && !ring.hasWaiting { break }
                    sched_yield()
                }
            }
            return
        }
        var buffer = PacketBuffer.allocate(capacity: 512)
        defer { buffer.deallocate() }
        for sequence in 0..<perProducer {
            Self.packet(index, sequence, into: &buffer)
            while !ring.put(buffer, input: index, handOff: Self.handOff) { sched_yield() }   // full: try again
        }
        finished.value.add(1, ordering: .releasing)
    }
}

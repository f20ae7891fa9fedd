// Engines as workers on threads of their own, the way the runner drives
// them (FirewallRunner, WorkerGroup), with rings standing in for the TUN
// queues: each thread opens UDP connections through its own engine, and the
// server's reply to each arrives on the *other* thread's queue, whose engine
// finds the owner in the shared directory and hands the reply over through
// the owner's hand-off ring. Both threads claim, look up and release in the
// directory and put into each other's rings at once. At the end every reply
// was forwarded once by its owner, each connection is in exactly one shard,
// and the directory holds exactly their tuples. Run under ThreadSanitizer
// too (docs/ARCHITECTURE.md, "Several workers").

@testable import Conntrack
@testable import Engine
import Foundation
import Rules
import Synchronization
import Testing
import Wire

@Suite struct ShardConcurrencyTests {
    final class Worker: @unchecked Sendable {
        let harness: Harness
        /// Packets arriving on this worker's queue (the device's side).
        let queue = HandOffRing(capacity: 64, bufferCapacity: 2048)
        /// Packets other workers hand to this one.
        let handOffs = HandOffRing(capacity: 64, bufferCapacity: 2048)
        var forwardedReplies = 0
        var handedOff = 0
        var clashes = 0
        init(_ harness: Harness) { self.harness = harness }
    }

    final class Shared: Sendable {
        let forwarded = Atomic<Int>(0)
    }

    static let connections = 500

    @Test func repliesReadByTheOtherWorkerReachTheirOwner() throws {
        let directory = SteeringDirectory(entries: 8 * Self.connections)
        // With the steering program's exceptions, written by both workers at once.
        let exceptions = SteeringExceptions()
        let workers = try (0..<2).map { index -> Worker in
            let h = try Harness(conntrackCapacity: 4096)
            h.engine.replaceRuleset(try Ruleset.parse(NATTests.masquerade, file: "shards.nft"))
            h.engine.joinSteering(SteeringMembership(directory: directory, worker: index, workers: 2, kernelQueues: exceptions))
            return Worker(h)
        }
        let shared = Shared()
        let done = DispatchSemaphore(value: 0)
        for index in 0..<2 {
            let me = workers[index], peer = workers[1 - index]
            Thread.detachNewThread {
                Self.run(me, peer: peer, index: index, shared: shared)
                done.signal()
            }
        }
        done.wait()
        done.wait()
        #expect(workers[0].forwardedReplies + workers[1].forwardedReplies == 2 * Self.connections,
                "every reply forwarded once, by its owner")
        #expect(workers[0].handedOff == Self.connections && workers[1].handedOff == Self.connections,
                "every reply was read by the other worker and handed off")
        #expect(workers[0].harness.engine.conntrack.table.count == Self.connections)
        #expect(workers[1].harness.engine.conntrack.table.count == Self.connections)
        #expect(directory.count == 4 * Self.connections, "both tuples of every connection, nothing else")
        #expect(directory.overflowCount == 0)
        let clashes = workers[0].clashes + workers[1].clashes
        #expect(workers[0].harness.engine.conntrack.invalidCounts[InvalidReason.clash.rawValue]
                + workers[1].harness.engine.conntrack.invalidCounts[InvalidReason.clash.rawValue] >= UInt64(clashes))
        print("ShardConcurrencyTests: \(clashes) confirm clashes between the workers, each settled by a retransmission")
    }

    /// One worker's loop: open a connection, put the server's reply on the
    /// peer's queue, and meanwhile serve its own queue and hand-off ring.
    static func run(_ me: Worker, peer: Worker, index: Int, shared: Shared) {
        let h = me.harness
        let giveUp = Date().addingTimeInterval(60)
        var buffer = PacketBuffer.allocate()
        defer { buffer.deallocate() }
        func serve() {
            // Read from the queue: a reply to the peer's connection, handed over.
            while me.queue.take({ packet, input, _ in
                let verdict = h.engine.process(&packet, from: input, now: h.now)
                guard case .consumed = verdict, let handOff = h.engine.handOff else { return }
                // A peer that gave up (its deadline passed) never drains its ring:
                // give up too rather than spin forever (a failure, not a hang).
                while !peer.handOffs.put(packet, input: input, handOff: handOff) {
                    guard Date() < giveUp else { return }
                    sched_yield()
                }
                me.handedOff += 1
            }) {}
            // What the peer handed over: this worker's own connections.
            while me.handOffs.take({ packet, input, handOff in
                if case .forward = h.engine.process(&packet, from: input, now: h.now, handOff: handOff) {
                    me.forwardedReplies += 1
                    shared.forwarded.add(1, ordering: .relaxed)
                }
            }) {}
        }
        for n in 0..<Self.connections {
            // Both workers' clients use the same source ports, so both may pick
            // the same public port at the same instant: the second claim at
            // confirm is a clash and its packet dropped (Linux's confirm clash),
            // and the client's retransmission gets another port.
            var attempts = 0
            repeat {
                buffer.load(Packet.udp(IPv4Address(10, 0, 1, UInt8(2 + index)), UInt16(20_000 + n), server4, 53,
                                       payload: [1]).encoded())
                attempts += 1
            } while h.engine.process(&buffer, from: h.lan, now: h.now) != .forward(h.wan) && attempts < 10
            if attempts > 1 { me.clashes += 1 }
            let publicPort = UInt16(buffer.bytes[20]) << 8 | UInt16(buffer.bytes[21])
            buffer.load(Packet.udp(server4, 53, IPv4Address(203, 0, 113, 1), publicPort, payload: [2]).encoded())
            while !peer.queue.put(buffer, input: h.wan, handOff: HandOff(worker: 0, stage: .none, reassembled: nil)) {
                guard Date() < giveUp else { return }
                serve()
                sched_yield()
            }
            serve()
        }
        let deadline = Date().addingTimeInterval(30)
        while shared.forwarded.load(ordering: .relaxed) < 2 * Self.connections && Date() < deadline {
            serve()
            sched_yield()
        }
    }
}

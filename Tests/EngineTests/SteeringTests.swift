// Several engines as the workers of one firewall (SteeringStage.swift): one
// steering directory, each engine a shard. A reply read by the worker that
// does not own its connection is handed to the owner, which finishes it as
// one engine would; an FTP data connection goes to the worker whose helper
// expects it; two workers never hand out the same NAT mapping; fragments
// gather at one worker and the datagram then goes to its owner.

@testable import Conntrack
@testable import Engine
import Rules
import Testing
import Wire

@Suite struct SteeringTests {
    /// `count` harnesses whose engines share one directory.
    static func shards(_ count: Int, rules: String, steered: Bool = false) throws -> [Harness] {
        let directory = SteeringDirectory(entries: 4096)
        let exceptions = steered ? SteeringExceptions() : nil
        return try (0..<count).map { worker in
            let h = try Harness()
            h.engine.replaceRuleset(try Ruleset.parse(rules, file: "steering.nft"))
            h.engine.joinSteering(SteeringMembership(directory: directory, worker: worker, workers: count,
                                                     kernelQueues: exceptions))
            return h
        }
    }

    /// Runs a packet handed off by `from` at the worker it names, as the runner does.
    static func deliver(_ from: Harness, _ shards: [Harness], input: InterfaceID) -> (Verdict, [UInt8], Int)? {
        guard let handOff = from.engine.handOff else { return nil }
        let owner = shards[handOff.worker]
        owner.buffer.load(from.buffer.array)
        let verdict = owner.engine.process(&owner.buffer, from: input, now: owner.now, handOff: handOff)
        return (verdict, owner.buffer.array, handOff.worker)
    }

    static let publicAddress = IPv4Address(203, 0, 113, 1)

    @Test func aReplyReadByAnotherWorkerGoesToTheOwner() throws {
        let shards = try Self.shards(2, rules: NATTests.masquerade)
        let (a, b) = (shards[0], shards[1])
        let syn = Packet.tcp(client4, 40000, server4, 80, flags: .syn, sequenceNumber: SeqNumber(1))
        #expect(a.send(syn, on: a.lan).verdict == .forward(a.wan))
        #expect(a.engine.handOff == nil)
        let directory = try #require(a.engine.steering?.directory)
        #expect(directory.count == 2, "both tuples claimed at confirm, before the SYN leaves")
        // The SYN-ACK comes in on worker 1's queue.
        let synAck = Packet.tcp(server4, 80, Self.publicAddress, 40000, flags: [.syn, .ack],
                                sequenceNumber: SeqNumber(9), acknowledgmentNumber: SeqNumber(2))
        #expect(b.send(synAck, on: b.wan).verdict == .consumed)
        #expect(b.engine.handOff?.worker == 0)
        #expect(b.engine.conntrack.table.count == 0, "worker 1 made no entry of its own")
        #expect(b.engine.statistics.interfaces[b.wan].receivedPackets == 0, "counted by the owner only")
        #expect(b.engine.statistics.handedOff == 1)
        let (verdict, bytes, worker) = try #require(Self.deliver(b, shards, input: b.wan))
        #expect(worker == 0)
        #expect(verdict == .forward(a.lan))
        #expect(PacketSummary.line(for: bytes).hasPrefix("IP 203.0.113.10.80 > 10.0.1.2.40000: Flags [S.]"))
        #expect(a.engine.statistics.interfaces[a.wan].receivedPackets == 1)
        // The owner's own read of the next packet needs no hand-off.
        let ack = Packet.tcp(client4, 40000, server4, 80, flags: .ack, sequenceNumber: SeqNumber(2), acknowledgmentNumber: SeqNumber(10))
        #expect(a.send(ack, on: a.lan).verdict == .forward(a.wan))
        // An ICMP error about the connection, read by worker 1, goes to worker 0 too.
        let quoted = Packet.tcp(Self.publicAddress, 40000, server4, 80, flags: .ack, sequenceNumber: SeqNumber(2),
                                acknowledgmentNumber: SeqNumber(10)).encoded()
        let error = Packet.icmp(IPv4Address(203, 0, 113, 99), Self.publicAddress,
                                .destinationUnreachable(code: 3), payload: Array(quoted.prefix(28)))
        #expect(b.send(error, on: b.wan).verdict == .consumed)
        #expect(b.engine.handOff?.worker == 0)
        // Removing the connection takes its tuples out of the directory.
        _ = a.engine.deleteConnections(matching: ConntrackFilter(), now: a.now)
        #expect(directory.count == 0)
    }

    /// Linux's nf_nat_used_tuple sees every connection: so must every shard.
    @Test func twoWorkersNeverPickTheSameMapping() throws {
        let shards = try Self.shards(2, rules: NATTests.masquerade)
        let first = shards[0].send(Packet.udp(client4, 40000, server4, 53), on: 0).bytes
        let second = shards[1].send(Packet.udp(IPv4Address(10, 0, 1, 3), 40000, server4, 53), on: 0).bytes
        let portA = UInt16(first[20]) << 8 | UInt16(first[21])
        let portB = UInt16(second[20]) << 8 | UInt16(second[21])
        #expect(portA == 40000, "the first keeps its port")
        #expect(portB != 40000, "the second, at another worker, gets another")
    }

    /// With the steering program on the devices (SteeringHash.swift), a port
    /// NAT has to choose is one whose replies the kernel queues back to the
    /// worker that chose it, so that the reply needs no hand-off; without the
    /// program the choice ignores workers (about two in three go elsewhere).
    @Test func aChosenPortBringsRepliesBackToItsWorker() throws {
        let rules = """
            table ip nat {
                chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" meta l4proto udp masquerade to :20000-29999; }
            }
            """
        for steered in [true, false] {
            let shards = try Self.shards(3, rules: rules, steered: steered)
            var away = 0
            for flow in 0..<90 {
                let worker = flow % 3
                let out = shards[worker].send(Packet.udp(client4, UInt16(40000 + flow), server4, 53), on: 0).bytes
                let port = UInt16(out[20]) << 8 | UInt16(out[21])
                #expect((20000...29999).contains(port))
                if SteeringHash.worker(ports: port, 53, workers: 3) != worker { away += 1 }
            }
            if steered { #expect(away == 0) } else { #expect(away > 30, "\(away) of 90 would be handed off") }
        }
    }

    /// A connection whose reply the program would hash to another worker
    /// than its owner (here a DNAT that changes the port: 8080 outside, 80
    /// inside) is written into the program's exceptions while it lives, so
    /// the kernel queues its replies to the owner.
    @Test func aConnectionOwnedAgainstItsHashIsAnException() throws {
        let shards = try Self.shards(2, rules: """
            table ip nat {
                chain prerouting { type nat hook prerouting priority dstnat; iifname "wan0" tcp dport 8080 dnat to 10.0.1.2:80; }
            }
            """, steered: true)
        let a = shards[0]
        let exceptions = try #require(a.engine.steering?.kernelQueues)
        // An outside port the kernel queues to worker 0 whose reply (from port 80) it would queue to worker 1.
        let port = try #require((1024...65535).lazy.map { UInt16($0) }.first {
            SteeringHash.worker(ports: $0, 8080, workers: 2) == 0 && SteeringHash.worker(ports: 80, $0, workers: 2) == 1
        })
        let outside = IPv4Address(203, 0, 113, 77)
        let syn = Packet.tcp(outside, port, Self.publicAddress, 8080, flags: .syn, sequenceNumber: SeqNumber(1))
        #expect(a.send(syn, on: a.wan).verdict == .forward(a.lan))
        #expect(exceptions.owner(key: 80 ^ port) == 0, "the reply's key is worker 0's")
        #expect(exceptions.worker(key: 80 ^ port, workers: 2) == 0)
        #expect(exceptions.owner(key: 8080 ^ port) == nil, "the original direction hashes to its owner already")
        _ = a.engine.deleteConnections(matching: ConntrackFilter(), now: a.now)
        #expect(exceptions.owner(key: 80 ^ port) == nil, "gone with the connection")
        #expect(exceptions.worker(key: 80 ^ port, workers: 2) == 1)
    }

    /// `monitor trace` streams every worker's records: their numbers (nft's
    /// `trace id`) never repeat across workers, as conntrack ids do not.
    @Test func traceNumbersAreUniqueAcrossWorkers() throws {
        let shards = try Self.shards(2, rules: NATTests.masquerade)
        var numbers: [Int] = []
        for round in 0..<3 {
            for (worker, h) in shards.enumerated() {
                h.engine.tracing = true
                let port = UInt16(40000 + round * 2 + worker)
                #expect(h.send(Packet.udp(client4, port, server4, 53), on: h.lan).verdict == .forward(h.wan))
                numbers += h.engine.takeTraces().map(\.number)
            }
        }
        #expect(numbers.count == 6)
        #expect(Set(numbers).count == 6, "\(numbers)")
        #expect(numbers == [1, 2, 3, 4, 5, 6], "worker 0: 1, 3, 5; worker 1: 2, 4, 6")
    }

    @Test func anFTPDataConnectionGoesToTheWorkerExpectingIt() throws {
        let shards = try Self.shards(2, rules: FTPRules.masquerade)
        let (a, b) = (shards[0], shards[1])
        func client(_ flags: TCPFlags, _ seq: UInt32, _ ack: UInt32, _ text: String = "") -> Packet {
            Packet.tcp(client4, 40000, server4, 21, flags: flags, sequenceNumber: SeqNumber(seq),
                       acknowledgmentNumber: SeqNumber(ack), payload: Array(text.utf8))
        }
        func server(_ flags: TCPFlags, _ seq: UInt32, _ ack: UInt32, _ text: String = "") -> Packet {
            Packet.tcp(server4, 21, Self.publicAddress, 40000, flags: flags, sequenceNumber: SeqNumber(seq),
                       acknowledgmentNumber: SeqNumber(ack), payload: Array(text.utf8))
        }
        #expect(a.send(client(.syn, 1000, 0), on: a.lan).verdict == .forward(a.wan))
        #expect(a.send(server([.syn, .ack], 5000, 1001), on: a.wan).verdict == .forward(a.lan))
        #expect(a.send(client(.ack, 1001, 5001), on: a.lan).verdict == .forward(a.wan))
        #expect(a.send(client([.ack, .psh], 1001, 5001, "PASV\r\n"), on: a.lan).verdict == .forward(a.wan))
        let reply = "227 Entering Passive Mode (203,0,113,10,195,80)\r\n"
        #expect(a.send(server([.ack, .psh], 5001, 1007, reply), on: a.wan).verdict == .forward(a.lan))
        #expect(a.engine.conntrack.expectations.count == 1)
        // The data connection's SYN is read by worker 1: handed to worker 0, RELATED there.
        let data = Packet.tcp(client4, 41000, server4, 50000, flags: .syn, sequenceNumber: SeqNumber(7))
        #expect(b.send(data, on: b.lan).verdict == .consumed)
        #expect(b.engine.handOff?.worker == 0)
        let (verdict, _, _) = try #require(Self.deliver(b, shards, input: b.lan))
        #expect(verdict == .forward(a.wan))
        let entry = try #require(a.entry(ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: 41000,
                                                   destinationPort: 50000, protocol: .tcp)))
        #expect(entry.status.contains(.expected), "the data connection is RELATED to its master")
        #expect(a.engine.conntrack.expectations.count == 0, "used once")
        let dataTuple = ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: 41000,
                                  destinationPort: 50000, protocol: .tcp)
        #expect(a.engine.steering!.directory.owner(expecting: dataTuple) == nil, "the expectation is gone from the directory")
        #expect(a.engine.steering!.directory.owner(of: dataTuple) == 0, "the data connection is worker 0's now")
    }

    @Test func fragmentsGatherAtOneWorkerThenGoToTheOwner() throws {
        let shards = try Self.shards(2, rules: NATTests.masquerade)
        let directory = shards[0].engine.steering!.directory
        let gatherer = directory.fragmentWorker(source: ConnTuple.wide(client4), destination: ConnTuple.wide(server4), workers: 2)
        let other = 1 - gatherer
        // The connection is the other worker's.
        #expect(shards[other].send(Packet.udp(client4, 5000, server4, 53, payload: [1]), on: 0).verdict == .forward(1))
        // A datagram in two fragments, the first read by `other`, the second by `gatherer`.
        let whole = Packet.udp(client4, 5000, server4, 53, payload: Array(repeating: 7, count: 100)).encoded()
        let fragments = Self.fragment(whole, at: 56)
        #expect(shards[other].send(fragments[0], on: 0).verdict == .consumed)
        let toGatherer = try #require(shards[other].engine.handOff)
        #expect(toGatherer.worker == gatherer && toGatherer.stage == .fragments)
        let held = try #require(Self.deliver(shards[other], shards, input: 0))
        #expect(held.0 == .consumed, "held until the rest comes")
        #expect(shards[gatherer].engine.handOff == nil)
        // The last fragment completes it at the gatherer, which hands the datagram to the owner.
        #expect(shards[gatherer].send(fragments[1], on: 0).verdict == .consumed)
        let toOwner = try #require(shards[gatherer].engine.handOff)
        #expect(toOwner.worker == other && toOwner.stage == .done && toOwner.reassembled != nil)
        let (verdict, _, _) = try #require(Self.deliver(shards[gatherer], shards, input: 0))
        // It leaves in pieces no bigger than it came in (frag_max_size travelled with it).
        #expect(verdict == .consumed)
        #expect(shards[other].engine.handOff == nil)
        let pieces = shards[other].generated()
        #expect(pieces.count == 2 && pieces.allSatisfy { $0.interface == 1 && $0.bytes.count <= 76 })
        #expect(shards[other].engine.statistics.forwarded + UInt64(pieces.count) >= 2)
    }

    /// A rate is one queue's: worker 0 alone runs the impairments, and what
    /// another worker forwards through an impaired interface goes to it.
    @Test func impairmentsRunAtWorkerZero() throws {
        let shards = try Self.shards(2, rules: NATTests.masquerade)
        shards[0].engine.setImpairment(try Impairment.parse("delay 10ms"), interface: 1, direction: .out)
        shards[1].engine.mirrorImpairments(of: shards[0].engine)
        let b = shards[1]
        #expect(b.send(Packet.udp(client4, 5000, server4, 53, payload: [1]), on: 0).verdict == .consumed)
        let handOff = try #require(b.engine.handOff)
        #expect(handOff.worker == 0 && handOff.stage == .impairment && handOff.output == 1)
        #expect(b.engine.conntrack.table.count == 1, "the connection is worker 1's; only the delay is worker 0's")
        let (verdict, _, _) = try #require(Self.deliver(b, shards, input: 0))
        #expect(verdict == .consumed, "held 10 ms by worker 0's delay stage")
        #expect(shards[0].engine.impairedCount == 1)
        // Traffic that passes no impaired stage stays where it is.
        shards[0].engine.setImpairment(Impairment(), interface: 1, direction: .out)
        shards[1].engine.mirrorImpairments(of: shards[0].engine)
        #expect(b.send(Packet.udp(client4, 5001, server4, 53, payload: [1]), on: 0).verdict == .forward(1))
    }

    /// IPv4 fragments of `datagram` (header 20 bytes) cut at `offset` bytes of payload (a multiple of 8).
    static func fragment(_ datagram: [UInt8], at offset: Int) -> [[UInt8]] {
        let header = Array(datagram[0..<20]), payload = Array(datagram[20...])
        func piece(_ bytes: ArraySlice<UInt8>, offset: Int, more: Bool) -> [UInt8] {
            var h = header
            let total = 20 + bytes.count
            h[2] = UInt8(total >> 8); h[3] = UInt8(total & 0xff)
            let field = (more ? 0x2000 : 0) | (offset / 8)
            h[6] = UInt8(field >> 8); h[7] = UInt8(field & 0xff)
            h[10] = 0; h[11] = 0
            var sum: UInt32 = 0
            for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(h[i]) << 8 | UInt32(h[i + 1]) }
            while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
            let check = ~UInt16(sum)
            h[10] = UInt8(check >> 8); h[11] = UInt8(check & 0xff)
            return h + bytes
        }
        return [piece(payload[0..<offset], offset: 0, more: true),
                piece(payload[offset...], offset: offset, more: false)]
    }
}

// A firewall in a test: the basic topology's engine (lan0 10.0.1.1/24 +
// fd00:1::1/64, wan0 203.0.113.1/24 + 2001:db8:1::1/64), a manual clock, and
// helpers that inject packets and collect what comes out.

import Conntrack
@testable import Engine
import Testing
import Wire

let client4 = IPv4Address(10, 0, 1, 2)
let server4 = IPv4Address(203, 0, 113, 10)
let client6 = IPv6Address("fd00:1::2")!
let server6 = IPv6Address("2001:db8:1::10")!

final class Harness {
    let engine: Engine
    var now: Timestamp = 1_000 * nanosecondsPerSecond
    var buffer = PacketBuffer.allocate()
    let lan: InterfaceID = 0
    let wan: InterfaceID = 1

    init(conntrackCapacity: Int = 1024, wanMTU: Int = 1500) throws {
        let configuration = EngineConfiguration(
            interfaces: [
                InterfaceConfiguration(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!, InterfaceAddress("fd00:1::1/64")!]),
                InterfaceConfiguration(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!, InterfaceAddress("2001:db8:1::1/64")!],
                                       mtu: wanMTU),
            ],
            conntrackCapacity: conntrackCapacity)
        engine = try Engine(configuration)
    }

    init(configuration: EngineConfiguration) throws {
        engine = try Engine(configuration)
    }

    deinit { buffer.deallocate() }

    func advance(seconds: UInt64) { now += seconds * nanosecondsPerSecond }

    /// Injects `packet` on `interface`; returns the verdict and the bytes as they would leave.
    @discardableResult
    func send(_ packet: Packet, on interface: InterfaceID) -> (verdict: Verdict, bytes: [UInt8]) {
        send(packet.encoded(), on: interface)
    }

    @discardableResult
    func send(_ bytes: [UInt8], on interface: InterfaceID, virtio: VirtioNetHeader = .init()) -> (verdict: Verdict, bytes: [UInt8]) {
        buffer.load(bytes)
        buffer.virtio = virtio
        let verdict = engine.process(&buffer, from: interface, now: now)
        return (verdict, buffer.array)
    }

    /// Packets the engine generated since the last call, with their interfaces.
    func generated() -> [(interface: InterfaceID, bytes: [UInt8])] {
        var result: [(InterfaceID, [UInt8])] = []
        engine.outbox.drain { buffer, interface in result.append((interface, buffer.array)) }
        return result
    }

    /// The single conntrack entry for `tuple` (either direction).
    func entry(_ tuple: ConnTuple) -> ConnEntry? {
        guard let (position, _) = engine.conntrack.table.lookup(tuple, now: now) else { return nil }
        return engine.conntrack.table[position]
    }

    func tcp(_ flags: TCPFlags, from client: Bool = true, seq: UInt32 = 0, ack: UInt32 = 0,
             payload: [UInt8] = [], ttl: UInt8 = 64) -> Packet {
        client
            ? Packet.tcp(client4, 40000, server4, 80, flags: flags, sequenceNumber: SeqNumber(seq),
                         acknowledgmentNumber: SeqNumber(ack), payload: payload, ttl: ttl)
            : Packet.tcp(server4, 80, client4, 40000, flags: flags, sequenceNumber: SeqNumber(seq),
                         acknowledgmentNumber: SeqNumber(ack), payload: payload, ttl: ttl)
    }

    static let tcpTuple = ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: 40000,
                                    destinationPort: 80, protocol: .tcp)
}

// TAP interfaces at the engine tier: Ethernet in and out, ARP (RFC 826) and
// ND (RFC 4861) resolution with Linux's neighbour states and timers, the
// queue of packets waiting for a MAC, failure as ICMP unreachable,
// gratuitous ARP, and the table's bound under a flood. The clock is the
// test's: `tick` runs the timers as the runner does.

import Conntrack
@testable import Engine
import Testing
import TestSeeds
import Wire

let lanMAC = MACAddress("02:00:00:00:01:01")!
let wanMAC = MACAddress("02:00:00:00:02:01")!
let clientMAC = MACAddress("02:00:00:00:01:02")!
let serverMAC = MACAddress("02:00:00:00:02:10")!

/// An Ethernet frame around `payload`.
func ethernet(_ destination: MACAddress, _ source: MACAddress, _ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
    var frame = [UInt8](repeating: 0, count: EthernetHeader.length + payload.count)
    frame.withUnsafeMutableBytes { bytes in
        EthernetHeader(destination: destination, source: source, type: type).store(to: bytes)
    }
    frame.replaceSubrange(EthernetHeader.length..., with: payload)
    return frame
}

func arp(_ operation: UInt16, _ senderMAC: MACAddress, _ senderIP: IPv4Address, _ targetMAC: MACAddress,
         _ targetIP: IPv4Address) -> [UInt8] {
    var body = [UInt8](repeating: 0, count: ARPMessage.length)
    body.withUnsafeMutableBytes { bytes in
        ARPMessage(operation: operation, senderMAC: senderMAC, senderIP: senderIP, targetMAC: targetMAC,
                   targetIP: targetIP).store(to: bytes)
    }
    return body
}

func nd(_ message: NeighbourMessage) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: NeighbourMessage.packetLength)
    let length = bytes.withUnsafeMutableBytes { message.write(to: $0) }
    return Array(bytes.prefix(length))
}

/// What a frame the firewall sent says.
struct SentFrame {
    var header: EthernetHeader
    var payload: [UInt8]
    var arp: ARPMessage? {
        payload.withUnsafeBytes { ARPMessage($0) }
    }
    var neighbourMessage: NeighbourMessage? {
        payload.withUnsafeBytes { bytes -> NeighbourMessage? in
            if case .message(let message) = NeighbourMessage.parse(bytes) { return message }
            return nil
        }
    }
    var summary: String { PacketSummary.line(for: payload) }

    init?(_ bytes: [UInt8]) {
        guard let header = bytes.withUnsafeBytes({ EthernetHeader($0) }) else { return nil }
        self.header = header
        payload = Array(bytes.dropFirst(EthernetHeader.length))
    }
}

func tapHarness() throws -> Harness {
    try Harness(configuration: EngineConfiguration(interfaces: [
        InterfaceConfiguration(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!, InterfaceAddress("fd00:1::1/64")!],
                               mode: .tap, hardwareAddress: lanMAC),
        InterfaceConfiguration(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!,
                                                         InterfaceAddress("2001:db8:1::1/64")!],
                               mode: .tap, hardwareAddress: wanMAC),
    ], conntrackCapacity: 1024))
}

extension Harness {
    func tick() { engine.tick(now: now) }

    /// Frames sent now and at each of the next `seconds` ticks, a second apart.
    func framesOver(seconds: Int) -> [(interface: InterfaceID, frame: SentFrame)] {
        var collected = frames()
        for _ in 0..<seconds {
            advance(seconds: 1)
            tick()
            collected += frames()
        }
        return collected
    }
    func advance(milliseconds: UInt64) { now += milliseconds * 1_000_000 }

    func frames() -> [(interface: InterfaceID, frame: SentFrame)] {
        generated().compactMap { item in SentFrame(item.bytes).map { (item.interface, $0) } }
    }

    func state(_ address: String) -> NeighbourState? {
        engine.neighbourRecords().first { $0.address.description == address }?.state
    }

    /// The client's packet to the server from the LAN, as a frame to the firewall.
    func fromClient(_ packet: Packet) -> (verdict: Verdict, bytes: [UInt8]) {
        send(ethernet(lanMAC, clientMAC, packet.network.isV4 ? EtherType.ipv4 : EtherType.ipv6, packet.encoded()), on: lan)
    }

    /// Teaches the firewall the server's MAC: the server asks for the firewall's address.
    func serverAsks() {
        send(ethernet(.broadcast, serverMAC, EtherType.arp,
                      arp(ARPMessage.request, serverMAC, server4, .zero, IPv4Address(203, 0, 113, 1))), on: wan)
        _ = generated()
    }
}

extension NetworkHeader {
    var isV4: Bool { if case .v4 = self { return true } else { return false } }
}

@Suite struct NeighbourTests {
    @Test func answersARPForItsOwnAddressAndLearnsTheAsker() throws {
        let h = try tapHarness()
        let (verdict, _) = h.send(ethernet(.broadcast, clientMAC, EtherType.arp,
                                           arp(ARPMessage.request, clientMAC, client4, .zero, IPv4Address(10, 0, 1, 1))),
                                  on: h.lan)
        #expect(verdict == .consumed)
        let out = h.frames()
        #expect(out.count == 1)
        let reply = try #require(out.first?.frame)
        #expect(reply.header.destination == clientMAC && reply.header.source == lanMAC && reply.header.type == EtherType.arp)
        #expect(reply.arp == ARPMessage(operation: ARPMessage.reply, senderMAC: lanMAC, senderIP: IPv4Address(10, 0, 1, 1),
                                        targetMAC: clientMAC, targetIP: client4))
        #expect(reply.payload.count == 46, "padded to Ethernet's 60-byte minimum")
        // neigh_event_ns: the asker is known, STALE until used.
        #expect(h.engine.neighbourRecords().map(\.description) == ["10.0.1.2 dev lan0 lladdr 02:00:00:00:01:02 STALE"])
    }

    @Test func noProxyARP() throws {
        let h = try tapHarness()
        // Another host's address, and the firewall's address on the other interface.
        for target in [IPv4Address(10, 0, 1, 7), IPv4Address(203, 0, 113, 1)] {
            let (verdict, _) = h.send(ethernet(.broadcast, clientMAC, EtherType.arp,
                                               arp(ARPMessage.request, clientMAC, client4, .zero, target)), on: h.lan)
            #expect(verdict == .drop(.neighbourNotOurs))
        }
        #expect(h.frames().isEmpty)
        #expect(h.engine.neighbourRecords().isEmpty)
    }

    @Test func resolvesTheNextHopQueuesAndReleases() throws {
        let h = try tapHarness()
        let syn = Packet.tcp(client4, 40000, server4, 80, flags: .syn)
        #expect(h.fromClient(syn).verdict == .consumed, "held while wan0 resolves 203.0.113.10")
        let probes = h.frames()
        #expect(probes.count == 1)
        let request = try #require(probes.first)
        #expect(request.interface == h.wan && request.frame.header.destination == .broadcast)
        #expect(request.frame.arp == ARPMessage(operation: ARPMessage.request, senderMAC: wanMAC,
                                                senderIP: IPv4Address(203, 0, 113, 1), targetMAC: .zero, targetIP: server4))
        #expect(h.state("203.0.113.10") == .incomplete)
        // A second packet joins the queue without another probe.
        #expect(h.fromClient(Packet.tcp(client4, 40001, server4, 80, flags: .syn)).verdict == .consumed)
        #expect(h.frames().isEmpty)

        h.advance(milliseconds: 20)
        let reply = ethernet(wanMAC, serverMAC, EtherType.arp,
                             arp(ARPMessage.reply, serverMAC, server4, wanMAC, IPv4Address(203, 0, 113, 1)))
        #expect(h.send(reply, on: h.wan).verdict == .consumed)
        let released = h.frames()
        #expect(released.map(\.interface) == [h.wan, h.wan])
        #expect(released.allSatisfy { $0.frame.header == EthernetHeader(destination: serverMAC, source: wanMAC, type: EtherType.ipv4) })
        #expect(released.first?.frame.summary.hasPrefix("IP 10.0.1.2.40000 > 203.0.113.10.80: Flags [S]") == true)
        #expect(h.state("203.0.113.10") == .reachable)

        // Now the fast path: framed at once, the MAC from the table.
        let (verdict, bytes) = h.fromClient(Packet.tcp(client4, 40002, server4, 80, flags: .syn))
        #expect(verdict == .forward(h.wan))
        #expect(SentFrame(bytes)?.header == EthernetHeader(destination: serverMAC, source: wanMAC, type: EtherType.ipv4))
    }

    @Test func reachableGoesStaleThenDelayProbeAndFailed() throws {
        let h = try tapHarness()
        _ = h.fromClient(Packet.udp(client4, 5000, server4, 53, payload: [1]))
        _ = h.frames()
        h.send(ethernet(wanMAC, serverMAC, EtherType.arp,
                        arp(ARPMessage.reply, serverMAC, server4, wanMAC, IPv4Address(203, 0, 113, 1))), on: h.wan)
        _ = h.frames()
        #expect(h.state("203.0.113.10") == .reachable)
        // reachable_time is 15…45 s (30 s randomised); unused meanwhile, the entry goes STALE.
        for _ in 0..<46 {
            h.advance(seconds: 1)
            h.tick()
        }
        #expect(h.state("203.0.113.10") == .stale)
        // Used while STALE: sent at once with the old MAC, DELAY for 5 s…
        #expect(h.fromClient(Packet.udp(client4, 5000, server4, 53, payload: [2])).verdict == .forward(h.wan))
        #expect(h.state("203.0.113.10") == .delay)
        h.advance(seconds: 4)
        h.tick()
        #expect(h.state("203.0.113.10") == .delay)
        h.advance(seconds: 1)
        h.tick()
        // …then PROBE: unicast ARP to the known MAC, three of them a second apart.
        #expect(h.state("203.0.113.10") == .probe)
        let unicast = h.framesOver(seconds: 2)
        #expect(unicast.count == 3)
        #expect(unicast.allSatisfy { $0.frame.header.destination == serverMAC && $0.frame.arp?.operation == ARPMessage.request })
        h.advance(seconds: 1)
        h.tick()
        #expect(h.state("203.0.113.10") == .failed)
        #expect(h.engine.neighbourRecords().first?.description == "203.0.113.10 dev wan0 FAILED")
    }

    @Test func probeAnsweredMakesItReachableAgain() throws {
        let h = try tapHarness()
        h.serverAsks()
        #expect(h.state("203.0.113.10") == .stale)
        #expect(h.fromClient(Packet.udp(client4, 5000, server4, 53, payload: [2])).verdict == .forward(h.wan))
        h.advance(seconds: 5)
        h.tick()
        #expect(h.state("203.0.113.10") == .probe)
        _ = h.frames()
        h.send(ethernet(wanMAC, serverMAC, EtherType.arp,
                        arp(ARPMessage.reply, serverMAC, server4, wanMAC, IPv4Address(203, 0, 113, 1))), on: h.wan)
        #expect(h.state("203.0.113.10") == .reachable)
    }

    @Test func failedResolutionSendsHostUnreachable() throws {
        let h = try tapHarness()
        h.send(ethernet(.broadcast, clientMAC, EtherType.arp,
                        arp(ARPMessage.request, clientMAC, client4, .zero, IPv4Address(10, 0, 1, 1))), on: h.lan)
        _ = h.frames()
        #expect(h.fromClient(Packet.udp(client4, 5000, server4, 53, payload: [1])).verdict == .consumed)
        let probes = h.framesOver(seconds: 2)
        // mcast_solicit 3: three broadcasts, retrans_time 1 s apart.
        #expect(probes.count == 3)
        #expect(probes.allSatisfy { $0.frame.header.destination == .broadcast })
        #expect(h.state("203.0.113.10") == .incomplete)
        h.advance(seconds: 1)
        h.tick()
        #expect(h.state("203.0.113.10") == .failed)
        #expect(h.engine.statistics.dropCount(.neighbourFailed) == 1)
        let errors = h.frames()
        #expect(errors.count == 1)
        #expect(errors.first?.interface == h.lan)
        #expect(errors.first?.frame.header.destination == clientMAC)
        #expect(errors.first?.frame.summary == "IP 10.0.1.1 > 10.0.1.2: ICMP host 203.0.113.10 unreachable, length 37")
    }

    @Test func failedIPv6ResolutionSendsAddressUnreachable() throws {
        let h = try tapHarness()
        let ns = NeighbourMessage(isSolicitation: true, source: client6, destination: IPv6Address("fd00:1::1")!.solicitedNodeMulticast,
                                  target: IPv6Address("fd00:1::1")!, linkLayerAddress: clientMAC)
        h.send(ethernet(MACAddress(ipv6Multicast: ns.destination), clientMAC, EtherType.ipv6, nd(ns)), on: h.lan)
        _ = h.frames()
        #expect(h.fromClient(Packet.udp(client6, 5000, server6, 53, payload: [1])).verdict == .consumed)
        let solicitation = try #require(h.frames().first)
        #expect(solicitation.frame.header.destination == MACAddress("33:33:ff:00:00:10"))
        #expect(solicitation.frame.neighbourMessage?.destination == IPv6Address("ff02::1:ff00:10"))
        for _ in 0..<3 {
            h.advance(seconds: 1)
            h.tick()
        }
        let errors = h.frames().filter { $0.interface == h.lan }
        #expect(errors.count == 1)
        #expect(errors.first?.frame.summary.contains("unreachable") == true)
        #expect(errors.first.map { $0.frame.payload[40] == 1 && $0.frame.payload[41] == 3 } == true,
                "ICMPv6 destination unreachable, code 3 (address unreachable)")
    }

    @Test func queueIsBounded() throws {
        let h = try tapHarness()
        for port in 0..<40 {
            #expect(h.fromClient(Packet.udp(client4, UInt16(6000 + port), server4, 53, payload: [1])).verdict == .consumed)
        }
        #expect(h.engine.statistics.dropCount(.neighbourQueueFull) == 8)
        _ = h.frames()
        h.send(ethernet(wanMAC, serverMAC, EtherType.arp,
                        arp(ARPMessage.reply, serverMAC, server4, wanMAC, IPv4Address(203, 0, 113, 1))), on: h.wan)
        let released = h.frames()
        #expect(released.count == 32)
        // The oldest were pushed out (__neigh_event_send drops the head).
        #expect(released.first?.frame.summary.hasPrefix("IP 10.0.1.2.6008 >") == true)
    }

    @Test func gratuitousARPUpdatesOnlyExistingEntries() throws {
        let h = try tapHarness()
        h.serverAsks()
        let moved = MACAddress("02:00:00:00:02:99")!
        // A gratuitous ARP (sender IP = target IP) from a new MAC: the entry follows at once (no locktime).
        #expect(h.send(ethernet(.broadcast, moved, EtherType.arp, arp(ARPMessage.request, moved, server4, .zero, server4)),
                       on: h.wan).verdict == .consumed)
        #expect(h.engine.neighbourRecords().first?.hardwareAddress == moved)
        // One for an address nobody resolved makes no entry (arp_accept=0).
        let stranger = IPv4Address(203, 0, 113, 77)
        h.send(ethernet(.broadcast, moved, EtherType.arp, arp(ARPMessage.request, moved, stranger, .zero, stranger)), on: h.wan)
        #expect(h.engine.neighbourRecords().count == 1)
        // A different MAC in an ordinary reply within the 1 s locktime does not override.
        let third = MACAddress("02:00:00:00:02:98")!
        h.send(ethernet(wanMAC, third, EtherType.arp, arp(ARPMessage.reply, third, server4, wanMAC, IPv4Address(203, 0, 113, 1))),
               on: h.wan)
        #expect(h.engine.neighbourRecords().first?.hardwareAddress == moved)
    }

    @Test func arpFloodLeavesTheTableBounded() throws {
        let h = try tapHarness()
        var made = 0
        for index in 0..<3000 {
            let sender = IPv4Address(10, 0, UInt8(1 + index / 250), UInt8(2 + index % 250))
            let mac = MACAddress(0x0200_0000_0000 | UInt64(index + 1))
            h.send(ethernet(.broadcast, mac, EtherType.arp, arp(ARPMessage.request, mac, sender, .zero, IPv4Address(10, 0, 1, 1))),
                   on: h.lan)
            made += h.generated().count
            if index % 100 == 0 { h.advance(milliseconds: 10) }
        }
        #expect(made == 3000, "every request for our address is answered")
        #expect(h.engine.neighbours.count <= 1024)
        #expect(h.engine.statistics.dropCount(.neighbourTableFull) > 0)
        // Five seconds on, the forced collection makes room for a new neighbour.
        h.advance(seconds: 6)
        #expect(h.fromClient(Packet.udp(client4, 5000, server4, 53, payload: [1])).verdict == .consumed)
        #expect(h.state("203.0.113.10") == .incomplete)
        #expect(h.engine.neighbours.count <= 1024)
    }

    @Test func answersNeighbourSolicitationAndResolvesWithND() throws {
        let h = try tapHarness()
        let own = IPv6Address("fd00:1::1")!
        let ns = NeighbourMessage(isSolicitation: true, source: client6, destination: own.solicitedNodeMulticast,
                                  target: own, linkLayerAddress: clientMAC)
        #expect(h.send(ethernet(MACAddress(ipv6Multicast: ns.destination), clientMAC, EtherType.ipv6, nd(ns)),
                       on: h.lan).verdict == .consumed)
        let answer = try #require(h.frames().first)
        #expect(answer.frame.header == EthernetHeader(destination: clientMAC, source: lanMAC, type: EtherType.ipv6))
        let na = try #require(answer.frame.neighbourMessage)
        #expect(!na.isSolicitation && na.solicited && na.override && na.router)
        #expect(na.source == own && na.destination == client6 && na.target == own && na.linkLayerAddress == lanMAC)
        #expect(h.state("fd00:1::2") == .stale)

        // Forwarding toward an unknown IPv6 neighbour: NS to its solicited-node group.
        #expect(h.fromClient(Packet.udp(client6, 5000, server6, 53, payload: [1])).verdict == .consumed)
        let solicitation = try #require(h.frames().first)
        let sent = try #require(solicitation.frame.neighbourMessage)
        #expect(sent.isSolicitation && sent.target == server6 && sent.linkLayerAddress == wanMAC)
        #expect(sent.source == IPv6Address("2001:db8:1::1"))
        // The solicited NA brings it to REACHABLE and releases the packet.
        let reply = NeighbourMessage(isSolicitation: false, source: server6, destination: sent.source, target: server6,
                                     linkLayerAddress: serverMAC, solicited: true, override: true)
        #expect(h.send(ethernet(wanMAC, serverMAC, EtherType.ipv6, nd(reply)), on: h.wan).verdict == .consumed)
        #expect(h.state("2001:db8:1::10") == .reachable)
        let released = h.frames()
        #expect(released.count == 1 && released.first?.frame.header.destination == serverMAC)
        // An unsolicited NA with O for a new MAC: STALE at the new address.
        let moved = MACAddress("02:00:00:00:02:99")!
        let unsolicited = NeighbourMessage(isSolicitation: false, source: server6, destination: .allNodes, target: server6,
                                           linkLayerAddress: moved, override: true)
        h.send(ethernet(MACAddress(ipv6Multicast: .allNodes), moved, EtherType.ipv6, nd(unsolicited)), on: h.wan)
        #expect(h.engine.neighbourRecords().first { $0.address.description == "2001:db8:1::10" }?.hardwareAddress == moved)
        #expect(h.state("2001:db8:1::10") == .stale)
    }

    @Test func invalidNeighbourDiscoveryIsDropped() throws {
        let h = try tapHarness()
        let own = IPv6Address("fd00:1::1")!
        var bytes = nd(NeighbourMessage(isSolicitation: true, source: client6, destination: own.solicitedNodeMulticast,
                                        target: own, linkLayerAddress: clientMAC))
        bytes[7] = 64  // hop limit not 255: from off-link (RFC 4861 §7.1.1)
        #expect(h.send(ethernet(MACAddress(ipv6Multicast: own.solicitedNodeMulticast), clientMAC, EtherType.ipv6, bytes),
                       on: h.lan).verdict == .drop(.ndiscInvalid))
        #expect(h.frames().isEmpty)
    }

    @Test func framesNotForTheFirewallAreDropped() throws {
        let h = try tapHarness()
        let packet = Packet.udp(client4, 5000, server4, 53, payload: [1]).encoded()
        #expect(h.send(ethernet(MACAddress("02:00:00:00:01:77")!, clientMAC, EtherType.ipv4, packet), on: h.lan).verdict
                == .drop(.otherHost))
        var tagged = ethernet(lanMAC, clientMAC, EtherType.vlan, [0, 5, 0x08, 0x00] + packet)
        #expect(h.send(tagged, on: h.lan).verdict == .drop(.vlanTagged))
        tagged[12] = 0x88; tagged[13] = 0xa8
        #expect(h.send(tagged, on: h.lan).verdict == .drop(.vlanTagged))
        #expect(h.send(ethernet(lanMAC, clientMAC, 0x88cc, [1, 2, 3]), on: h.lan).verdict == .drop(.unhandledEtherType))
        #expect(h.send([1, 2, 3], on: h.lan).verdict == .drop(.ethernetMalformed))
        #expect(h.send(ethernet(.broadcast, clientMAC, EtherType.arp, [0, 1, 8]), on: h.lan).verdict == .drop(.arpInvalid))
    }

    @Test func pingOfTheFirewallIsAnsweredAsAFrame() throws {
        let h = try tapHarness()
        h.send(ethernet(.broadcast, clientMAC, EtherType.arp,
                        arp(ARPMessage.request, clientMAC, client4, .zero, IPv4Address(10, 0, 1, 1))), on: h.lan)
        _ = h.frames()
        let ping = Packet.icmp(client4, IPv4Address(10, 0, 1, 1), .echoRequest(identifier: 7, sequence: 1))
        #expect(h.fromClient(ping).verdict == .consumed)
        let reply = try #require(h.frames().first)
        #expect(reply.frame.header == EthernetHeader(destination: clientMAC, source: lanMAC, type: EtherType.ipv4))
        #expect(reply.frame.summary.hasPrefix("IP 10.0.1.1 > 10.0.1.2: ICMP echo reply"))
    }

    /// Malformed frames are dropped with a reason, never trap: valid ARP,
    /// NS, NA and IP frames with random bytes changed and random lengths.
    @Test func mangledFramesNeverTrap() throws {
        let h = try tapHarness()
        var random = SeededGenerator(seed: testSeed(0x6e65_6967))
        let own = IPv6Address("fd00:1::1")!
        let seeds: [[UInt8]] = [
            ethernet(.broadcast, clientMAC, EtherType.arp, arp(ARPMessage.request, clientMAC, client4, .zero, IPv4Address(10, 0, 1, 1))),
            ethernet(lanMAC, clientMAC, EtherType.arp, arp(ARPMessage.reply, clientMAC, client4, lanMAC, IPv4Address(10, 0, 1, 1))),
            ethernet(MACAddress(ipv6Multicast: own.solicitedNodeMulticast), clientMAC, EtherType.ipv6,
                     nd(NeighbourMessage(isSolicitation: true, source: client6, destination: own.solicitedNodeMulticast,
                                         target: own, linkLayerAddress: clientMAC))),
            ethernet(lanMAC, clientMAC, EtherType.ipv6,
                     nd(NeighbourMessage(isSolicitation: false, source: client6, destination: own, target: client6,
                                         linkLayerAddress: clientMAC, solicited: true, override: true))),
            ethernet(lanMAC, clientMAC, EtherType.ipv4, Packet.udp(client4, 5000, server4, 53, payload: [1]).encoded()),
        ]
        for round in 0..<20_000 {
            var frame = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                frame[Int.random(in: 0..<frame.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            if Bool.random(using: &random) { frame = Array(frame.prefix(Int.random(in: 0...frame.count, using: &random))) }
            h.send(frame, on: round % 2 == 0 ? h.lan : h.wan)
            _ = h.generated()
            if round % 1000 == 0 {
                h.advance(seconds: 1)
                h.tick()
            }
        }
        #expect(h.engine.neighbours.count <= 1024)
        #expect(h.engine.statistics.dropCount(.arpInvalid) > 0 && h.engine.statistics.dropCount(.ndiscInvalid) > 0)
    }

    @Test func tunInterfacesAreUntouched() throws {
        let h = try Harness()
        #expect(!h.engine.hasEthernet)
        #expect(h.send(Packet.udp(client4, 5000, server4, 53, payload: [1]), on: h.lan).verdict == .forward(h.wan))
        #expect(h.engine.neighbourRecords().isEmpty)
    }
}

// Routing and forwarding: TTL and hop limit, MTU (fragmentation needed,
// packet too big, fragmenting), the firewall's own addresses, malformed
// input, and the conntrack listing format.

@testable import Conntrack
@testable import Engine
import Testing
import Wire
import TestSeeds

@Suite struct ForwardingTests {
    @Test func forwardsBothFamiliesAndDecrementsTTL() throws {
        let h = try Harness()
        let (verdict, bytes) = h.send(Packet.udp(client4, 5000, server4, 53, payload: [1, 2], ttl: 64), on: h.lan)
        #expect(verdict == .forward(h.wan))
        let out = try Packet(parsing: bytes)
        guard case .v4(let ip) = out.network else { Issue.record("not IPv4"); return }
        #expect(ip.ttl == 63)
        // The header checksum was patched (Packet(parsing:) re-encodes; compare bytes).
        #expect(out.encoded() == bytes, "IP and UDP checksums still valid after the TTL change")

        let (verdict6, bytes6) = h.send(Packet.udp(client6, 5000, server6, 53, payload: [1], hopLimit: 2), on: h.lan)
        #expect(verdict6 == .forward(h.wan))
        #expect(bytes6[7] == 1)
        #expect(h.engine.statistics.forwarded == 2)
        #expect(h.engine.statistics.interfaces[h.wan].sentPackets == 2)
    }

    @Test func ttlExpiryProducesTimeExceeded() throws {
        let h = try Harness()
        let probe = Packet.udp(client4, 40000, server4, 33434, payload: [0, 0, 0, 0], ttl: 1)
        #expect(h.send(probe, on: h.lan).verdict == .drop(.ttlExceeded))
        let out = h.generated()
        #expect(out.count == 1)
        #expect(out[0].interface == h.lan)
        #expect(PacketSummary.line(for: out[0].bytes) == "IP 10.0.1.1 > 10.0.1.2: ICMP time exceeded in-transit, length 40")
        // It quotes the probe, header and data, and its checksums verify.
        let error = try Packet(parsing: out[0].bytes)
        #expect(error.encoded() == out[0].bytes)
        #expect(Array(error.payload.prefix(20)) == Array(probe.encoded().prefix(20)))

        let probe6 = Packet.udp(client6, 40000, server6, 33434, payload: [0], hopLimit: 1)
        #expect(h.send(probe6, on: h.lan).verdict == .drop(.ttlExceeded))
        let out6 = h.generated()
        #expect(PacketSummary.line(for: out6[0].bytes)
                == "IP6 fd00:1::1 > fd00:1::2: ICMP6, time exceeded in-transit for 2001:db8:1::10, length 57")
        #expect(try Packet(parsing: out6[0].bytes).encoded() == out6[0].bytes)
        #expect(h.engine.statistics.dropCount(.ttlExceeded) == 2)
    }

    @Test func noICMPAboutICMPErrorsOrMulticast() throws {
        let h = try Harness()
        let quoted = Array(Packet.udp(server4, 1, client4, 2).encoded().prefix(28))
        h.send(Packet.icmp(client4, server4, .destinationUnreachable(code: 3), payload: quoted, ttl: 1), on: h.lan)
        #expect(h.generated().isEmpty, "RFC 1812: no error about an error")
        h.send(Packet.udp(client4, 1, IPv4Address(224, 0, 0, 5), 2, ttl: 1), on: h.lan)
        #expect(h.generated().isEmpty)
    }

    @Test func icmpErrorsAreRateLimited() throws {
        let h = try Harness()
        for _ in 0..<80 { h.send(Packet.udp(client4, 40000, server4, 33434, ttl: 1), on: h.lan) }
        #expect(h.generated().count == 50, "a burst of 50, as Linux's icmp_msgs_burst")
        #expect(h.engine.statistics.dropCount(.icmpRateLimited) == 30)
        h.advance(seconds: 1)
        h.send(Packet.udp(client4, 40000, server4, 33434, ttl: 1), on: h.lan)
        #expect(h.generated().count == 1)
    }

    @Test func mtuProducesFragmentationNeededOrPacketTooBig() throws {
        let h = try Harness(wanMTU: 1300)
        let big = Packet.tcp(client4, 40000, server4, 80, flags: .ack, payload: [UInt8](repeating: 7, count: 1400))
        #expect(big.encoded().count == 1440)
        #expect(h.send(big, on: h.lan).verdict == .drop(.packetTooBig))
        let out = h.generated()
        #expect(PacketSummary.line(for: out[0].bytes)
                == "IP 10.0.1.1 > 10.0.1.2: ICMP 203.0.113.10 unreachable - need to frag (mtu 1300), length 556")

        let big6 = Packet.tcp(client6, 40000, server6, 80, flags: .ack, payload: [UInt8](repeating: 7, count: 1300))
        #expect(h.send(big6, on: h.lan).verdict == .drop(.packetTooBig))
        let out6 = h.generated()
        #expect(PacketSummary.line(for: out6[0].bytes).hasPrefix("IP6 fd00:1::1 > fd00:1::2: ICMP6, packet too big, mtu 1300, length 1240"))

        // A packet of exactly the MTU passes.
        let fits = Packet.tcp(client4, 40000, server4, 80, flags: .ack, payload: [UInt8](repeating: 7, count: 1260))
        #expect(h.send(fits, on: h.lan).verdict == .forward(h.wan))
    }

    @Test func superPacketsAreJudgedBySegmentSize() throws {
        let h = try Harness(wanMTU: 1500)
        // A 20 KB GSO packet with 1448-byte segments fits a 1500 MTU.
        let big = Packet.tcp(client4, 40000, server4, 80, flags: .ack, options: [.noOperation, .noOperation,
                             .timestamps(value: 1, echoReply: 2)], payload: [UInt8](repeating: 1, count: 20_000))
        let gso = VirtioNetHeader(flags: .needsChecksum, gsoType: .tcpv4, headerLength: 52, gsoSize: 1448,
                                  checksumStart: 20, checksumOffset: 16)
        #expect(h.send(big.encoded(), on: h.lan, virtio: gso).verdict == .forward(h.wan))
        var tooBig = gso
        tooBig.gsoSize = 1460
        #expect(h.send(big.encoded(), on: h.lan, virtio: tooBig).verdict == .drop(.packetTooBig))
    }

    @Test func fragmentsWhenAllowed() throws {
        let h = try Harness(wanMTU: 1500)
        var header = IPv4Header(source: client4, destination: server4, protocol: .udp)
        header.dontFragment = false
        header.identification = 0x4242
        let payload = (0..<2972).map { UInt8(truncatingIfNeeded: $0) }
        let datagram = Packet(network: .v4(header), transport: .udp(UDPHeader(sourcePort: 5000, destinationPort: 53)),
                              payload: payload)
        let original = datagram.encoded()
        #expect(original.count == 3000)
        #expect(h.send(original, on: h.lan).verdict == .consumed)
        let fragments = h.generated()
        #expect(fragments.map(\.bytes.count) == [1500, 1500, 40])
        #expect(fragments.allSatisfy { $0.interface == h.wan })
        // Reassembled, the data is the original's, and each header checks.
        var data: [UInt8] = []
        for (i, fragment) in fragments.enumerated() {
            var bytes = fragment.bytes
            try bytes.withPacketBytes { (raw) throws(WireError) in
                let ip = try IPv4Packet(validating: raw)
                #expect(ip.isHeaderChecksumValid)
                #expect(ip.identification == 0x4242 && ip.ttl == 63)
                #expect(Int(ip.fragmentOffset) * 8 == data.count)
                #expect(ip.moreFragments == (i < 2))
                data += Array(ip.payload)
            }
        }
        #expect(data == Array(original[20...]).map { $0 }.enumerated().map { $0.element })
    }

    @Test func answersPingsToItsOwnAddresses() throws {
        let h = try Harness()
        let ping = Packet.icmp(client4, IPv4Address(10, 0, 1, 1), .echoRequest(identifier: 3, sequence: 9),
                               payload: Array("hello".utf8))
        #expect(h.send(ping, on: h.lan).verdict == .consumed)
        let out = h.generated()
        #expect(out.count == 1 && out[0].interface == h.lan)
        #expect(PacketSummary.line(for: out[0].bytes) == "IP 10.0.1.1 > 10.0.1.2: ICMP echo reply, id 3, seq 9, length 13")
        #expect(try Packet(parsing: out[0].bytes).encoded() == out[0].bytes)
        // The far address answers too, from the LAN side.
        h.send(Packet.icmp(client4, IPv4Address(203, 0, 113, 1), .echoRequest(identifier: 3, sequence: 10)), on: h.lan)
        #expect(PacketSummary.line(for: h.generated()[0].bytes).hasPrefix("IP 203.0.113.1 > 10.0.1.2: ICMP echo reply"))

        let ping6 = Packet.icmp(client6, IPv6Address("fd00:1::1")!, .echoRequest(identifier: 4, sequence: 1))
        #expect(h.send(ping6, on: h.lan).verdict == .consumed)
        let out6 = h.generated()
        #expect(PacketSummary.line(for: out6[0].bytes) == "IP6 fd00:1::1 > fd00:1::2: ICMP6, echo reply, id 4, seq 1, length 8")
        #expect(try Packet(parsing: out6[0].bytes).encoded() == out6[0].bytes)
        // conntrack saw both ways.
        let tuple = ConnTuple(source: .v6(client6), destination: .v6(IPv6Address("fd00:1::1")!), sourcePort: 4,
                              destinationPort: 128 << 8, protocol: .icmpv6)
        #expect(h.entry(tuple)?.hasSeenReply == true)
    }

    @Test func refusesOtherTrafficToItself() throws {
        let h = try Harness()
        let syn = Packet.tcp(client4, 40000, IPv4Address(10, 0, 1, 1), 22, flags: .syn, sequenceNumber: SeqNumber(77))
        #expect(h.send(syn, on: h.lan).verdict == .drop(.localNoService))
        let reset = h.generated()
        #expect(PacketSummary.line(for: reset[0].bytes) == "IP 10.0.1.1.22 > 10.0.1.2.40000: Flags [R.], seq 0, ack 78, win 0, length 0")
        h.send(Packet.udp(client4, 40000, IPv4Address(10, 0, 1, 1), 53), on: h.lan)
        #expect(PacketSummary.line(for: h.generated()[0].bytes) == "IP 10.0.1.1 > 10.0.1.2: ICMP 10.0.1.1 udp port 53 unreachable, length 36")
    }

    @Test func noRouteSendsUnreachable() throws {
        let h = try Harness()
        #expect(h.send(Packet.udp(client4, 1, IPv4Address(198, 51, 100, 7), 2), on: h.lan).verdict == .drop(.noRoute))
        #expect(PacketSummary.line(for: h.generated()[0].bytes) == "IP 10.0.1.1 > 10.0.1.2: ICMP net 198.51.100.7 unreachable, length 36")
    }

    @Test func staticRoutes() throws {
        let configuration = EngineConfiguration(interfaces: [
            InterfaceConfiguration(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!]),
            InterfaceConfiguration(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!]),
        ], routes: [RouteConfiguration(destination: IPPrefix("0.0.0.0/0")!, gateway: IPAddress("203.0.113.254")!),
                    RouteConfiguration(destination: IPPrefix("192.168.7.0/24")!, interface: "lan0")])
        let engine = try Engine(configuration)
        var buffer = PacketBuffer.allocate()
        defer { buffer.deallocate() }
        buffer.load(Packet.udp(client4, 1, IPv4Address(198, 51, 100, 7), 2).encoded())
        #expect(engine.process(&buffer, from: 0, now: 1) == .forward(1))
        buffer.load(Packet.udp(server4, 1, IPv4Address(192, 168, 7, 9), 2).encoded())
        #expect(engine.process(&buffer, from: 1, now: 1) == .forward(0))

        #expect(throws: ConfigurationError.unreachableGateway(route: "0.0.0.0/0", gateway: "192.0.2.1")) {
            try Engine(EngineConfiguration(interfaces: configuration.interfaces,
                                           routes: [RouteConfiguration(destination: IPPrefix("0.0.0.0/0")!, gateway: IPAddress("192.0.2.1")!)]))
        }
        #expect(throws: ConfigurationError.unknownRouteInterface(route: "0.0.0.0/0", interface: "eth9")) {
            try Engine(EngineConfiguration(interfaces: configuration.interfaces,
                                           routes: [RouteConfiguration(destination: IPPrefix("0.0.0.0/0")!, interface: "eth9")]))
        }
        #expect(throws: ConfigurationError.duplicateInterface("lan0")) {
            try Engine(EngineConfiguration(interfaces: [configuration.interfaces[0], configuration.interfaces[0]]))
        }
    }

    @Test func malformedAndMartianPacketsAreDroppedAndCounted() throws {
        let h = try Harness()
        #expect(h.send([0x45, 0, 0], on: h.lan).verdict == .drop(.ipv4Malformed))
        #expect(h.send([0x75, 0, 0, 0], on: h.lan).verdict == .drop(.notIP))
        #expect(h.send([], on: h.lan).verdict == .drop(.notIP))
        var bad = Packet.udp(client4, 1, server4, 2).encoded()
        bad[10] ^= 0xff
        #expect(h.send(bad, on: h.lan).verdict == .drop(.ipv4BadChecksum))
        var shortUDP = Packet.udp(client4, 1, server4, 2, payload: [1, 2, 3]).encoded()
        shortUDP[25] = 200  // UDP length past the packet
        #expect(h.send(shortUDP, on: h.lan).verdict == .drop(.transportMalformed))
        var v6 = Packet.udp(client6, 1, server6, 2).encoded()
        v6[5] = 200
        #expect(h.send(v6, on: h.lan).verdict == .drop(.ipv6Malformed))
        #expect(h.send(Packet.udp(IPv4Address(10, 0, 1, 1), 1, server4, 2), on: h.lan).verdict == .drop(.martianSource))
        #expect(h.send(Packet.udp(IPv4Address(127, 0, 0, 1), 1, server4, 2), on: h.lan).verdict == .drop(.martianSource))
        #expect(h.send(Packet.udp(IPv6Address("fe80::1")!, 1, server6, 2), on: h.lan).verdict == .drop(.martianSource))
        #expect(h.send(Packet.udp(client4, 1, IPv4Address(10, 0, 1, 255), 2), on: h.lan).verdict == .drop(.martianDestination))
        var buffer = PacketBuffer.allocate()
        defer { buffer.deallocate() }
        buffer.load(Packet.udp(client4, 1, server4, 2).encoded())
        #expect(h.engine.process(&buffer, from: 7, now: h.now) == .drop(.unknownInterface))
        for reason in [DropReason.ipv4Malformed, .notIP, .ipv4BadChecksum, .transportMalformed, .ipv6Malformed,
                       .martianSource, .martianDestination, .unknownInterface] {
            #expect(h.engine.statistics.dropCount(reason) >= 1, "\(reason)")
        }
        #expect(h.engine.conntrack.table.count == 0)
    }

    @Test func badTransportChecksumIsInvalidNotDropped() throws {
        let h = try Harness()
        var bytes = Packet.udp(client4, 1, server4, 2, payload: [9]).encoded()
        bytes[26] ^= 0x55
        #expect(h.send(bytes, on: h.lan).verdict == .forward(h.wan), "Linux forwards invalid packets unless a rule drops them")
        #expect(h.engine.conntrack.invalidCounts[InvalidReason.badChecksum.rawValue] == 1)
        #expect(h.engine.conntrack.table.count == 0)
        // A checksum left to offload is not checked.
        var partial = Packet.udp(client4, 1, server4, 2, payload: [9]).encoded()
        partial[26] = 0x12
        partial[27] = 0x34
        h.send(partial, on: h.lan, virtio: VirtioNetHeader(flags: .needsChecksum, gsoType: .none,
                                                             checksumStart: 20, checksumOffset: 6))
        #expect(h.engine.conntrack.table.count == 1)
    }

    @Test func listingInConntrackFormat() throws {
        let h = try Harness()
        h.send(h.tcp(.syn, seq: 1), on: h.lan)
        h.send(h.tcp([.syn, .ack], from: false, seq: 9, ack: 2), on: h.wan)
        h.send(h.tcp(.ack, seq: 2, ack: 10), on: h.lan)
        h.send(Packet.udp(client6, 5000, server6, 53), on: h.lan)
        h.send(Packet.icmp(client4, server4, .echoRequest(identifier: 7, sequence: 1)), on: h.lan)
        h.advance(seconds: 1)
        let lines = h.engine.conntrack.listing(now: h.now)
        #expect(lines == [
            "tcp      6 431999 ESTABLISHED src=10.0.1.2 dst=203.0.113.10 sport=40000 dport=80 packets=2 bytes=80 "
                + "src=203.0.113.10 dst=10.0.1.2 sport=80 dport=40000 packets=1 bytes=40 [ASSURED] mark=0 use=1",
            "udp      17 29 src=fd00:1::2 dst=2001:db8:1::10 sport=5000 dport=53 packets=1 bytes=48 [UNREPLIED] "
                + "src=2001:db8:1::10 dst=fd00:1::2 sport=53 dport=5000 packets=0 bytes=0 mark=0 use=1",
            "icmp     1 29 src=10.0.1.2 dst=203.0.113.10 type=8 code=0 id=7 packets=1 bytes=28 [UNREPLIED] "
                + "src=203.0.113.10 dst=10.0.1.2 type=0 code=0 id=7 packets=0 bytes=0 mark=0 use=1",
        ])
    }

    /// Hostile input through the whole pipeline: nothing traps.
    @Test func mutatedPacketsNeverTrap() throws {
        let h = try Harness(conntrackCapacity: 256)
        let seeds = [h.tcp(.syn).encoded(), Packet.udp(client6, 1, server6, 2, payload: [1, 2]).encoded(),
                     Packet.icmp(server4, client4, .destinationUnreachable(code: 3),
                                 payload: Array(Packet.udp(client4, 1, server4, 2).encoded().prefix(28))).encoded(),
                     Packet.icmp(client6, IPv6Address("fd00:1::1")!, .echoRequest(identifier: 1, sequence: 1)).encoded()]
        var state = testSeed(99)
        func random(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % n
        }
        // A trap would end the test process; beyond not trapping, every packet
        // must get a verdict, and every drop verdict must be counted under its
        // reason (the project's rule: malformed input is dropped with a counted reason).
        let rounds = 30_000
        var verdicts: [DropReason: UInt64] = [:]
        var forwarded: UInt64 = 0, consumed: UInt64 = 0
        for round in 0..<rounds {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<(1 + random(4)) {
                switch random(3) {
                case 0 where !bytes.isEmpty: bytes[random(bytes.count)] ^= UInt8(1 << random(8))
                case 1 where !bytes.isEmpty: bytes.removeLast(random(bytes.count))
                default: bytes.append(UInt8(random(256)))
                }
            }
            switch h.send(bytes, on: round % 2).verdict {
            case .forward: forwarded += 1
            case .drop(let reason): verdicts[reason, default: 0] += 1
            case .consumed: consumed += 1
            }
            _ = h.generated()
            if round % 1000 == 0 { h.advance(seconds: 7) }
        }
        _ = h.engine.conntrack.listing(now: h.now)
        let statistics = h.engine.statistics
        #expect(statistics.interfaces.map(\.receivedPackets).reduce(0, +) == UInt64(rounds))
        #expect(forwarded + consumed + verdicts.values.reduce(0, +) == UInt64(rounds))
        // Generated packets (ICMP errors) can be dropped too, without a verdict of their own.
        for reason in DropReason.allCases where reason != .icmpRateLimited && reason != .outboxFull {
            #expect(statistics.dropCount(reason) == verdicts[reason, default: 0], "\(reason): counted vs dropped")
        }
        #expect(statistics.forwarded == forwarded)
        // The mutations reach both ends: many packets are refused as malformed, many still pass.
        let malformed: [DropReason] = [.ipv4Malformed, .ipv4BadChecksum, .ipv6Malformed, .transportMalformed, .notIP]
        #expect(malformed.map { verdicts[$0, default: 0] }.reduce(0, +) > UInt64(rounds / 10), "\(verdicts)")
        #expect(forwarded > UInt64(rounds / 20), "forwarded \(forwarded) of \(rounds)")
        // And the engine still forwards a well-formed packet afterwards.
        #expect(h.send(Packet.udp(client4, 5000, server4, 53, payload: [1]), on: h.lan).verdict == .forward(h.wan))
    }
}

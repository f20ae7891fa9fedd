// NAT through the engine: masquerade and SNAT with port allocation under
// collisions and exhaustion, DNAT port forwarding, replies translated back
// from the conntrack entry alone, checksums right (also partial ones), and
// the reply tuple listed as Linux lists it.

@testable import Conntrack
@testable import Engine
import Rules
import Testing
import Wire

@Suite struct NATTests {
    func harness(_ rules: String, capacity: Int = 1024) throws -> Harness {
        let h = try Harness(conntrackCapacity: capacity)
        h.engine.replaceRuleset(try Ruleset.parse(rules, file: "nat.nft"))
        return h
    }

    static let masquerade = """
        table inet nat {
            chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
        }
        """

    @Test func masqueradeBothWays() throws {
        let h = try harness(Self.masquerade)
        let (verdict, out) = h.send(h.tcp(.syn, seq: 1), on: h.lan)
        #expect(verdict == .forward(h.wan))
        #expect(PacketSummary.line(for: out).hasPrefix("IP 203.0.113.1.40000 > 203.0.113.10.80: Flags [S], seq 1"))
        #expect(try Packet(parsing: out).encoded() == out, "IP and TCP checksums patched correctly")
        // The server answers the public address; the reply goes back to the client.
        let reply = Packet.tcp(server4, 80, IPv4Address(203, 0, 113, 1), 40000, flags: [.syn, .ack],
                               sequenceNumber: SeqNumber(9), acknowledgmentNumber: SeqNumber(2))
        let (back, backBytes) = h.send(reply, on: h.wan)
        #expect(back == .forward(h.lan))
        #expect(PacketSummary.line(for: backBytes).hasPrefix("IP 203.0.113.10.80 > 10.0.1.2.40000: Flags [S.]"))
        #expect(try Packet(parsing: backBytes).encoded() == backBytes)
        let line = h.engine.conntrack.listing(now: h.now).first ?? ""
        #expect(line.contains("src=10.0.1.2 dst=203.0.113.10 sport=40000 dport=80"))
        #expect(line.contains("src=203.0.113.10 dst=203.0.113.1 sport=80 dport=40000"), "the reply tuple shows the translation: \(line)")
        // ICMP echo and IPv6 too.
        let ping = Packet.icmp(client4, server4, .echoRequest(identifier: 77, sequence: 1))
        #expect(PacketSummary.line(for: h.send(ping, on: h.lan).bytes).hasPrefix("IP 203.0.113.1 > 203.0.113.10: ICMP echo request, id 77"))
        let pong = Packet.icmp(server4, IPv4Address(203, 0, 113, 1), .echoReply(identifier: 77, sequence: 1))
        let pongOut = h.send(pong, on: h.wan)
        #expect(pongOut.verdict == .forward(h.lan))
        #expect(PacketSummary.line(for: pongOut.bytes).hasPrefix("IP 203.0.113.10 > 10.0.1.2: ICMP echo reply, id 77"))
        #expect(try Packet(parsing: pongOut.bytes).encoded() == pongOut.bytes)
        let udp6 = h.send(Packet.udp(client6, 5000, server6, 53, payload: [1, 2, 3]), on: h.lan)
        #expect(PacketSummary.line(for: udp6.bytes) == "IP6 2001:db8:1::1.5000 > 2001:db8:1::10.53: UDP, length 3")
        #expect(try Packet(parsing: udp6.bytes).encoded() == udp6.bytes)
    }

    @Test func portCollisionsGetAnotherPort() throws {
        let h = try harness(Self.masquerade)
        // Two clients use the same source port to the same server.
        let a = h.send(Packet.udp(client4, 40000, server4, 53), on: h.lan).bytes
        let b = h.send(Packet.udp(IPv4Address(10, 0, 1, 3), 40000, server4, 53), on: h.lan).bytes
        let portA = UInt16(a[20]) << 8 | UInt16(a[21])
        let portB = UInt16(b[20]) << 8 | UInt16(b[21])
        #expect(portA == 40000, "the original port is kept when free")
        #expect(portB != 40000 && portB >= 1024, "the second gets another port in 1024-65535")
        // Each reply reaches its own client.
        let toB = h.send(Packet.udp(server4, 53, IPv4Address(203, 0, 113, 1), portB), on: h.wan).bytes
        #expect(PacketSummary.line(for: toB).hasPrefix("IP 203.0.113.10.53 > 10.0.1.3.40000"))
        let toA = h.send(Packet.udp(server4, 53, IPv4Address(203, 0, 113, 1), 40000), on: h.wan).bytes
        #expect(PacketSummary.line(for: toA).hasPrefix("IP 203.0.113.10.53 > 10.0.1.2.40000"))
    }

    /// Beyond Linux (nf_nat_l4proto_unique_tuple gives up and the packet is
    /// dropped): with every candidate taken, the mapping of the oldest
    /// connection that never got a reply goes to the new connection.
    @Test func exhaustionReclaimsTheOldestUnansweredMapping() throws {
        let h = try harness("""
            table ip nat {
                chain postrouting { type nat hook postrouting priority srcnat; meta l4proto udp snat to 203.0.113.1:2000-2001; }
            }
            """)
        let client = IPv4Address(10, 0, 1, 3)
        #expect(h.send(Packet.udp(client4, 1, server4, 53), on: h.lan).verdict == .forward(h.wan))
        h.now += 1_000_000
        let second = h.send(Packet.udp(client4, 2, server4, 53), on: h.lan).bytes
        let secondPort = UInt16(second[20]) << 8 | UInt16(second[21])
        // The second is answered; the first is not, and is the oldest: its mapping goes.
        h.send(Packet.udp(server4, 53, IPv4Address(203, 0, 113, 1), secondPort), on: h.wan)
        h.now += 1_000_000
        let third = h.send(Packet.udp(client, 3, server4, 53), on: h.lan)
        #expect(third.verdict == .forward(h.wan))
        let thirdPort = UInt16(third.bytes[20]) << 8 | UInt16(third.bytes[21])
        #expect(thirdPort != secondPort)
        #expect(h.engine.statistics.natReclaimed == 1)
        #expect(h.engine.statistics.dropCount(.natExhausted) == 0)
        #expect(h.engine.statistics.natReclaimed == 1)
        #expect(h.entry(ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: 1, destinationPort: 53,
                                  protocol: .udp)) == nil, "the unanswered connection is gone")
        // The mapping's replies reach the new client.
        let reply = h.send(Packet.udp(server4, 53, IPv4Address(203, 0, 113, 1), thirdPort), on: h.wan).bytes
        #expect(PacketSummary.line(for: reply).hasPrefix("IP 203.0.113.10.53 > 10.0.1.3.3"))
        #expect(h.engine.statisticsReport(now: h.now).contains("nat-reclaimed      1"))
    }

    /// nf_nat_l4proto_unique_tuple's bound: however full the range, a new
    /// mapping looks at no more than 128 + 64 + 32 + 16 + 8 candidates.
    @Test func portSearchIsBounded() {
        for size in [1, 2, 100, 128, 129, 511, 64_512, 65_535] {
            var search = PortSearch(size: size, seed: UInt64(size))
            var offsets: [Int] = []
            while let offset = search.next() { offsets.append(offset) }
            #expect(offsets.allSatisfy { (0..<size).contains($0) })
            if size <= 128 {
                #expect(offsets.count == size && Set(offsets).count == size, "a small range is tried whole: \(size)")
            } else {
                #expect(offsets.count == 128 + 64 + 32 + 16 + 8, "size \(size)")
            }
        }
    }

    /// A SYN flood at a listening server is answered (SYN_RECV) but never
    /// completes: such a handshake's mapping is reclaimed too, an
    /// established (ASSURED) connection's never.
    @Test func unfinishedHandshakesAreReclaimedAssuredNever() throws {
        let h = try harness("""
            table ip nat {
                chain postrouting { type nat hook postrouting priority srcnat; meta l4proto tcp snat to 203.0.113.1:3000; }
            }
            """)
        let public4 = IPv4Address(203, 0, 113, 1)
        h.send(Packet.tcp(client4, 1111, server4, 80, flags: .syn, sequenceNumber: SeqNumber(1)), on: h.lan)
        h.send(Packet.tcp(server4, 80, public4, 3000, flags: [.syn, .ack], sequenceNumber: SeqNumber(50),
                          acknowledgmentNumber: SeqNumber(2)), on: h.wan)
        let other = IPv4Address(10, 0, 1, 3)
        let second = h.send(Packet.tcp(other, 2222, server4, 80, flags: .syn, sequenceNumber: SeqNumber(7)), on: h.lan)
        #expect(second.verdict == .forward(h.wan))
        #expect(h.engine.statistics.natReclaimed == 1)
        // The new one completes its handshake: ASSURED, and its mapping is safe.
        h.send(Packet.tcp(server4, 80, public4, 3000, flags: [.syn, .ack], sequenceNumber: SeqNumber(90),
                          acknowledgmentNumber: SeqNumber(8)), on: h.wan)
        h.send(Packet.tcp(other, 2222, server4, 80, flags: .ack, sequenceNumber: SeqNumber(8),
                          acknowledgmentNumber: SeqNumber(91)), on: h.lan)
        #expect(h.send(Packet.tcp(client4, 1112, server4, 80, flags: .syn, sequenceNumber: SeqNumber(1)), on: h.lan).verdict
                == .drop(.natExhausted))
        #expect(h.engine.statistics.natReclaimed == 1)
    }

    @Test func exhaustionDropsAndCounts() throws {
        let h = try harness("""
            table ip nat {
                chain postrouting { type nat hook postrouting priority srcnat; meta l4proto udp snat to 203.0.113.1:2000-2001; }
            }
            """)
        for port: UInt16 in [1, 2] {
            #expect(h.send(Packet.udp(client4, port, server4, 53), on: h.lan).verdict == .forward(h.wan))
        }
        // Both are two-way streams (ASSURED): neither mapping may be taken back.
        for port: UInt16 in [2000, 2001] {
            #expect(h.send(Packet.udp(server4, 53, IPv4Address(203, 0, 113, 1), port), on: h.wan).verdict == .forward(h.lan))
        }
        h.advance(seconds: 3)
        for port: UInt16 in [1, 2] { h.send(Packet.udp(client4, port, server4, 53), on: h.lan) }
        #expect(h.send(Packet.udp(client4, 3, server4, 53), on: h.lan).verdict == .drop(.natExhausted))
        #expect(h.engine.statistics.dropCount(.natExhausted) == 1)
        #expect(h.engine.conntrack.table.count == 2, "nothing else broke")
        // An existing mapping keeps working.
        #expect(h.send(Packet.udp(client4, 1, server4, 53), on: h.lan).verdict == .forward(h.wan))
    }

    @Test func portForwardingWithDNAT() throws {
        let h = try harness("""
            table ip nat {
                chain prerouting { type nat hook prerouting priority dstnat; iifname "wan0" tcp dport 8080 dnat to 10.0.1.2:80; }
            }
            """)
        let outside = IPv4Address(203, 0, 113, 77)
        let syn = Packet.tcp(outside, 5555, IPv4Address(203, 0, 113, 1), 8080, flags: .syn, sequenceNumber: SeqNumber(1))
        let (verdict, out) = h.send(syn, on: h.wan)
        #expect(verdict == .forward(h.lan))
        #expect(PacketSummary.line(for: out).hasPrefix("IP 203.0.113.77.5555 > 10.0.1.2.80: Flags [S]"))
        #expect(try Packet(parsing: out).encoded() == out)
        let answer = Packet.tcp(client4, 80, outside, 5555, flags: [.syn, .ack], sequenceNumber: SeqNumber(7),
                                acknowledgmentNumber: SeqNumber(2))
        let back = h.send(answer, on: h.lan)
        #expect(back.verdict == .forward(h.wan))
        #expect(PacketSummary.line(for: back.bytes).hasPrefix("IP 203.0.113.1.8080 > 203.0.113.77.5555: Flags [S.]"))
        #expect(h.engine.conntrack.listing(now: h.now).first?.contains("src=10.0.1.2 dst=203.0.113.77 sport=80 dport=5555") == true)
    }

    @Test func offloadedPartialChecksumsFollowTheAddress() throws {
        let h = try harness(Self.masquerade)
        var bytes = Packet.tcp(client4, 40000, server4, 80, flags: [.ack, .psh], payload: [UInt8](repeating: 5, count: 100)).encoded()
        // Turn the TCP checksum into the partial one an offloading sender writes.
        let partial = Checksum.pseudoHeaderSum(source: client4, destination: server4, protocol: .tcp, length: bytes.count - 20)
        bytes[36] = UInt8(partial >> 8)
        bytes[37] = UInt8(partial & 0xff)
        let virtio = VirtioNetHeader(flags: .needsChecksum, gsoType: .none, checksumStart: 20, checksumOffset: 16)
        h.send(Packet.tcp(client4, 40000, server4, 80, flags: .syn), on: h.lan)
        var out = h.send(bytes, on: h.lan, virtio: virtio).bytes
        out.withPacketBytes { _ = Checksum.completePartial($0, start: 20, offset: 16) }
        #expect(try Packet(parsing: out).encoded() == out, "finished as a NIC would, the checksum is right")
    }

    /// A time-exceeded from a router beyond the NAT, about a masqueraded
    /// probe, reaches the client with the quote as the client sent it.
    @Test func icmpErrorsAreTranslatedInside() throws {
        let h = try harness(Self.masquerade)
        let probe = Packet.udp(client4, 40000, server4, 33434, payload: [1, 2, 3, 4], ttl: 5)
        let sent = h.send(probe, on: h.lan).bytes
        #expect(PacketSummary.line(for: sent).hasPrefix("IP 203.0.113.1.40000 > 203.0.113.10.33434"))
        let quoted = sent  // as the router received it (a real one would see TTL 1 here)
        let router = IPv4Address(203, 0, 113, 77)
        let error = Packet.icmp(router, IPv4Address(203, 0, 113, 1), .timeExceeded(), payload: Array(quoted.prefix(28)))
        let (verdict, out) = h.send(error, on: h.wan)
        #expect(verdict == .forward(h.lan))
        #expect(PacketSummary.line(for: out) == "IP 203.0.113.77 > 10.0.1.2: ICMP time exceeded in-transit, length 36")
        #expect(try Packet(parsing: out).encoded() == out, "outer IP and ICMP checksums right")
        var bytes = out
        try bytes.withPacketBytes { (raw) throws(WireError) in
            let icmp = try ICMPv4Message(validating: try IPv4Packet(validating: raw).payload)
            let inner = try icmp.quotedPacket()
            #expect(inner.source == client4 && inner.destination == server4)
            #expect(inner.isHeaderChecksumValid)
            #expect(UInt16(inner.payload[0]) << 8 | UInt16(inner.payload[1]) == 40000)
        }
        // The server's own port unreachable gets the same treatment.
        let unreachable = Packet.icmp(server4, IPv4Address(203, 0, 113, 1), .destinationUnreachable(code: 3),
                                      payload: Array(sent.prefix(28)))
        let back = h.send(unreachable, on: h.wan)
        #expect(PacketSummary.line(for: back.bytes) == "IP 203.0.113.10 > 10.0.1.2: ICMP 203.0.113.10 udp port 33434 unreachable, length 36")
        // IPv6: packet too big about a masqueraded TCP segment.
        let syn6 = h.send(Packet.tcp(client6, 40000, server6, 80, flags: .syn), on: h.lan).bytes
        let ptb = Packet.icmp(IPv6Address("2001:db8:1::77")!, IPv6Address("2001:db8:1::1")!, .packetTooBig(mtu: 1280), payload: syn6)
        let ptbOut = h.send(ptb, on: h.wan)
        #expect(ptbOut.verdict == .forward(h.lan))
        #expect(PacketSummary.line(for: ptbOut.bytes).hasPrefix("IP6 2001:db8:1::77 > fd00:1::2: ICMP6, packet too big, mtu 1280"))
        #expect(try Packet(parsing: ptbOut.bytes).encoded() == ptbOut.bytes)
    }

    /// A GSO super-packet is translated whole: addresses rewritten once, the
    /// partial checksum moved by exactly the address change, the virtio
    /// header untouched, so every segment the kernel cuts from it is right.
    @Test func superPacketsAreTranslatedWhole() throws {
        let h = try harness(Self.masquerade)
        h.send(Packet.tcp(client4, 40000, server4, 80, flags: .syn, sequenceNumber: SeqNumber(1)), on: h.lan)
        h.send(Packet.tcp(server4, 80, IPv4Address(203, 0, 113, 1), 40000, flags: [.syn, .ack], sequenceNumber: SeqNumber(9),
                          acknowledgmentNumber: SeqNumber(2)), on: h.wan)
        var bytes = Packet.tcp(client4, 40000, server4, 80, flags: .ack, sequenceNumber: SeqNumber(2),
                               acknowledgmentNumber: SeqNumber(10), options: [.noOperation, .noOperation,
                               .timestamps(value: 1, echoReply: 2)], payload: [UInt8](repeating: 9, count: 30_000)).encoded()
        let partial = Checksum.pseudoHeaderSum(source: client4, destination: server4, protocol: .tcp, length: 0)
        bytes[36] = UInt8(partial >> 8)
        bytes[37] = UInt8(partial & 0xff)
        let gso = VirtioNetHeader(flags: .needsChecksum, gsoType: .tcpv4, headerLength: 52, gsoSize: 1448,
                                  checksumStart: 20, checksumOffset: 16)
        let (verdict, out) = h.send(bytes, on: h.lan, virtio: gso)
        #expect(verdict == .forward(h.wan))
        #expect(h.buffer.virtio == gso)
        #expect(out.count == bytes.count)
        #expect(Array(out[12..<16]) == [203, 0, 113, 1])
        let expected = Checksum.updatePartial(partial, old: client4, new: IPv4Address(203, 0, 113, 1))
        #expect(UInt16(out[36]) << 8 | UInt16(out[37]) == expected)
        #expect(Array(out[52...]) == Array(bytes[52...]), "the payload is not touched")
    }

    @Test func fullyRandomNeverKeepsThePort() throws {
        let h = try harness("""
            table ip nat {
                chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade fully-random; }
            }
            """)
        var ports: Set<UInt16> = []
        for client in UInt16(1)...20 {
            let out = h.send(Packet.udp(client4, 40000 + client, server4, 53), on: h.lan).bytes
            let port = UInt16(out[20]) << 8 | UInt16(out[21])
            #expect(port != 40000 + client && port >= 1024)
            ports.insert(port)
        }
        #expect(ports.count == 20, "every mapping is its own")
    }

    @Test func redirectSendsToTheFirewallItself() throws {
        let h = try harness("""
            table ip nat {
                chain prerouting { type nat hook prerouting priority dstnat; iifname "lan0" udp dport 53 redirect to :5353; }
            }
            """)
        // Redirected to 10.0.1.1:5353, where the firewall serves nothing: port
        // unreachable, translated back as Linux's nf_nat_icmp_reply_translation
        // does: from the address the client sent to, quoting its packet as sent.
        // (Checked against Linux 6.x: a router namespace with `udp dport 53
        // redirect to :5353` sends "203.0.113.10 > 10.0.1.2: ICMP 203.0.113.10
        // udp port 53 unreachable".)
        #expect(h.send(Packet.udp(client4, 40000, server4, 53), on: h.lan).verdict == .drop(.localNoService))
        let out = h.generated()
        #expect(out.count == 1)
        #expect(PacketSummary.line(for: out[0].bytes).hasPrefix("IP 203.0.113.10 > 10.0.1.2: ICMP 203.0.113.10 udp port 53 unreachable"),
                "\(PacketSummary.line(for: out[0].bytes))")
    }
}

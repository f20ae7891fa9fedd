// A table under pressure (issue 12, item 4): closing TCP connections may go
// before their time even when ASSURED, as Linux's tcp_can_early_drop allows,
// and above 95 % of the capacity the sweep removes what may go early, as
// Linux's gc_worker does above nf_conntrack_max95 (gc_worker_can_early_drop).

@testable import Conntrack
@testable import Engine
import Rules
import Testing
import Wire

@Suite struct TablePressureTests {
    /// An ASSURED TCP connection from the client's `port` to the server's port 80.
    static func assuredTCP(_ h: Harness, _ port: UInt16) {
        h.send(Packet.tcp(client4, port, server4, 80, flags: .syn, sequenceNumber: SeqNumber(1)), on: h.lan)
        h.send(Packet.tcp(server4, 80, client4, port, flags: [.syn, .ack], sequenceNumber: SeqNumber(9),
                          acknowledgmentNumber: SeqNumber(2)), on: h.wan)
        h.send(Packet.tcp(client4, port, server4, 80, flags: .ack, sequenceNumber: SeqNumber(2),
                          acknowledgmentNumber: SeqNumber(10)), on: h.lan)
    }

    static func tuple(_ port: UInt16) -> ConnTuple {
        ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: port, destinationPort: 80, protocol: .tcp)
    }

    @Test func closingAssuredConnectionsMayGoEarly() throws {
        let h = try Harness(conntrackCapacity: 3)
        for port: UInt16 in [1001, 1002, 1003] { Self.assuredTCP(h, port) }
        // 1002 closes: FIN from the client, FIN+ACK from the server: LAST_ACK.
        h.send(Packet.tcp(client4, 1002, server4, 80, flags: [.fin, .ack], sequenceNumber: SeqNumber(2),
                          acknowledgmentNumber: SeqNumber(10)), on: h.lan)
        h.send(Packet.tcp(server4, 80, client4, 1002, flags: [.fin, .ack], sequenceNumber: SeqNumber(10),
                          acknowledgmentNumber: SeqNumber(3)), on: h.wan)
        let closing = try #require(h.entry(Self.tuple(1002)))
        #expect(closing.isAssured && [.finWait, .closeWait, .lastAck, .timeWait].contains(closing.tcpState))
        // A new connection finds the table full: the closing one goes, the others stay.
        #expect(h.send(Packet.udp(client4, 5000, server4, 53), on: h.lan).verdict == .forward(h.wan))
        #expect(h.entry(Self.tuple(1002)) == nil)
        #expect(h.entry(Self.tuple(1001))?.tcpState == .established)
        #expect(h.entry(Self.tuple(1003))?.tcpState == .established)
        #expect(h.engine.conntrack.table.evicted == 1)
    }

    @Test func sweepAbove95PercentRemovesWhatMayGoEarly() throws {
        let h = try Harness(conntrackCapacity: 20)
        for port in 0..<18 { Self.assuredTCP(h, UInt16(2000 + port)) }
        h.send(Packet.udp(client4, 5000, server4, 53), on: h.lan)
        #expect(h.engine.conntrack.table.count == 19, "95 %: not yet under pressure")
        h.engine.tick(now: h.now)
        #expect(h.engine.conntrack.table.count == 19, "at 95 % nothing goes before its time")
        h.send(Packet.udp(client4, 5001, server4, 53), on: h.lan)
        #expect(h.engine.conntrack.table.count == 20)
        h.engine.tick(now: h.now)
        #expect(h.engine.conntrack.table.count == 19, "above 95 %: one unanswered connection went")
        for port in 0..<18 { #expect(h.entry(Self.tuple(UInt16(2000 + port)))?.isAssured == true) }
        #expect(h.engine.conntrack.table.evicted == 1)
    }

    /// tcp_packet: a connection whose only reply is a RST is deleted at once
    /// (a SYN flood at a closed port leaves nothing behind), and the RST
    /// itself still goes back through the connection's NAT.
    @Test func connectionWhoseOnlyReplyIsAResetIsDeleted() throws {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse("""
            table inet nat {
                chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
            }
            """, file: "masquerade.nft"))
        h.send(Packet.tcp(client4, 40000, server4, 81, flags: .syn, sequenceNumber: SeqNumber(1)), on: h.lan)
        #expect(h.engine.conntrack.table.count == 1)
        let reset = h.send(Packet.tcp(server4, 81, IPv4Address(203, 0, 113, 1), 40000, flags: [.rst, .ack],
                                      sequenceNumber: SeqNumber(0), acknowledgmentNumber: SeqNumber(2)), on: h.wan)
        #expect(reset.verdict == .forward(h.lan))
        #expect(PacketSummary.line(for: reset.bytes).hasPrefix("IP 203.0.113.10.81 > 10.0.1.2.40000: Flags [R.]"))
        #expect(h.entry(ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: 40000, destinationPort: 81,
                                  protocol: .tcp)) == nil, "gone with its reset")
    }
}

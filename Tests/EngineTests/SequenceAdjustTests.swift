// Sequence adjustment through the engine, with crafted segments: after a
// (simulated) helper rewrite grew the client's segment at seq 101 by 2 bytes
// and a later one at 201 by 3, the client's later segments go out shifted,
// retransmissions before, at and after each point come out right, and the
// server's acks and SACK blocks are shifted back; checksums stay valid.

@testable import Conntrack
@testable import Engine
import Testing
import Wire

@Suite struct SequenceAdjustTests {
    func established() throws -> (Harness, Int) {
        let h = try Harness()
        h.send(h.tcp(.syn, seq: 100), on: h.lan)
        h.send(h.tcp([.syn, .ack], from: false, seq: 900, ack: 101), on: h.wan)
        h.send(h.tcp(.ack, seq: 101, ack: 901), on: h.lan)
        let found = h.engine.conntrack.table.lookup(Harness.tcpTuple, now: h.now)
        let (position, _) = try #require(found)
        h.engine.conntrack.table.recordAdjustment(position, .original, at: SeqNumber(101), delta: 2)
        h.engine.conntrack.table.recordAdjustment(position, .original, at: SeqNumber(201), delta: 3)
        return (h, position)
    }

    func seqAck(_ bytes: [UInt8]) throws -> (SeqNumber, SeqNumber) {
        var copy = bytes
        return try copy.withPacketBytes { (raw) throws(WireError) in
            let tcp = try TCPSegment(validating: try IPv4Packet(validating: raw).payload)
            return (tcp.sequenceNumber, tcp.acknowledgmentNumber)
        }
    }

    @Test func segmentsAcksAndSACKs() throws {
        let (h, _) = try established()
        let data = [UInt8](repeating: 0x41, count: 20)
        // The rewritten segments themselves, and retransmissions of them.
        for (seq, expected) in [(UInt32(101), UInt32(101)), (201, 203), (101, 101), (150, 152), (201, 203), (250, 255)] {
            let out = h.send(h.tcp([.ack, .psh], seq: seq, ack: 901, payload: data), on: h.lan).bytes
            #expect(try seqAck(out).0 == SeqNumber(expected), "seq \(seq)")
            #expect(try Packet(parsing: out).encoded() == out, "checksum after the shift")
        }
        // The server acknowledges in the shifted space; the client sees its own numbers.
        let ack = h.send(h.tcp(.ack, from: false, seq: 901, ack: 260), on: h.wan).bytes
        #expect(try seqAck(ack).1 == SeqNumber(255))
        #expect(try Packet(parsing: ack).encoded() == ack)
        // SACK edges too: the second rewritten segment, [203, 226) as sent, is [201, 221) as written.
        let sack = Packet.tcp(server4, 80, client4, 40000, flags: .ack, sequenceNumber: SeqNumber(901),
                              acknowledgmentNumber: SeqNumber(152),
                              options: [.noOperation, .noOperation,
                                        .sack([TCPSACKBlock(left: SeqNumber(203), right: SeqNumber(226)),
                                               TCPSACKBlock(left: SeqNumber(255), right: SeqNumber(275))])])
        let out = h.send(sack, on: h.wan).bytes
        let parsed = try Packet(parsing: out)
        #expect(parsed.encoded() == out)
        guard case .tcp(let header) = parsed.transport else { Issue.record("not TCP"); return }
        #expect(header.acknowledgmentNumber == SeqNumber(150))
        #expect(header.options.contains(.sack([TCPSACKBlock(left: SeqNumber(201), right: SeqNumber(221)),
                                               TCPSACKBlock(left: SeqNumber(250), right: SeqNumber(270))])))
    }

    @Test func theHistoryGoesWithTheConnection() throws {
        let (h, position) = try established()
        let status = h.engine.conntrack.table.status(position)
        #expect(status.contains(.sequenceAdjusted))
        h.send(h.tcp(.rst, seq: 300), on: h.lan)
        h.advance(seconds: 11)
        h.engine.tick(now: h.now)
        #expect(h.engine.conntrack.table.adjustments.isEmpty, "removed with its entry")
    }
}

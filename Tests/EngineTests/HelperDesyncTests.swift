// The FTP helper cannot be desynchronised (issue 12, item 2): segments
// without payload never move its stream, and the held-line design survives
// the loss of any single packet, including the one that carries a held line
// after the firewall acknowledged its first bytes for the receiver.
//
// Linux's nf_conntrack_ftp `help()` returns at once for a segment without
// payload ("dataoff >= skb->len"), and `tcp_packet` does not let a SYN or
// SYN-ACK change an established connection; a TCP sender that got an ACK for
// bytes never sends them again (RFC 9293 §3.10.7.4), so bytes the firewall
// acknowledges on the receiver's behalf are the firewall's to deliver.

@testable import Conntrack
@testable import Engine
import FTP
import Rules
import Testing
import Wire

@Suite struct HelperDesyncTests {
    /// An ACK from the server (no payload) acknowledging `ack` in the server's view.
    static func serverAck(_ s: FTPScenario, _ ack: UInt32) -> Packet {
        let reply = s.replyTuple!
        return Packet.tcp(reply.sourceAddress, reply.sourcePort, reply.destinationAddress, reply.destinationPort,
                          flags: .ack, sequenceNumber: SeqNumber(s.serverSeq), acknowledgmentNumber: SeqNumber(ack))
    }

    @Test func forgedSynAcksDoNotMoveTheStream() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        s.serverSends("220 Welcome\r\n")
        s.clientSends("PASV\r\n")
        var random = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            s.h.send(s.serverPacket([.syn, .ack], seq: UInt32.random(in: 0...UInt32.max, using: &random)), on: s.h.wan)
            s.h.send(s.clientPacket([.syn], seq: UInt32.random(in: 0...UInt32.max, using: &random)), on: s.h.lan)
        }
        _ = s.h.generated()
        // The real reply, at the real sequence number, is read and rewritten.
        let reply = s.serverSends("227 Entering Passive Mode (203,0,113,10,195,80).\r\n")
        #expect(reply.verdict == .forward(s.h.lan))
        #expect(s.expectations.count == 1, "the helper read the 227: \(s.expectations)")
        // So is the client's next command.
        let port = s.clientSends("PORT 10,0,1,2,195,81\r\n")
        #expect(FTPScenario.text(port.bytes) == "PORT 203,0,113,1,195,81\r\n")
        #expect(s.h.engine.statistics.ftpCount(.outOfOrder) == 0)
    }

    @Test func invalidSegmentsNeverReachTheHelper() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        // A segment with SYN and FIN set is invalid to conntrack (tcp_error's
        // flag check): it must not be read as the start of a PORT line.
        let forged = s.h.send(s.clientPacket([.syn, .fin, .ack], "PORT 10,0,1,2,195,80\r\n"), on: s.h.lan)
        #expect(forged.verdict != .consumed)
        #expect(s.expectations.isEmpty)
        let port = s.clientSends("PORT 10,0,1,2,195,80\r\n")
        #expect(FTPScenario.text(port.bytes) == "PORT 203,0,113,1,195,80\r\n")
        #expect(s.expectations.count == 1)
    }

    /// The firewall ACKs "PO" for the server (Nagle waits on it); the merged,
    /// rewritten line it then sends is lost. The server's ACKs, still at the
    /// line's start, bring it again once the minimum RTO has passed.
    @Test func lostMergedLineIsSentAgain() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let start = s.clientSeq
        s.clientSends("PO")
        s.h.send(s.clientPacket([.ack, .psh], "PO", seq: start), on: s.h.lan)
        #expect(s.h.generated().count == 1, "the ACK for the held bytes")
        let merged = s.clientSends("RT 10,0,1,2,195,80\r\n")
        #expect(FTPScenario.text(merged.bytes) == "PORT 203,0,113,1,195,80\r\n")
        // ... and it is lost. The server's duplicate ACK at once: nothing yet.
        s.h.send(Self.serverAck(s, start), on: s.h.wan)
        #expect(s.h.generated().isEmpty, "an ACK sent before the line could arrive proves nothing")
        s.h.now += 250_000_000
        s.h.send(Self.serverAck(s, start), on: s.h.wan)
        let again = s.h.generated()
        #expect(again.count == 1)
        #expect(again.first?.interface == s.h.wan)
        #expect(again.first?.bytes == merged.bytes, "the same segment as the first time")
        #expect(s.h.engine.statistics.resentForReceiver == 1)
        // The server has it now: 25 bytes of rewritten line in its numbering.
        s.h.now += 250_000_000
        s.h.send(Self.serverAck(s, start + 25), on: s.h.wan)
        s.h.now += 250_000_000
        s.h.send(Self.serverAck(s, start + 25), on: s.h.wan)
        #expect(s.h.generated().isEmpty, "nothing is owed any more")
    }

    /// The held bytes were acknowledged for the server, then released
    /// unchanged when the line never completed; that release is lost. The
    /// server's ACKs short of them bring them again.
    @Test func lostReleasedBytesAreSentAgain() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let start = s.clientSeq
        s.clientSends("PORT 10,0,1")
        s.h.send(s.clientPacket([.ack, .psh], "PORT 10,0,1", seq: start), on: s.h.lan)
        #expect(s.h.generated().count == 1, "the ACK for the held bytes")
        s.h.now += 1_100_000_000
        s.h.engine.tick(now: s.h.now)
        let released = s.h.generated()
        #expect(released.count == 1 && FTPScenario.text(released.first?.bytes ?? []) == "PORT 10,0,1")
        // Lost. The client goes on (it had its ACK); the server sees a gap and ACKs the start again.
        let rest = s.clientSends(",2,195,80\r\n")
        #expect(FTPScenario.text(rest.bytes) == ",2,195,80\r\n")
        s.h.now += 300_000_000
        s.h.send(Self.serverAck(s, start), on: s.h.wan)
        let again = s.h.generated()
        #expect(again.count == 1)
        #expect(again.first.map { FTPScenario.text($0.bytes) } == "PORT 10,0,1")
        #expect(again.first.flatMap { FTPScenario.seq($0.bytes) } == start)
        #expect(again.first.map { FTPScenario.isWellFormed($0.bytes) } == true)
        // Once the server has everything, nothing more is sent.
        s.h.now += 300_000_000
        s.h.send(Self.serverAck(s, s.clientSeq), on: s.h.wan)
        #expect(s.h.generated().isEmpty)
    }
}

// The control connection read as a stream: commands split across segments
// are held and sent whole (rewritten), several commands in one segment,
// retransmissions rewritten identically every time, segments ahead of the
// stream dropped and read once they come in order, held bytes released when
// their time is up, and an ACK for a sender that waits (Nagle).

@testable import Conntrack
@testable import Engine
import FTP
import Rules
import Testing
import Wire

@Suite struct FTPStreamTests {
    @Test func splitPortLineIsHeldAndSentWholeRewritten() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let start = s.clientSeq
        // Three segments: "PO", "RT 10,0,1,2,19", "5,80\r\n".
        #expect(s.clientSends("PO").verdict == .consumed)
        #expect(s.clientSends("RT 10,0,1,2,19").verdict == .consumed)
        #expect(s.expectations.isEmpty, "nothing is expected before the line is complete")
        let out = s.clientSends("5,80\r\n")
        #expect(out.verdict == .forward(s.h.wan))
        #expect(FTPScenario.text(out.bytes) == "PORT 203,0,113,1,195,80\r\n")
        #expect(FTPScenario.seq(out.bytes) == start, "one segment from the line's start")
        #expect(FTPScenario.isWellFormed(out.bytes))
        #expect(s.expectations.count == 1)
        #expect(s.h.engine.statistics.held == 2)
        // The next line goes out shifted by 3.
        let next = s.clientSends("LIST\r\n")
        #expect(FTPScenario.seq(next.bytes) == s.clientSeq - 6 + 3)
    }

    @Test func severalCommandsInOneSegment() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let out = s.clientSends("TYPE I\r\nPORT 10,0,1,2,195,80\r\nRETR file\r\n")
        #expect(FTPScenario.text(out.bytes) == "TYPE I\r\nPORT 203,0,113,1,195,80\r\nRETR file\r\n")
        #expect(FTPScenario.isWellFormed(out.bytes))
        #expect(s.expectations.count == 1)
        // Replies pair with commands in order: TYPE's 200, then PORT's refusal closes the pinhole.
        s.serverSends("200 Switching to Binary mode.\r\n")
        #expect(s.expectations.count == 1)
        s.serverSends("500 Illegal PORT command.\r\n")
        #expect(s.expectations.isEmpty, "the server refused PORT: nothing expected any more")
    }

    @Test func retransmissionIsRewrittenIdenticallyEveryTime() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let seq = s.clientSeq
        let first = s.clientSends("PORT 10,0,1,2,195,80\r\n").bytes
        for _ in 0..<3 {
            let again = s.h.send(s.clientPacket([.ack, .psh], "PORT 10,0,1,2,195,80\r\n", seq: seq), on: s.h.lan).bytes
            #expect(again == first, "the retransmission leaves exactly as the first did")
        }
        #expect(s.expectations.count == 1)
        // A retransmission that also carries new bytes: the old line as before, the new one read.
        let mixed = s.h.send(s.clientPacket([.ack, .psh], "PORT 10,0,1,2,195,80\r\nNOOP\r\n", seq: seq), on: s.h.lan)
        s.clientSeq += 6
        #expect(FTPScenario.text(mixed.bytes) == "PORT 203,0,113,1,195,80\r\nNOOP\r\n")
        #expect(FTPScenario.seq(mixed.bytes) == seq)
        // A piece of the rewritten line alone: the whole rewritten line goes out.
        let piece = s.h.send(s.clientPacket([.ack, .psh], "195,80\r\n", seq: seq + 14), on: s.h.lan)
        #expect(FTPScenario.text(piece.bytes) == "PORT 203,0,113,1,195,80\r\n")
        #expect(FTPScenario.isWellFormed(piece.bytes))
    }

    @Test func retransmittedSplitLineIsTheMergedSegmentAgain() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let seq = s.clientSeq
        s.clientSends("PORT 10,0,")
        let merged = s.clientSends("1,2,195,80\r\n").bytes
        // The sender never got an ACK for either part and resends the second.
        let again = s.h.send(s.clientPacket([.ack, .psh], "1,2,195,80\r\n", seq: seq + 10), on: s.h.lan).bytes
        #expect(again == merged)
    }

    @Test func outOfOrderSegmentsAreReadOnlyInOrder() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let seq = s.clientSeq
        // "NOOP\r\n" is lost; the PORT after it arrives first: dropped, not read.
        let early = s.h.send(s.clientPacket([.ack, .psh], "PORT 10,0,1,2,195,80\r\n", seq: seq + 6), on: s.h.lan)
        #expect(early.verdict == .drop(.helperOutOfOrder))
        #expect(s.expectations.isEmpty)
        #expect(s.clientSends("NOOP\r\n").verdict == .forward(s.h.wan))
        let resent = s.clientSends("PORT 10,0,1,2,195,80\r\n")
        #expect(FTPScenario.text(resent.bytes) == "PORT 203,0,113,1,195,80\r\n")
        #expect(s.expectations.count == 1)
    }

    @Test func bareLineFeedsAndAnyCase() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let out = s.clientSends("noop\nPort 10,0,1,2,195,81\n")
        #expect(FTPScenario.text(out.bytes) == "noop\nPort 203,0,113,1,195,81\n")
        #expect(s.expectations.first?.contains("dport=50001") == true)
    }

    @Test func heldLineIsReleasedUnchangedWhenItNeverCompletes() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let seq = s.clientSeq
        #expect(s.clientSends("PORT 10,0,1").verdict == .consumed)
        #expect(s.h.engine.helperHoldsBytes)
        s.h.now += 500_000_000
        s.h.engine.tick(now: s.h.now)
        #expect(s.h.generated().isEmpty, "still within the hold time")
        s.h.now += 600_000_000
        s.h.engine.tick(now: s.h.now)
        let released = s.h.generated()
        #expect(released.count == 1)
        #expect(released.first?.interface == s.h.wan)
        let bytes = released.first?.bytes ?? []
        #expect(FTPScenario.text(bytes) == "PORT 10,0,1")
        #expect(FTPScenario.seq(bytes) == seq)
        #expect(FTPScenario.isWellFormed(bytes))
        #expect(PacketSummary.line(for: bytes).hasPrefix("IP 203.0.113.1.40000 > 203.0.113.10.21"))
        #expect(s.h.engine.statistics.ftpCount(.releasedUnfinished) == 1)
        #expect(!s.h.engine.helperHoldsBytes)
        // The rest of the line passes as it is, and opens nothing: it could not be rewritten whole.
        let rest = s.clientSends(",2,195,80\r\n")
        #expect(FTPScenario.text(rest.bytes) == ",2,195,80\r\n")
        #expect(s.expectations.isEmpty)
        #expect(s.h.engine.statistics.ftpCount(.refusedUnrewritable) == 1)
    }

    @Test func senderWaitingForAnAckGetsOne() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let seq = s.clientSeq
        s.clientSends("PO")
        // Nagle: the sender resends "PO" and waits for its ACK before sending the rest.
        let again = s.h.send(s.clientPacket([.ack, .psh], "PO", seq: seq), on: s.h.lan)
        #expect(again.verdict == .consumed)
        let acks = s.h.generated()
        #expect(acks.count == 1)
        #expect(acks.first?.interface == s.h.lan)
        let ack = acks.first?.bytes ?? []
        #expect(PacketSummary.line(for: ack).hasPrefix("IP 203.0.113.10.21 > 10.0.1.2.40000: Flags [.], ack \(seq + 2)"),
                "\(PacketSummary.line(for: ack))")
        #expect(FTPScenario.isWellFormed(ack))
        let out = s.clientSends("RT 10,0,1,2,195,80\r\n")
        #expect(FTPScenario.text(out.bytes) == "PORT 203,0,113,1,195,80\r\n")
    }

    @Test func partialReplyIsHeldOnlyAfterPASVAndNeverHangs() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        // A reply starting like 227 that is not an answer to PASV passes at once.
        let greeting = s.serverSends("227 Logout.")
        #expect(greeting.verdict == .forward(s.h.lan))
        #expect(s.serverSends("\r\n").verdict == .forward(s.h.lan))
        #expect(s.expectations.isEmpty)
        // After PASV, "227 Logout." (no numbers) passes once complete and opens nothing.
        s.clientSends("PASV\r\n")
        let logout = s.serverSends("227 Logout.\r\n")
        #expect(logout.verdict == .forward(s.h.lan))
        #expect(FTPScenario.text(logout.bytes) == "227 Logout.\r\n")
        #expect(s.expectations.isEmpty)
        #expect(s.h.engine.statistics.ftpCount(.refusedMalformed) == 1)
    }

    @Test func offloadedSegmentKeepsAPartialChecksum() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let packet = s.clientPacket([.ack, .psh], "PORT 10,0,1,2,195,80\r\n")
        var bytes = packet.encoded()
        // As a sender with checksum offload hands it over: the TCP checksum field holds the
        // pseudo-header sum only (NEEDS_CSUM, csum_start at TCP, csum_offset 16).
        let tcpLength = bytes.count - 20
        let pseudo = Checksum.pseudoHeaderSum(source: client4, destination: server4, protocol: .tcp, length: tcpLength)
        bytes[36] = UInt8(pseudo >> 8)
        bytes[37] = UInt8(pseudo & 0xff)
        var virtio = VirtioNetHeader()
        virtio.flags = .needsChecksum
        virtio.checksumStart = 20
        virtio.checksumOffset = 16
        let out = s.h.send(bytes, on: s.h.lan, virtio: virtio).bytes
        s.clientSeq += 22
        #expect(FTPScenario.text(out) == "PORT 203,0,113,1,195,80\r\n")
        // Finish the checksum as the device would: the result must verify.
        var finished = out
        let newPseudo = Checksum.pseudoHeaderSum(source: IPv4Address(203, 0, 113, 1), destination: server4,
                                                 protocol: .tcp, length: out.count - 20)
        #expect(UInt16(out[36]) << 8 | UInt16(out[37]) == newPseudo, "the partial sum is for the new length")
        finished[36] = 0
        finished[37] = 0
        let sum = finished.withUnsafeBytes { Checksum.compute(UnsafeRawBufferPointer(rebasing: $0[20...]), initial: newPseudo) }
        finished[36] = UInt8(sum >> 8)
        finished[37] = UInt8(sum & 0xff)
        #expect(FTPScenario.isWellFormed(finished))
    }

    @Test func aSegmentThatGrowsPastTheMTULeavesAsTwo() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let port = "PORT 10,0,1,2,195,80\r\n"
        let filler = String(repeating: "NOOP\r\n", count: (1460 - port.utf8.count) / 6)
        let head = filler + String(repeating: "x", count: 1460 - port.utf8.count - filler.utf8.count - 2) + "\r\n"
        let text = head + port
        #expect(text.utf8.count == 1460)
        let seq = s.clientSeq
        let out = s.clientSends(text)
        #expect(out.verdict == .forward(s.h.wan))
        #expect(out.bytes.count == 1500, "the first piece fills the MTU")
        let rest = s.h.generated()
        #expect(rest.count == 1 && rest.first?.interface == s.h.wan)
        let second = rest.first?.bytes ?? []
        #expect(FTPScenario.isWellFormed(out.bytes) && FTPScenario.isWellFormed(second))
        #expect(FTPScenario.seq(out.bytes) == seq && FTPScenario.seq(second) == seq + 1460)
        let expected = head + "PORT 203,0,113,1,195,80\r\n"
        #expect(FTPScenario.text(out.bytes) + FTPScenario.text(second) == expected)
    }
}

// Connection tracking through the engine with a manual clock: the TCP state
// sequence of a whole connection, RST, UDP's unreplied-then-assured life,
// every timeout, ICMP errors RELATED to the connection they quote, and a full
// table that evicts only what never became ASSURED.

@testable import Conntrack
@testable import Engine
import Testing
import Wire
import TestSeeds

@Suite struct TCPStateTests {
    @Test func handshakeDataAndTeardown() throws {
        let h = try Harness()
        func state() -> TCPState? { h.entry(Harness.tcpTuple)?.tcpState }

        #expect(h.send(h.tcp(.syn, seq: 100), on: h.lan).verdict == .forward(h.wan))
        #expect(state() == .synSent)
        #expect(h.entry(Harness.tcpTuple)?.hasSeenReply == false)
        #expect(h.send(h.tcp([.syn, .ack], from: false, seq: 500, ack: 101), on: h.wan).verdict == .forward(h.lan))
        #expect(state() == .synReceived)
        #expect(h.entry(Harness.tcpTuple)?.isAssured == false)
        h.send(h.tcp(.ack, seq: 101, ack: 501), on: h.lan)
        #expect(state() == .established)
        #expect(h.entry(Harness.tcpTuple)?.isAssured == true, "ASSURED once the handshake completes")
        h.send(h.tcp([.psh, .ack], seq: 101, ack: 501, payload: Array("GET /\r\n".utf8)), on: h.lan)
        h.send(h.tcp([.psh, .ack], from: false, seq: 501, ack: 108, payload: [UInt8](repeating: 1, count: 100)), on: h.wan)
        #expect(state() == .established)
        h.send(h.tcp([.fin, .ack], seq: 108, ack: 601), on: h.lan)
        #expect(state() == .finWait)
        h.send(h.tcp(.ack, from: false, seq: 601, ack: 109), on: h.wan)
        #expect(state() == .closeWait)
        h.send(h.tcp([.fin, .ack], from: false, seq: 601, ack: 109), on: h.wan)
        #expect(state() == .lastAck)
        h.send(h.tcp(.ack, seq: 109, ack: 602), on: h.lan)
        #expect(state() == .timeWait)
        let entry = try #require(h.entry(Harness.tcpTuple))
        #expect(entry.packets.original == 5 && entry.packets.reply == 4)
        #expect(entry.secondsLeft(now: h.now) == 120)
        h.advance(seconds: 119)
        #expect(state() == .timeWait)
        h.advance(seconds: 1)
        #expect(state() == nil, "TIME_WAIT lasts 120 s")
    }

    @Test func resetClosesTheConnection() throws {
        let h = try Harness()
        h.send(h.tcp(.syn, seq: 1), on: h.lan)
        h.send(h.tcp([.syn, .ack], from: false, seq: 9, ack: 2), on: h.wan)
        h.send(h.tcp(.ack, seq: 2, ack: 10), on: h.lan)
        h.send(h.tcp(.rst, from: false, seq: 10), on: h.wan)
        #expect(h.entry(Harness.tcpTuple)?.tcpState == .close)
        #expect(h.entry(Harness.tcpTuple)?.secondsLeft(now: h.now) == 10)
        h.advance(seconds: 10)
        #expect(h.entry(Harness.tcpTuple) == nil)
    }

    @Test func resetAsOnlyReplyClosesAtOnce() throws {
        let h = try Harness()
        h.send(h.tcp(.syn, seq: 1), on: h.lan)
        h.send(h.tcp([.rst, .ack], from: false, seq: 0, ack: 2), on: h.wan)
        // Linux's tcp_packet deletes such a connection at once ("If only
        // reply is a RST ... delete the conntrack immediately"), not after
        // CLOSE's 10 s: it is gone after its reset.
        #expect(h.entry(Harness.tcpTuple) == nil)
    }

    @Test func invalidSegmentsAreClassifiedNotTracked() throws {
        let h = try Harness()
        // SYN+FIN is never valid (tcp_valid_flags).
        h.send(h.tcp([.syn, .fin]), on: h.lan)
        #expect(h.entry(Harness.tcpTuple) == nil)
        #expect(h.engine.conntrack.invalidCounts[InvalidReason.tcpFlags.rawValue] == 1)
        // A FIN cannot start a connection.
        h.send(h.tcp([.fin, .ack]), on: h.lan)
        #expect(h.entry(Harness.tcpTuple) == nil)
        // A bare ACK picks up a connection already under way (tcp_loose=1).
        h.send(h.tcp(.ack, seq: 5, ack: 5), on: h.lan)
        #expect(h.entry(Harness.tcpTuple)?.tcpState == .established)
        #expect(h.entry(Harness.tcpTuple)?.isAssured == false)
    }

    @Test func synReopensTimeWait() throws {
        let h = try Harness()
        for (packet, lan) in [(h.tcp(.syn, seq: 1), true), (h.tcp([.syn, .ack], from: false, seq: 9, ack: 2), false),
                              (h.tcp(.ack, seq: 2, ack: 10), true), (h.tcp([.fin, .ack], seq: 2, ack: 10), true),
                              (h.tcp([.fin, .ack], from: false, seq: 10, ack: 3), false), (h.tcp(.ack, seq: 3, ack: 11), true)] {
            h.send(packet, on: lan ? h.lan : h.wan)
        }
        #expect(h.entry(Harness.tcpTuple)?.tcpState == .timeWait)
        h.send(h.tcp(.syn, seq: 1000), on: h.lan)
        let reopened = try #require(h.entry(Harness.tcpTuple))
        #expect(reopened.tcpState == .synSent && !reopened.isAssured && reopened.packets.original == 1)
    }

    /// Each state's timeout, from docs/REFERENCE.md (kernel 6.18 defaults).
    @Test func everyTCPTimeout() throws {
        let expected: [TCPState: UInt64] = [.synSent: 120, .synReceived: 60, .established: 432_000, .finWait: 120,
                                            .closeWait: 60, .lastAck: 30, .timeWait: 120, .close: 10]
        let h = try Harness()
        let steps: [(Packet, Bool, TCPState)] = [
            (h.tcp(.syn, seq: 1), true, .synSent),
            (h.tcp([.syn, .ack], from: false, seq: 9, ack: 2), false, .synReceived),
            (h.tcp(.ack, seq: 2, ack: 10), true, .established),
            (h.tcp([.fin, .ack], seq: 2, ack: 10), true, .finWait),
            (h.tcp(.ack, from: false, seq: 10, ack: 3), false, .closeWait),
            (h.tcp([.fin, .ack], from: false, seq: 10, ack: 3), false, .lastAck),
            (h.tcp(.ack, seq: 3, ack: 11), true, .timeWait),
            (h.tcp(.rst, seq: 3), true, .close),
        ]
        for (packet, lan, state) in steps {
            h.send(packet, on: lan ? h.lan : h.wan)
            let entry = try #require(h.entry(Harness.tcpTuple))
            #expect(entry.tcpState == state)
            #expect(entry.secondsLeft(now: h.now) == expected[state], "\(state)")
        }
        #expect(ConntrackTimeouts.linux.tcp(.synSent2) == 120 && ConntrackTimeouts.linux.tcp(.none) == 10)
    }
}

@Suite struct UDPAndICMPTrackingTests {
    static let udpTuple = ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: 5000,
                                    destinationPort: 53, protocol: .udp)

    @Test func udpUnrepliedThenAssured() throws {
        let h = try Harness()
        let query = Packet.udp(client4, 5000, server4, 53, payload: [1, 2, 3])
        let answer = Packet.udp(server4, 53, client4, 5000, payload: [4, 5, 6])
        h.send(query, on: h.lan)
        var entry = try #require(h.entry(Self.udpTuple))
        #expect(!entry.hasSeenReply && !entry.isAssured)
        #expect(entry.secondsLeft(now: h.now) == 30)
        #expect(entry.conntrackLine(now: h.now).contains("[UNREPLIED]"))
        h.advance(seconds: 1)
        h.send(answer, on: h.wan)
        entry = try #require(h.entry(Self.udpTuple))
        #expect(entry.hasSeenReply && !entry.isAssured, "a reply alone does not assure")
        #expect(entry.secondsLeft(now: h.now) == 30)
        h.advance(seconds: 2)
        h.send(query, on: h.lan)
        entry = try #require(h.entry(Self.udpTuple))
        #expect(entry.isAssured, "still talking two seconds on: a stream")
        #expect(entry.secondsLeft(now: h.now) == 120)
        h.advance(seconds: 120)
        #expect(h.entry(Self.udpTuple) == nil)
    }

    @Test func unrepliedUDPExpiresAfter30Seconds() throws {
        let h = try Harness()
        h.send(Packet.udp(client4, 5000, server4, 53), on: h.lan)
        h.advance(seconds: 29)
        #expect(h.entry(Self.udpTuple) != nil)
        h.advance(seconds: 1)
        #expect(h.entry(Self.udpTuple) == nil)
    }

    @Test func icmpEchoAndTimeout() throws {
        let h = try Harness()
        let tuple = ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: 7,
                              destinationPort: 8 << 8, protocol: .icmp)
        h.send(Packet.icmp(client4, server4, .echoRequest(identifier: 7, sequence: 1)), on: h.lan)
        #expect(h.entry(tuple)?.secondsLeft(now: h.now) == 30)
        h.send(Packet.icmp(server4, client4, .echoReply(identifier: 7, sequence: 1)), on: h.wan)
        #expect(h.entry(tuple)?.hasSeenReply == true)
        // An echo reply that answers nothing is not a connection.
        h.send(Packet.icmp(server4, client4, .echoReply(identifier: 99, sequence: 1)), on: h.wan)
        #expect(h.engine.conntrack.invalidCounts[InvalidReason.icmpNotNew.rawValue] == 1)
        h.advance(seconds: 30)
        #expect(h.entry(tuple) == nil)
        // Other protocols: the generic 600 s.
        let gre = Packet(network: .v4(IPv4Header(source: client4, destination: server4, protocol: .gre)),
                         transport: .none, payload: [0, 0, 0, 0])
        h.send(gre, on: h.lan)
        let greTuple = ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: 0, destinationPort: 0,
                                 protocol: .gre)
        #expect(h.entry(greTuple)?.secondsLeft(now: h.now) == 600)
    }

    @Test func icmpErrorsAreRelatedToTheQuotedConnection() throws {
        let h = try Harness()
        let probe = Packet.udp(client4, 5000, server4, 53, payload: [1])
        h.send(probe, on: h.lan)
        // The server answers with port unreachable, quoting the probe as it arrived (TTL 63).
        var quoted = probe.encoded()
        quoted[8] = 63
        let unreachable = Packet.icmp(server4, client4, .destinationUnreachable(code: 3), payload: Array(quoted.prefix(28)))
        let before = h.engine.conntrack.invalidCounts[InvalidReason.icmpErrorUnmatched.rawValue]
        #expect(h.send(unreachable, on: h.wan).verdict == .forward(h.lan))
        #expect(h.engine.conntrack.invalidCounts[InvalidReason.icmpErrorUnmatched.rawValue] == before)
        // The error made no entry of its own, and it did not count as a reply.
        #expect(h.engine.conntrack.table.count == 1)
        #expect(h.entry(Self.udpTuple)?.hasSeenReply == false)

        // Classification straight from conntrack: related, reply direction.
        var tracked = TrackedPacket(tuple: ConnTuple(source: .v4(server4), destination: .v4(client4), sourcePort: 0,
                                                     destinationPort: 3 << 8 | 3, protocol: .icmp), length: 56)
        tracked.quotedTuple = Self.udpTuple
        let result = h.engine.conntrack.track(tracked, now: h.now)
        #expect(result.state == .related && result.direction == .reply)

        // An error quoting nothing we track is invalid.
        let stray = Packet.udp(client4, 6000, server4, 53).encoded()
        h.send(Packet.icmp(server4, client4, .destinationUnreachable(code: 3), payload: Array(stray.prefix(28))), on: h.wan)
        #expect(h.engine.conntrack.invalidCounts[InvalidReason.icmpErrorUnmatched.rawValue] == before + 1)

        // IPv6 too: packet too big about a TCP segment of a tracked connection.
        let syn6 = Packet.tcp(client6, 40000, server6, 80, flags: .syn)
        h.send(syn6, on: h.lan)
        var tracked6 = TrackedPacket(tuple: ConnTuple(source: .v6(server6), destination: .v6(client6), sourcePort: 0,
                                                      destinationPort: 2 << 8, protocol: .icmpv6), length: 100)
        tracked6.quotedTuple = ConnTuple(source: .v6(client6), destination: .v6(server6), sourcePort: 40000,
                                         destinationPort: 80, protocol: .tcp)
        #expect(h.engine.conntrack.track(tracked6, now: h.now).state == .related)
    }
}

@Suite struct TableLimitTests {
    @Test func fullTableEvictsOnlyWhatIsNotAssured() throws {
        let h = try Harness(conntrackCapacity: 3)
        func assuredTCP(_ port: UInt16) {
            h.send(Packet.tcp(client4, port, server4, 80, flags: .syn, sequenceNumber: SeqNumber(1)), on: h.lan)
            h.send(Packet.tcp(server4, 80, client4, port, flags: [.syn, .ack], sequenceNumber: SeqNumber(9),
                              acknowledgmentNumber: SeqNumber(2)), on: h.wan)
            h.send(Packet.tcp(client4, port, server4, 80, flags: .ack, sequenceNumber: SeqNumber(2),
                              acknowledgmentNumber: SeqNumber(10)), on: h.lan)
        }
        assuredTCP(1001)
        assuredTCP(1002)
        h.send(Packet.udp(client4, 5000, server4, 53), on: h.lan)   // not assured
        #expect(h.engine.conntrack.table.count == 3)
        // A fourth connection evicts the UDP one, never an ASSURED one.
        #expect(h.send(Packet.udp(client4, 5001, server4, 53), on: h.lan).verdict == .forward(h.wan))
        #expect(h.engine.conntrack.table.count == 3)
        #expect(h.engine.conntrack.table.evicted == 1)
        let udp5000 = ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: 5000, destinationPort: 53, protocol: .udp)
        #expect(h.entry(udp5000) == nil)
        for port: UInt16 in [1001, 1002] {
            let tuple = ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: port, destinationPort: 80, protocol: .tcp)
            #expect(h.entry(tuple)?.isAssured == true)
        }
        // Make the third one assured too: now nothing can go, and a new
        // connection is refused and counted, the others untouched.
        let udp5001 = ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: 5001, destinationPort: 53, protocol: .udp)
        h.send(Packet.udp(server4, 53, client4, 5001), on: h.wan)
        h.advance(seconds: 3)
        h.send(Packet.udp(client4, 5001, server4, 53), on: h.lan)
        #expect(h.entry(udp5001)?.isAssured == true)
        #expect(h.send(Packet.udp(client4, 5002, server4, 53), on: h.lan).verdict == .drop(.conntrackFull))
        #expect(h.engine.statistics.dropCount(.conntrackFull) == 1)
        #expect(h.engine.conntrack.table.count == 3)
    }

    @Test func expiredEntriesAreSweptWithoutLookups() throws {
        let h = try Harness(conntrackCapacity: 64)
        for port in 0..<50 { h.send(Packet.udp(client4, UInt16(2000 + port), server4, 53), on: h.lan) }
        #expect(h.engine.conntrack.table.count == 50)
        h.advance(seconds: 31)
        h.engine.tick(now: h.now)
        #expect(h.engine.conntrack.table.count == 0)
    }

    /// Many inserts and removals in a small table keep every lookup right
    /// (backward-shift deletion never loses an entry).
    @Test func churnKeepsTheIndexConsistent() throws {
        var table = FlowTable(capacity: 256)
        var live: [UInt16: Int] = [:]
        var state = testSeed(12345)
        func random(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % n
        }
        func tuple(_ port: UInt16) -> ConnTuple {
            ConnTuple(source: .v4(client4), destination: .v4(server4), sourcePort: port, destinationPort: 53, protocol: .udp)
        }
        for _ in 0..<20_000 {
            let port = UInt16(random(400))
            if let position = live[port] {
                table.remove(position)
                live[port] = nil
            } else if table.count < table.capacity {
                var entry = ConnEntry.testEntry(tuple(port))
                entry.expires = .max
                if case .success(let position) = table.insert(entry, now: 0) { live[port] = position }
            }
            if random(10) == 0 {
                for (port, position) in live {
                    #expect(table.find(tuple(port))?.entry == position)
                }
            }
        }
        #expect(table.count == live.count)
    }
}

extension ConnEntry {
    static func testEntry(_ tuple: ConnTuple) -> ConnEntry {
        ConnEntry(original: tuple, reply: tuple.inverted()!)
    }
}

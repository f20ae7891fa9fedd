// TCP window tracking through the engine, each test naming the Linux code
// it mirrors (net/netfilter/nf_conntrack_proto_tcp.c, 6.18): forged resets
// and out-of-window data are invalid and change nothing (tcp_in_window,
// tcp_packet's RST case), SYN and SYN-ACK on an established connection are
// ignored (the sIG/sIV entries of tcp_conntracks), window scaling comes from
// the SYN options (tcp_options, tcp_init_sender), connections picked up
// mid-stream are liberal (tcp_new with nf_conntrack_tcp_loose) and time out
// after 300 s without a reply, and nf_conntrack_tcp_be_liberal passes
// out-of-window data but not out-of-window resets.

@testable import Conntrack
@testable import Engine
import Rules
import TestSeeds
import Testing
import Wire

/// One TCP connection client 10.0.1.2:40000 → server 203.0.113.10:80 with
/// real sequence numbers: client ISN 1,000,000, server ISN 5,000,000, both
/// offering SACK and window scale 7 unless told otherwise.
private final class Flow {
    let h: Harness
    let nat: Bool
    var clientNext: UInt32 = 1_000_001
    var serverNext: UInt32 = 5_000_001

    init(_ h: Harness, nat: Bool) {
        self.h = h
        self.nat = nat
    }

    static let tuple = Harness.tcpTuple

    var entry: ConnEntry? { h.entry(Self.tuple) }

    @discardableResult
    func client(_ flags: TCPFlags, seq: UInt32? = nil, ack: UInt32? = nil, window: UInt16 = 502,
                options: [TCPOption] = [], payload: [UInt8] = []) -> Verdict {
        let packet = Packet.tcp(client4, 40000, server4, 80, flags: flags, sequenceNumber: SeqNumber(seq ?? clientNext),
                                acknowledgmentNumber: SeqNumber(ack ?? serverNext), window: window, options: options,
                                payload: payload)
        return h.send(packet, on: h.lan).verdict
    }

    /// From the server to the client (its public address under masquerade).
    @discardableResult
    func server(_ flags: TCPFlags, seq: UInt32? = nil, ack: UInt32? = nil, window: UInt16 = 502,
                options: [TCPOption] = [], payload: [UInt8] = []) -> Verdict {
        let destination = nat ? IPv4Address(203, 0, 113, 1) : client4
        let packet = Packet.tcp(server4, 80, destination, 40000, flags: flags, sequenceNumber: SeqNumber(seq ?? serverNext),
                                acknowledgmentNumber: SeqNumber(ack ?? clientNext), window: window, options: options,
                                payload: payload)
        return h.send(packet, on: h.wan).verdict
    }

    /// Handshake, 100 bytes each way, each acknowledged: ESTABLISHED and ASSURED.
    func establish(clientScale: UInt8? = 7, serverScale: UInt8? = 7) {
        var synOptions: [TCPOption] = [.maximumSegmentSize(1460), .sackPermitted]
        if let clientScale { synOptions.append(.windowScale(clientScale)) }
        var synAckOptions: [TCPOption] = [.maximumSegmentSize(1460), .sackPermitted]
        if let serverScale { synAckOptions.append(.windowScale(serverScale)) }
        #expect(client(.syn, seq: clientNext - 1, ack: 0, window: 64240, options: synOptions) == .forward(h.wan))
        #expect(server([.syn, .ack], seq: serverNext - 1, window: 65160, options: synAckOptions) == .forward(h.lan))
        #expect(client(.ack) == .forward(h.wan))
        let data = [UInt8](repeating: 0x61, count: 100)
        #expect(client([.ack, .psh], payload: data) == .forward(h.wan))
        clientNext &+= 100
        #expect(server(.ack) == .forward(h.lan))
        #expect(server([.ack, .psh], payload: data) == .forward(h.lan))
        serverNext &+= 100
        #expect(client(.ack) == .forward(h.wan))
        #expect(entry?.tcpState == .established && entry?.isAssured == true)
    }
}

private func harness(_ rules: String? = nil, configure: (inout ConntrackTimeouts) -> Void = { _ in }) throws -> Harness {
    var timeouts = ConntrackTimeouts.linux
    configure(&timeouts)
    let h = try Harness(configuration: EngineConfiguration(
        interfaces: [
            InterfaceConfiguration(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!]),
            InterfaceConfiguration(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!]),
        ],
        conntrackCapacity: 1024, timeouts: timeouts))
    if let rules { h.engine.replaceRuleset(try Ruleset.parse(rules, file: "window.nft")) }
    return h
}

private let masquerade = """
    table inet nat {
        chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
    }
    """

private let dropInvalid = """
    table inet filter {
        chain forward { type filter hook forward priority filter; policy accept; ct state invalid counter drop; }
    }
    """

private func invalid(_ h: Harness, _ reason: InvalidReason) -> UInt64 {
    h.engine.conntrack.invalidCounts[reason.rawValue]
}

@Suite struct TCPWindowTests {
    /// tcp_packet's RST case ("invalid rst": seq before the receiver's
    /// td_maxack) and tcp_in_window bound I ("SEQ is over the upper bound"):
    /// the attack, 20 resets with random sequence numbers at the
    /// masqueraded client's public address.
    @Test func forgedResetsDoNotCloseANATedConnection() throws {
        let h = try harness(masquerade)
        let flow = Flow(h, nat: true)
        flow.establish()
        let expires = try #require(flow.entry).expires
        var generator = SeededGenerator(seed: testSeed(0x7263_7074))
        var sent = 0
        while sent < 20 {
            let seq = UInt32(truncatingIfNeeded: generator.next())
            // Leave out the one window in 2^32 / 2^20 that Linux would accept.
            if seq &- (flow.serverNext &- 1) < 1 << 20 { continue }
            let flags: TCPFlags = sent.isMultiple(of: 2) ? .rst : [.rst, .ack]
            let verdict = flow.server(flags, seq: seq)
            #expect(verdict != .forward(h.lan), "an invalid reset has no connection: it is not translated back to the client")
            sent += 1
        }
        #expect(invalid(h, .tcpResetOutOfWindow) + invalid(h, .tcpSequenceOverWindow) == 20)
        let entry = try #require(flow.entry)
        #expect(entry.tcpState == .established && entry.expires == expires, "nothing about the connection changed")
        // The server's next data still reaches the client, translated.
        h.advance(seconds: 10)
        #expect(flow.server([.ack, .psh], payload: [0x62]) == .forward(h.lan))
        #expect(flow.entry?.tcpState == .established)
    }

    /// tcp_packet: a RST whose seq is exactly the receiver's highest ack
    /// closes; one elsewhere in the window keeps the state for the RFC 5961
    /// challenge ACK (with the CLOSE timeout), and that ACK restores it.
    @Test func inWindowResetCloses() throws {
        let h = try harness(masquerade)
        let flow = Flow(h, nat: true)
        flow.establish()
        #expect(flow.server(.rst, seq: flow.serverNext &+ 1000) == .forward(h.lan), "in window, not exact: passed")
        #expect(flow.entry?.tcpState == .established, "kept for the challenge ACK")
        #expect(flow.entry?.secondsLeft(now: h.now) == 10, "with the CLOSE timeout")
        #expect(flow.client(.ack) == .forward(h.wan), "the client's challenge ACK")
        #expect((flow.entry?.secondsLeft(now: h.now) ?? 0) > 10)
        #expect(flow.server(.rst) == .forward(h.lan))
        #expect(flow.entry?.tcpState == .close)
        #expect(invalid(h, .tcpResetOutOfWindow) == 0 && invalid(h, .tcpSequenceOverWindow) == 0)
    }

    /// tcp_in_window bounds I and III: data beyond what the receiver allowed
    /// and acks of data never sent are invalid; `ct state invalid drop`
    /// drops them; the connection's state is untouched.
    @Test func outOfWindowDataIsInvalidAndDropped() throws {
        let h = try harness(dropInvalid)
        let flow = Flow(h, nat: false)
        flow.establish()
        let before = try #require(flow.entry).tcp
        #expect(flow.server([.ack, .psh], seq: flow.serverNext &+ 50_000_000, payload: [0x66]) == .drop(.ruleDrop))
        #expect(invalid(h, .tcpSequenceOverWindow) == 1)
        #expect(flow.client(.ack, ack: flow.serverNext &+ 5_000) == .drop(.ruleDrop), "acknowledges data never sent")
        #expect(invalid(h, .tcpAckOverWindow) == 1)
        let after = try #require(flow.entry).tcp
        #expect(after.original == before.original && after.reply == before.reply)
        #expect(flow.server([.ack, .psh], payload: [0x67]) == .forward(h.lan), "in-window data still passes")
    }

    /// tcp_conntracks: SYN (original) and SYN-ACK (reply) on ESTABLISHED are
    /// sIG, SYN (reply) and SYN-ACK (original) sIV; none changes the state
    /// or the windows, whatever its numbers.
    @Test func synAndSynAckOnAnEstablishedConnectionChangeNothing() throws {
        let h = try harness(masquerade)
        let flow = Flow(h, nat: true)
        flow.establish()
        let before = try #require(flow.entry)
        var generator = SeededGenerator(seed: testSeed(0x5359_4e41))
        for _ in 0..<5 {
            let seq = UInt32(truncatingIfNeeded: generator.next()), ack = UInt32(truncatingIfNeeded: generator.next())
            flow.server([.syn, .ack], seq: seq, ack: ack, options: [.windowScale(14)])
            flow.client(.syn, seq: seq, ack: 0, options: [.windowScale(0)])
            flow.server(.syn, seq: seq, ack: 0)
            flow.client([.syn, .ack], seq: seq, ack: ack)
        }
        let after = try #require(flow.entry)
        #expect(after.tcpState == .established)
        #expect(after.tcp.original == before.tcp.original && after.tcp.reply == before.tcp.reply)
        #expect(flow.server([.ack, .psh], payload: [0x68]) == .forward(h.lan))
        #expect(flow.client(.ack, ack: flow.serverNext &+ 1) == .forward(h.wan))
    }

    /// tcp_options and tcp_init_sender: both SYNs carried window scale 7, so
    /// the server's window of 2,000 means 256,000 bytes; the client may send
    /// 200,000 bytes ahead. Without the option in the SYN-ACK, scaling is
    /// off for both (RFC 7323 §2.2) and the same segment is over the window
    /// (by more than the receiver's largest window, which Linux forgives).
    @Test(arguments: [true, false]) func windowScalingFromTheSYNOptions(scaled: Bool) throws {
        let h = try harness()
        let flow = Flow(h, nat: false)
        flow.establish(serverScale: scaled ? 7 : nil)
        #expect(flow.server(.ack, window: 2000) == .forward(h.lan))
        let scale = try #require(flow.entry).tcp.reply.scale
        #expect(scale == (scaled ? 7 : 0))
        flow.client([.ack, .psh], seq: flow.clientNext &+ 200_000, payload: [UInt8](repeating: 0x69, count: 1000))
        #expect(invalid(h, .tcpSequenceOverWindow) == (scaled ? 0 : 1))
    }

    /// tcp_sack: with SACK permitted, the highest SACK right edge is the ack
    /// bound III checks: a SACK block beyond the data sent is invalid.
    @Test func sackEdgesAreChecked() throws {
        let h = try harness()
        let flow = Flow(h, nat: false)
        flow.establish()
        let inside = TCPSACKBlock(left: SeqNumber(flow.serverNext &- 50), right: SeqNumber(flow.serverNext))
        #expect(flow.client(.ack, ack: flow.serverNext &- 100, options: [.noOperation, .noOperation, .sack([inside])])
                == .forward(h.wan))
        let beyond = TCPSACKBlock(left: SeqNumber(flow.serverNext &+ 1000), right: SeqNumber(flow.serverNext &+ 2000))
        flow.client(.ack, options: [.noOperation, .noOperation, .sack([beyond])])
        #expect(invalid(h, .tcpAckOverWindow) == 1)
    }

    /// tcp_new with nf_conntrack_tcp_loose=1: a bare ACK picks the connection
    /// up, both sides liberal (anything in either direction passes); without
    /// a reply it lives 300 s (TCP_CONNTRACK_UNACK), not 5 days. With
    /// tcp_loose off, it cannot start a connection.
    @Test func midStreamPickupWithLooseOn() throws {
        let h = try harness()
        let flow = Flow(h, nat: false)
        #expect(flow.client([.ack, .psh], payload: [0x6a]) == .forward(h.wan))
        let entry = try #require(flow.entry)
        #expect(entry.tcpState == .established && !entry.hasSeenReply)
        #expect(entry.tcp.original.flags.contains(.beLiberal) && entry.tcp.reply.flags.contains(.beLiberal))
        #expect(entry.secondsLeft(now: h.now) == 300)
        #expect(flow.server(.ack, seq: 77, ack: 1) == .forward(h.lan), "liberal: any numbers")
        #expect(flow.client(.ack, seq: 5, ack: 999_999_999) == .forward(h.wan))
        #expect(InvalidReason.allCases.allSatisfy { invalid(h, $0) == 0 })
    }

    @Test func midStreamPickupWithLooseOff() throws {
        let h = try harness(dropInvalid) { $0.tcpLoose = false }
        let flow = Flow(h, nat: false)
        #expect(flow.client([.ack, .psh], payload: [0x6a]) == .drop(.ruleDrop))
        #expect(flow.entry == nil)
        #expect(invalid(h, .tcpNotNew) == 1)
        flow.establish()   // a SYN still starts one
    }

    /// tcp_packet: "ESTABLISHED without SEEN_REPLY … Avoid large ESTABLISHED
    /// timeout": a connection that never saw a reply expires after 300 s.
    @Test func aConnectionThatNeverSawAReplyTimesOutAfter300Seconds() throws {
        let h = try harness()
        let flow = Flow(h, nat: false)
        flow.client([.ack, .psh], payload: [0x6b])
        h.advance(seconds: 299)
        #expect(flow.entry != nil)
        h.advance(seconds: 2)
        #expect(flow.entry == nil, "300 s, not 432,000")
    }

    /// nf_tcp_log_invalid with nf_conntrack_tcp_be_liberal=1 accepts what
    /// tcp_in_window would call invalid, but tcp_packet's "invalid rst"
    /// check comes first and still refuses a RST below the receiver's ack.
    @Test func beLiberalAcceptsOutOfWindowDataButNotResets() throws {
        let h = try harness(dropInvalid) { $0.tcpBeLiberal = true }
        let flow = Flow(h, nat: false)
        flow.establish()
        #expect(flow.server([.ack, .psh], seq: flow.serverNext &+ 50_000_000, payload: [0x6c]) == .forward(h.lan))
        #expect(flow.server(.rst, seq: flow.serverNext &- 100_000) == .drop(.ruleDrop))
        #expect(invalid(h, .tcpResetOutOfWindow) == 1)
        #expect(flow.entry?.tcpState == .established)
        #expect(flow.server([.ack, .psh], payload: [0x6d]) == .forward(h.lan))
    }

    /// tcp_in_window's nf_ct_seq_offset: under NAT the FTP helper rewrites
    /// PORT lines to another length; acks that come back count in the
    /// rewritten numbering and are moved back before bound III is checked
    /// (FTPHelperTests cover whole sessions; this checks the entry directly).
    @Test func acknowledgmentsOfRewrittenDataAreMovedBack() throws {
        let h = try harness(masquerade)
        let flow = Flow(h, nat: true)
        flow.establish()
        let found = h.engine.conntrack.table.lookup(Flow.tuple, now: h.now)
        let position = try #require(found).entry
        // The client's next 10 bytes went out 8 bytes longer.
        h.engine.conntrack.table.recordAdjustment(position, .original, at: SeqNumber(flow.clientNext), delta: 8)
        #expect(flow.client([.ack, .psh], payload: [UInt8](repeating: 0x6e, count: 10)) == .forward(h.wan))
        // The server acknowledges 18 bytes, all the client sent as it counts.
        #expect(flow.server(.ack, ack: flow.clientNext &+ 18) == .forward(h.lan))
        #expect(invalid(h, .tcpAckOverWindow) == 0)
        #expect(h.entry(Flow.tuple)?.tcp.reply.maxAck == flow.clientNext &+ 10)
    }
}

// The pieces of conntrack on their own: the transcribed TCP state table
// against the cases Linux's comments spell out, tuple inversion, the flag
// check, and the flow table's bounds.

@testable import Conntrack
import Testing
import Wire

@Suite struct TCPStateTableTests {
    /// Rows quoted from the comments in nf_conntrack_proto_tcp.c.
    @Test(arguments: [
        (Direction.original, TCPFlagClass.syn, TCPState.none, TCPTransition.to(.synSent)),      // sNO -> sSS
        (.original, .syn, .timeWait, .to(.synSent)),                                            // reopened (RFC 1122)
        (.original, .syn, .established, .ignore),                                               // SYN in window: error
        (.original, .synAck, .synSent, .invalid),                                               // client can't SYN then SYN/ACK
        (.original, .ack, .none, .to(.established)),                                            // assumed (pickup)
        (.original, .ack, .synSent, .invalid),                                                  // no SYN/ACK seen yet
        (.original, .ack, .lastAck, .to(.timeWait)),
        (.original, .fin, .synSent, .invalid),                                                  // wait for SYN/ACK first
        (.reply, .syn, .synSent, .to(.synSent2)),                                               // simultaneous open
        (.reply, .synAck, .synSent, .to(.synReceived)),                                         // standard open
        (.reply, .synAck, .established, .ignore),                                               // late retransmitted SYN/ACK
        (.reply, .ack, .synSent, .ignore),                                                      // half-open?
        (.reply, .fin, .established, .to(.finWait)),
        (.reply, .rst, .synSent, .to(.close)),
        (.reply, .none, .established, .invalid),
    ])
    func linuxTable(direction: Direction, flags: TCPFlagClass, from: TCPState, to: TCPTransition) {
        #expect(TCPStateTable.transition(direction, flags, from: from) == to)
    }

    @Test func flagClassesAndValidity() {
        #expect(TCPFlagClass([.syn, .ack, .psh]) == .synAck)
        #expect(TCPFlagClass([.rst, .syn]) == .rst)
        #expect(TCPFlagClass([.fin, .ack]) == .fin)
        #expect(TCPFlagClass([]) == .none)
        #expect(TCPStateTable.hasValidFlags([.syn, .ece, .cwr]))
        #expect(TCPStateTable.hasValidFlags([.psh, .ack]))
        #expect(!TCPStateTable.hasValidFlags([.syn, .fin]))
        #expect(!TCPStateTable.hasValidFlags([.syn, .rst]))
        #expect(!TCPStateTable.hasValidFlags([]))
        #expect(!TCPStateTable.hasValidFlags([.fin]))
    }
}

@Suite struct TupleTests {
    let a = IPAddress("10.0.1.2")!
    let b = IPAddress("203.0.113.10")!

    @Test func inversion() throws {
        let tcp = ConnTuple(source: a, destination: b, sourcePort: 40000, destinationPort: 21, protocol: .tcp)
        let reply = try #require(tcp.inverted())
        #expect(reply.sourceAddress == b && reply.destinationAddress == a)
        #expect(reply.sourcePort == 21 && reply.destinationPort == 40000)
        #expect(reply.inverted() == tcp)
        let ping = ConnTuple(source: a, destination: b, sourcePort: 7, destinationPort: 8 << 8, protocol: .icmp)
        let pong = try #require(ping.inverted())
        #expect(pong.icmpType == 0 && pong.sourcePort == 7)
        let ping6 = ConnTuple(source: IPAddress("fd00:1::2")!, destination: IPAddress("2001:db8:1::10")!,
                              sourcePort: 7, destinationPort: 128 << 8, protocol: .icmpv6)
        #expect(ping6.inverted()?.icmpType == 129)
        // An unreachable has no reply: it cannot be a connection.
        let error = ConnTuple(source: a, destination: b, sourcePort: 0, destinationPort: 3 << 8 | 3, protocol: .icmp)
        #expect(error.inverted() == nil)
    }

    @Test func familiesStayApart() {
        let v4 = ConnTuple(source: a, destination: b, sourcePort: 1, destinationPort: 2, protocol: .udp)
        let mapped = ConnTuple(source: IPAddress("::ffff:10.0.1.2")!, destination: IPAddress("::ffff:203.0.113.10")!,
                               sourcePort: 1, destinationPort: 2, protocol: .udp)
        #expect(v4 != mapped, "an IPv4-mapped IPv6 flow is not the IPv4 flow")
        #expect(v4.sourceAddress.description == "10.0.1.2")
    }
}

@Suite struct FlowTableTests {
    func entry(_ port: UInt16, expires: Timestamp = .max) -> ConnEntry {
        let tuple = ConnTuple(source: IPAddress("10.0.1.2")!, destination: IPAddress("203.0.113.10")!,
                              sourcePort: port, destinationPort: 53, protocol: .udp)
        var entry = ConnEntry(original: tuple, reply: tuple.inverted()!)
        entry.expires = expires
        return entry
    }

    @Test func bothTuplesFindTheEntry() throws {
        var table = FlowTable(capacity: 8)
        guard case .success(let position) = table.insert(entry(1), now: 0) else { Issue.record("insert"); return }
        let e = table[position]
        #expect(table.lookup(e.original, now: 0)?.direction == .original)
        #expect(table.lookup(e.reply, now: 0)?.direction == .reply)
        #expect(table.insert(entry(1), now: 0) == .failure(.clash))
        #expect(table[position].id == 1)
    }

    @Test func lazyExpiry() {
        var table = FlowTable(capacity: 8)
        _ = table.insert(entry(1, expires: 100), now: 0)
        #expect(table.lookup(entry(1).original, now: 99) != nil)
        #expect(table.lookup(entry(1).original, now: 100) == nil)
        #expect(table.count == 0)
    }

    @Test func fullOfAssuredRefuses() {
        var table = FlowTable(capacity: 2)
        for port: UInt16 in [1, 2] {
            var e = entry(port)
            e.status.insert(.assured)
            _ = table.insert(e, now: 0)
        }
        #expect(table.insert(entry(3), now: 0) == .failure(.full))
        #expect(table.count == 2)
    }
}

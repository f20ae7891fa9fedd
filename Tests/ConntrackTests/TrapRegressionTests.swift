// Inputs that used to trap in Conntrack (the packet-path audit of issue 19,
// docs/packet-path-audit.md): a clock near the end of its 64 bits, and an
// expectation table told to keep no expectation per master. Each test says
// what the code did before; each ran into a trap there.

@testable import Conntrack
import Testing
import Wire

@Suite struct ConntrackTrapRegressionTests {
    let client = IPv4Address(10, 0, 1, 2), server = IPv4Address(203, 0, 113, 10)

    @Test func saturatingAddStopsAtTheEndOfTheClock() {
        #expect(saturatingAdd(5, 7) == 12)
        #expect(saturatingAdd(.max - 1, 1) == .max)
        #expect(saturatingAdd(.max - 1, 2) == .max)
        #expect(saturatingAdd(.max, .max) == .max)
    }

    /// A UDP flow tracked at a time within a timeout of 2^64 ns: new, confirmed,
    /// answered, and later packets (the stream check adds 2 s to `created`).
    /// Used to trap: `now + UInt64(timeout) * nanosecondsPerSecond` overflowed
    /// (Conntrack.newConnection and apply), and so did `created + 2 s`.
    @Test(arguments: [Timestamp.max, Timestamp.max - 1, Timestamp.max - 29 * nanosecondsPerSecond])
    func udpFlowNearTheEndOfTheClock(now: Timestamp) throws {
        var conntrack = Conntrack(capacity: 16)
        let tuple = ConnTuple(source: .v4(client), destination: .v4(server), sourcePort: 5000, destinationPort: 53, protocol: .udp)
        var first = conntrack.track(TrackedPacket(tuple: tuple, length: 40), now: now)
        #expect(first.state == .new)
        #expect(conntrack.confirm(&first, now: now))
        let position = try #require(first.entry)
        #expect(conntrack.table[position].expires == .max, "the deadline saturates")
        let reply = try #require(tuple.inverted())
        let answer = conntrack.track(TrackedPacket(tuple: reply, length: 40), now: now)
        let later = conntrack.track(TrackedPacket(tuple: tuple, length: 40), now: now)
        if now < .max {
            #expect(answer.state == .established && answer.direction == .reply)
            #expect(later.state == .established)
        } else {
            // At the last nanosecond every deadline has passed: the entry is
            // gone at once and each packet starts over (no trap either way).
            #expect(answer.state == .new)
        }
    }

    /// A TCP connection and its whole life at the end of the clock.
    @Test func tcpHandshakeNearTheEndOfTheClock() throws {
        var conntrack = Conntrack(capacity: 16)
        let now = Timestamp.max - 10 * nanosecondsPerSecond
        let tuple = ConnTuple(source: .v4(client), destination: .v4(server), sourcePort: 40000, destinationPort: 80, protocol: .tcp)
        var syn = TrackedPacket(tuple: tuple, length: 60)
        syn.tcpFlags = .syn
        var result = conntrack.track(syn, now: now)
        #expect(conntrack.confirm(&result, now: now))
        var synAck = TrackedPacket(tuple: try #require(tuple.inverted()), length: 60)
        synAck.tcpFlags = [.syn, .ack]
        #expect(conntrack.track(synAck, now: now + 1).state == .established)
        var ack = TrackedPacket(tuple: tuple, length: 52)
        ack.tcpFlags = .ack
        #expect(conntrack.track(ack, now: now + 2).state == .established)
        let position = try #require(result.entry)
        #expect(conntrack.table[position].tcpState == .established)
        #expect(conntrack.table[position].expires == .max)
        conntrack.sweep(now: .max)
    }

    /// `maximumPerMaster` is a public var (FTPSession sets it from
    /// FTPPolicy.maxExpected, which a policy built in code may leave at 0).
    /// Used to trap: with 0 the loop emptied the master's list and then
    /// called removeFirst() on it. Now 0 (or less) keeps one, as init's max(1, …).
    @Test(arguments: [0, -1, Int.min])
    func expectationTableWithNoRoomPerMaster(maximum: Int) throws {
        var conntrack = Conntrack(capacity: 16)
        let now: Timestamp = 1_000 * nanosecondsPerSecond
        let tuple = ConnTuple(source: .v4(client), destination: .v4(server), sourcePort: 40000, destinationPort: 21, protocol: .tcp)
        var syn = TrackedPacket(tuple: tuple, length: 60)
        syn.tcpFlags = .syn
        var result = conntrack.track(syn, now: now)
        #expect(conntrack.confirm(&result, now: now))
        let master = try #require(result.entry)
        let entry = conntrack.table[master]
        conntrack.expectations.maximumPerMaster = maximum
        for port: UInt16 in [50000, 50001, 50002] {
            let expectation = ConnExpectation(
                key: ExpectationKey(source: ConnTuple.wide(server), destination: ConnTuple.wide(client),
                                    destinationPort: port, family: .ipv4),
                masterPosition: master, masterID: entry.id, masterTuple: entry.original, helper: .ftp,
                expires: now + 300 * nanosecondsPerSecond)
            #expect(throws: Never.self) { try conntrack.expect(expectation, now: now).get() }
        }
        #expect(conntrack.expectations.count == 1, "the newest one stays, as with maximumPerMaster 1")
    }
}

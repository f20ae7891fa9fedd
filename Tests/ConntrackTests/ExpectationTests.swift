// Expectations on their own: matched by both addresses and the destination
// port with any source port, used once, RELATED with the master recorded,
// bounded per master and in all, dead with their master, and listed as
// `conntrack -L expect` lists them.

@testable import Conntrack
import Testing
import Wire

@Suite struct ExpectationTests {
    let client = IPv4Address(10, 0, 1, 2), server = IPv4Address(203, 0, 113, 10)

    /// A confirmed control connection client:40000 → server:21; returns its position.
    func master(_ conntrack: inout Conntrack, now: Timestamp, port: UInt16 = 40000) throws -> Int {
        let tuple = ConnTuple(source: .v4(client), destination: .v4(server), sourcePort: port, destinationPort: 21, protocol: .tcp)
        var packet = TrackedPacket(tuple: tuple, length: 60)
        packet.tcpFlags = .syn
        var result = conntrack.track(packet, now: now)
        #expect(conntrack.confirm(&result, now: now))
        return try #require(result.entry)
    }

    func expectation(_ conntrack: Conntrack, master: Int, port: UInt16, now: Timestamp) -> ConnExpectation {
        let entry = conntrack.table[master]
        return ConnExpectation(key: ExpectationKey(source: ConnTuple.wide(server), destination: ConnTuple.wide(client),
                                               destinationPort: port, family: .ipv4),
                           masterPosition: master, masterID: entry.id, masterTuple: entry.original, helper: .ftp,
                           expires: now + 300 * nanosecondsPerSecond)
    }

    func dataSYN(from sourcePort: UInt16, to port: UInt16, source: IPv4Address? = nil) -> TrackedPacket {
        var packet = TrackedPacket(tuple: ConnTuple(source: .v4(source ?? server), destination: .v4(client),
                                                    sourcePort: sourcePort, destinationPort: port, protocol: .tcp), length: 60)
        packet.tcpFlags = .syn
        return packet
    }

    func refusal(_ result: Result<Void, ExpectationRefusal>) -> ExpectationRefusal? {
        if case .failure(let why) = result { return why }
        return nil
    }

    @Test func matchedOnceWithAnySourcePort() throws {
        var conntrack = Conntrack(capacity: 64)
        let now: Timestamp = 5 * nanosecondsPerSecond
        let position = try master(&conntrack, now: now)
        #expect(refusal(conntrack.expect(expectation(conntrack, master: position, port: 50000, now: now), now: now)) == nil)
        #expect(conntrack.track(dataSYN(from: 1234, to: 50001), now: now).state == .new, "another port")
        #expect(conntrack.track(dataSYN(from: 1234, to: 50000, source: IPv4Address(203, 0, 113, 11)), now: now).state == .new,
                "another host")
        var related = conntrack.track(dataSYN(from: 20, to: 50000), now: now)
        #expect(related.state == .related)
        #expect(conntrack.confirm(&related, now: now))
        let data = conntrack.table[try #require(related.entry)]
        #expect(data.status.contains(.expected))
        #expect(Int(data.masterPosition) == position && data.masterID == conntrack.table[position].id)
        #expect(conntrack.expectations.isEmpty, "used once")
        #expect(conntrack.track(dataSYN(from: 21, to: 50000), now: now).state == .new)
    }

    @Test func boundedPerMasterAndInAll() throws {
        var conntrack = Conntrack(capacity: 64)
        conntrack.expectations = ExpectationTable(capacity: 3, maximumPerMaster: 2)
        let now: Timestamp = 5 * nanosecondsPerSecond
        let first = try master(&conntrack, now: now)
        for port in UInt16(50000)...50002 {
            #expect((try? conntrack.expect(expectation(conntrack, master: first, port: port, now: now), now: now).get()) != nil)
        }
        #expect(conntrack.expectations.all.map(\.key.destinationPort) == [50001, 50002], "the oldest made room")
        let second = try master(&conntrack, now: now, port: 40001)
        #expect((try? conntrack.expect(expectation(conntrack, master: second, port: 50003, now: now), now: now).get()) != nil)
        // The same connection expected by another master is a clash.
        #expect(refusal(conntrack.expect(expectation(conntrack, master: second, port: 50001, now: now), now: now)) == .clash)
        // Full (3 in all): a fourth one is refused.
        let third = try master(&conntrack, now: now, port: 40002)
        #expect(refusal(conntrack.expect(expectation(conntrack, master: third, port: 50005, now: now), now: now)) == .tableFull)
    }

    @Test func deadWithTheirMasterAndListedLikeConntrack() throws {
        var conntrack = Conntrack(capacity: 64)
        let now: Timestamp = 5 * nanosecondsPerSecond
        let position = try master(&conntrack, now: now)
        _ = conntrack.expect(expectation(conntrack, master: position, port: 50000, now: now), now: now)
        #expect(conntrack.expectationListing(now: now + 3 * nanosecondsPerSecond) == [
            "297 proto=6 src=203.0.113.10 dst=10.0.1.2 sport=0 dport=50000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=10.0.1.2 master-dst=203.0.113.10 sport=40000 dport=21 class=0 helper=ftp",
        ])
        conntrack.table.remove(position)
        #expect(conntrack.expectationListing(now: now).isEmpty)
        #expect(conntrack.track(dataSYN(from: 20, to: 50000), now: now).state == .new)
        conntrack.purgeExpectations(now: now)
        #expect(conntrack.expectations.isEmpty)
    }

    @Test func ipv6Listing() {
        let key = ExpectationKey(source: IPv6Address("2001:db8:1::10")!, destination: IPv6Address("2001:db8:1::1")!,
                                 destinationPort: 50000, family: .ipv6)
        let masterTuple = ConnTuple(source: .v6(IPv6Address("fd00:1::2")!), destination: .v6(IPv6Address("2001:db8:1::10")!),
                                    sourcePort: 40000, destinationPort: 21, protocol: .tcp)
        let e = ConnExpectation(key: key, masterPosition: 0, masterID: 1, masterTuple: masterTuple, helper: .ftp,
                            expires: 300 * nanosecondsPerSecond)
        #expect(e.conntrackLine(now: 0) == "300 proto=6 src=2001:db8:1::10 dst=2001:db8:1::1 sport=0 dport=50000 mask-src=ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff mask-dst=ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff sport=0 dport=65535 master-src=fd00:1::2 master-dst=2001:db8:1::10 sport=40000 dport=21 class=0 helper=ftp")
    }
}

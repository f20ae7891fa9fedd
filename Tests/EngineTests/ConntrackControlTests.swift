// `conntrack -D/-F/-U` and the expect table's -D/-F on a running engine, as
// ctnetlink does them in Linux: a deleted connection is gone at once with a
// DESTROY event, the expectations it made go with it
// (nf_ct_remove_expectations), so the data connection it announced is no
// longer RELATED, and its NAT mapping is free for the next connection.

@testable import Conntrack
@testable import Engine
import Rules
import TFTP
import Testing
import Wire

@Suite struct ConntrackControlTests {
    static func filter(_ body: (inout ConntrackFilter) -> Void) -> ConntrackFilter {
        var filter = ConntrackFilter()
        body(&filter)
        return filter
    }

    @Test func deletingTheFTPControlConnectionRemovesItsExpectation() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        s.clientSends("PORT 10,0,1,2,195,80\r\n")
        #expect(s.expectations.count == 1)
        // An unrelated connection stays.
        s.h.send(Packet.tcp(client4, 41000, server4, 80, flags: .syn), on: s.h.lan)
        s.h.engine.conntrack.setEventsEnabled(true)
        let deleted = s.h.engine.deleteConnections(matching: Self.filter { $0.protocol = .tcp; $0.origDestinationPort = 21 },
                                                   now: s.h.now)
        #expect(deleted.count == 1)
        #expect(deleted.first?.original.destinationPort == 21)
        #expect(s.expectations.isEmpty, "the expectation went with its master")
        #expect(s.h.engine.conntrack.expectations.isEmpty, "removed, not only dead")
        #expect(s.h.engine.helpers.isEmpty, "the helper session went too")
        let events = s.h.engine.conntrack.takeEvents(now: s.h.now)
        #expect(events.map(\.kind) == [.destroy])
        #expect(s.h.engine.conntrack.listing(now: s.h.now).count == 1)
        // The server's data connection is no longer related: the forward policy drops it.
        let data = Packet.tcp(server4, 20, IPv4Address(203, 0, 113, 1), 50000, flags: .syn, sequenceNumber: SeqNumber(7))
        #expect(s.h.send(data, on: s.h.wan).verdict != .forward(s.h.lan))
    }

    @Test func deletingATFTPRequestRemovesItsExpectation() throws {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse(TFTPHelperTests.rules(helper: true), file: "tftp.nft"))
        h.send(Packet.udp(client4, 40000, server4, 69, payload: TFTPHelperTests.request), on: h.lan)
        #expect(h.engine.conntrack.expectationListing(now: h.now).count == 1)
        #expect(h.engine.deleteConnections(matching: Self.filter { $0.protocol = .udp }, now: h.now).count == 1)
        #expect(h.engine.conntrack.expectationListing(now: h.now).isEmpty)
        let answer = Packet.udp(server4, 51234, IPv4Address(203, 0, 113, 1), 40000, payload: [0, 3, 0, 1])
        #expect(h.send(answer, on: h.wan).verdict != .forward(h.lan))
    }

    /// A mapping is the entry's reply tuple: once the entry is deleted, the
    /// public port is free, and a new connection from the same client port
    /// gets it again (masquerade keeps the port when it is free).
    @Test func deletingAMasqueradedConnectionFreesItsMapping() throws {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse(FTPRules.masquerade, file: "nat.nft"))
        h.send(Packet.tcp(client4, 40000, server4, 80, flags: .syn), on: h.lan)
        let position = try #require(h.engine.conntrack.positions(matching: ConntrackFilter(), now: h.now).first)
        let publicTuple = h.engine.conntrack.table[position].reply
        let taken = h.engine.conntrack.isInUse(publicTuple, now: h.now)
        #expect(taken)
        #expect(h.engine.deleteConnections(matching: Self.filter { $0.origSource = IPPrefix("10.0.1.0/24") }, now: h.now).count == 1)
        let stillTaken = h.engine.conntrack.isInUse(publicTuple, now: h.now)
        #expect(!stillTaken, "the mapping is free")
        // Another client (10.0.1.3) takes port 40000 of the public address now.
        let other = h.send(Packet.tcp(IPv4Address(10, 0, 1, 3), 40000, server4, 80, flags: .syn), on: h.lan)
        #expect(PacketSummary.line(for: other.bytes).hasPrefix("IP 203.0.113.1.40000 > 203.0.113.10.80"))
    }

    @Test func flushEmptiesBothTables() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        s.clientSends("PORT 10,0,1,2,195,80\r\n")
        s.h.send(Packet.udp(client4, 5353, server4, 53, payload: [1]), on: s.h.lan)
        #expect(s.h.engine.conntrack.deleteExpectations(matching: ConntrackFilter(), now: s.h.now).count == 1)
        #expect(s.expectations.isEmpty)
        #expect(s.h.engine.deleteConnections(matching: ConntrackFilter(), now: s.h.now).count == 2)
        #expect(s.h.engine.conntrack.table.count == 0)
        #expect(s.h.engine.conntrack.listing(now: s.h.now).isEmpty)
    }

    @Test func expectationFilters() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        s.clientSends("PORT 10,0,1,2,195,80\r\n")
        let now = s.h.now
        #expect(s.h.engine.conntrack.expectations(matching: Self.filter { $0.origDestinationPort = 50000 }, now: now).count == 1)
        #expect(s.h.engine.conntrack.expectations(matching: Self.filter { $0.origDestinationPort = 50001 }, now: now).isEmpty)
        #expect(s.h.engine.conntrack.expectations(matching: Self.filter { $0.protocol = .udp }, now: now).isEmpty)
        #expect(s.h.engine.conntrack.expectations(matching: Self.filter { $0.family = .ipv6 }, now: now).isEmpty)
        #expect(s.h.engine.conntrack.expectations(matching: Self.filter { $0.origSource = IPPrefix("203.0.113.10/32") },
                                                  now: now).count == 1)
        #expect(s.h.engine.conntrack.deleteExpectations(matching: Self.filter { $0.protocol = .udp }, now: now).isEmpty)
        #expect(s.expectations.count == 1, "nothing matched, nothing deleted")
    }

    @Test func updateSetsMarkAndTimeout() throws {
        let h = try Harness()
        h.send(Packet.tcp(client4, 40000, server4, 80, flags: .syn), on: h.lan)
        h.send(Packet.udp(client4, 5353, server4, 53, payload: [1]), on: h.lan)
        h.engine.conntrack.setEventsEnabled(true)
        let updated = h.engine.updateConnections(matching: Self.filter { $0.protocol = .udp }, mark: 7, timeout: 5, now: h.now)
        #expect(updated.count == 1 && updated.first?.mark == 7)
        #expect(h.engine.conntrack.takeEvents(now: h.now).map(\.kind) == [.update])
        let marked = h.engine.conntrack.listing(matching: Self.filter { $0.mark = 7 }, now: h.now)
        #expect(marked.count == 1 && marked[0].hasPrefix("udp      17 5 "), "\(marked)")
        // -m VALUE/MASK compares the masked bits only.
        #expect(h.engine.conntrack.listing(matching: Self.filter { $0.mark = 3; $0.markMask = 3 }, now: h.now).count == 1)
        #expect(h.engine.conntrack.listing(matching: Self.filter { $0.mark = 3 }, now: h.now).isEmpty)
        h.advance(seconds: 6)
        #expect(h.engine.conntrack.listing(now: h.now).count == 1, "the UDP entry expired after its new 5 s")
    }

    @Test func filtersOnBothTuplesStateAndZone() throws {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse(FTPRules.masquerade, file: "nat.nft"))
        h.send(Packet.tcp(client4, 40000, server4, 80, flags: .syn), on: h.lan)
        h.send(Packet.tcp(client6, 40001, server6, 443, flags: .syn), on: h.lan)
        let now = h.now
        func count(_ body: (inout ConntrackFilter) -> Void) -> Int {
            h.engine.conntrack.listing(matching: Self.filter(body), now: now).count
        }
        #expect(count { _ in } == 2)
        #expect(count { $0.family = .ipv4 } == 1)
        #expect(count { $0.replyDestination = IPPrefix("203.0.113.1/32") } == 1, "the masqueraded address is the reply's destination")
        #expect(count { $0.replySource = IPPrefix("2001:db8:1::/64") } == 1)
        #expect(count { $0.origSourcePort = 40001 } == 1)
        #expect(count { $0.replySourcePort = 80 } == 1)
        #expect(count { $0.tcpState = .synSent } == 2)
        #expect(count { $0.tcpState = .established } == 0)
        #expect(count { $0.zone = 0 } == 2)
        #expect(count { $0.zone = 1 } == 0, "tunwall has zone 0 only")
    }
}

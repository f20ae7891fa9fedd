// A new connection's way through the engine (issue 17, item 4): parse, a
// stateful forward chain, the conntrack miss, masquerade's port choice (with
// a search when the source port is taken) and confirm, into a table that grew
// to hold them, then again into the grown table once the first ones expired.
//
// That this path allocates nothing is measured by `tunwall bench
// connections` with Scripts/malloc-count.c preloaded (Scripts/bench.sh), not
// here: the tests run a debug build, whose unoptimised code allocates where
// the release build does not (about 17 calls a connection, closure contexts
// and unspecialised generics), so a count here would measure the compiler.

import Conntrack
@testable import Engine
import Rules
import Testing
import Wire

@Suite struct NewConnectionPathTests {
    static let ruleset = """
        table inet filter {
            chain forward {
                type filter hook forward priority filter; policy drop;
                ct state established,related accept
                iifname "lan0" oifname "wan0" tcp dport 80 ct state new accept
            }
        }
        table ip nat {
            chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
        }
        """

    /// 6,000 new connections into an empty table (it grows), all expired and
    /// swept, then the same 6,000 again into the grown table.
    @Test func newConnectionsThroughAGrowingThenGrownTable() throws {
        let h = try Harness(conntrackCapacity: 8_192)
        h.engine.replaceRuleset(try Ruleset.parse(Self.ruleset, file: "new-connections.nft"))
        // Every 16th connection comes from another client with the port of the one before it.
        let syns: [[UInt8]] = (0..<6_000).map { i in
            let colliding = i % 16 == 15
            return Packet.tcp(colliding ? IPv4Address(10, 0, 1, 3) : client4, UInt16(10_000 + (colliding ? i - 1 : i)),
                              server4, 80, flags: .syn, sequenceNumber: SeqNumber(UInt32(i)),
                              options: [.maximumSegmentSize(1460), .sackPermitted, .windowScale(7)]).encoded()
        }
        var forwarded = 0
        func send(_ syns: ArraySlice<[UInt8]>) {
            for syn in syns {
                syn.withUnsafeBytes { _ = h.buffer.load($0) }
                h.now += 1_000
                if case .forward = h.engine.process(&h.buffer, from: h.lan, now: h.now) { forwarded += 1 }
            }
        }
        send(syns[...])
        #expect(forwarded == 6_000 && h.engine.conntrack.table.count == 6_000)
        h.advance(seconds: 121)
        while h.engine.conntrack.table.count > 0 { h.engine.tick(now: h.now) }

        let grown = h.engine.conntrack.table.allocatedEntries
        forwarded = 0
        send(syns[...])
        #expect(forwarded == 6_000 && h.engine.conntrack.table.count == 6_000)
        let translated = try #require(h.entry(ConnTuple(source: .v4(IPv4Address(10, 0, 1, 3)), destination: .v4(server4),
                                                        sourcePort: 10_014, destinationPort: 80, protocol: .tcp)))
        #expect(translated.reply.destinationPort != 10_014, "the colliding connection was given another port")
        #expect(h.engine.conntrack.table.allocatedEntries == grown, "the second pass reused the grown table")
    }
}

// The flow table grows with use (issue 17, item 3): entries come in chunks
// that never move, the index doubles on insert, and the capacity still bounds
// it all. Positions handed out before a growth must name the same entries
// after it (expectations, helper slots and sequence adjustments keep them).

@testable import Conntrack
import Testing
import Wire

@Suite struct FlowTableGrowthTests {
    /// Connection i: a UDP flow from 10.x.y.z (i's bits) to 203.0.113.10:53.
    static func tuple(_ i: Int) -> ConnTuple {
        ConnTuple(source: .v4(IPv4Address(10, UInt8(truncatingIfNeeded: i >> 16), UInt8(truncatingIfNeeded: i >> 8),
                                          UInt8(truncatingIfNeeded: i))),
                  destination: .v4(IPv4Address(203, 0, 113, 10)), sourcePort: 1024, destinationPort: 53, protocol: .udp)
    }

    static func entry(_ i: Int, assured: Bool = false) -> ConnEntry {
        var entry = ConnEntry(original: tuple(i), reply: tuple(i).inverted()!, expires: .max)
        if assured { entry.status.insert(.assured) }
        return entry
    }

    @Test func anEntryIs208Bytes() {
        // 208 an entry plus 32-64 of index and 4 of free list: under 256 a connection.
        #expect(MemoryLayout<ConnEntry>.stride <= 208)
    }

    @Test func anEmptyTableHoldsAlmostNothing() {
        let table = FlowTable(capacity: 1 << 20)
        #expect(table.allocatedEntries == 0)
        #expect(table.memoryBytes < 4096, "\(table.memoryBytes) bytes for an empty table of 1 M entries")
    }

    @Test func positionsStayAndLookupsFindEveryEntryAcrossGrowth() throws {
        var table = FlowTable(capacity: 20_000)
        var positions: [Int] = []
        var ids: [UInt32] = []
        var indexSizes: Set<Int> = []
        var chunkCounts: Set<Int> = []
        for i in 0..<10_000 {
            guard case .success(let position) = table.insert(Self.entry(i), now: 0) else {
                Issue.record("insert \(i) refused")
                return
            }
            table[position].mark = UInt32(i)
            positions.append(position)
            ids.append(table[position].id)
            if indexSizes.insert(table.indexSlots).inserted || chunkCounts.insert(table.allocatedEntries).inserted {
                // Just grown: every entry so far is still where it was and found by both tuples.
                for j in 0...i {
                    #expect(table[positions[j]].original == Self.tuple(j))
                    #expect(table.lookup(Self.tuple(j), now: 0)?.entry == positions[j])
                }
            }
        }
        #expect(indexSizes.count > 5, "the index doubled as entries came: \(indexSizes.sorted())")
        #expect(chunkCounts.count == 3, "chunks of 4,096 entries: \(chunkCounts.sorted())")
        for i in 0..<10_000 {
            let position = positions[i]
            #expect(table[position].mark == UInt32(i) && table[position].id == ids[i])
            #expect(table.lookup(Self.tuple(i), now: 0)?.entry == position)
            #expect(table.lookup(Self.tuple(i).inverted()!, now: 0)?.direction == .reply)
        }
        #expect(table.lookup(Self.tuple(10_000), now: 0) == nil)
        #expect(table.indexSlots >= 4 * table.count, "at most half the index in use")
    }

    @Test func freedPositionsAreReusedBeforeNewOnes() throws {
        var table = FlowTable(capacity: 100)
        for i in 0..<10 { _ = table.insert(Self.entry(i), now: 0) }
        table.remove(3)
        guard case .success(let position) = table.insert(Self.entry(50), now: 0) else { Issue.record("insert"); return }
        #expect(position == 3)
        #expect(table.issued == 10)
        #expect(table.freeList.capacity >= table.issued, "room to free every position without allocating")
    }

    @Test func capacityStillBoundsTheTable() throws {
        var table = FlowTable(capacity: 5_000)
        for i in 0..<5_000 {
            guard case .success = table.insert(Self.entry(i, assured: true), now: 0) else {
                Issue.record("insert \(i) refused below the capacity")
                return
            }
        }
        #expect(table.insert(Self.entry(5_000, assured: true), now: 0) == .failure(.full))
        #expect(table.count == 5_000 && table.issued == 5_000)
        #expect(table.allocatedEntries == 8_192, "two chunks of 4,096, no more")
        #expect(table.indexSlots == 32_768, "four slots an entry of the capacity, rounded up: no more than the old fixed index")
    }

    @Test func earlyDropStillWorksWhenFull() throws {
        var table = FlowTable(capacity: 5_000)
        for i in 0..<5_000 { _ = table.insert(Self.entry(i, assured: i != 40), now: 0) }
        guard case .success(let position) = table.insert(Self.entry(9_999), now: 0) else {
            Issue.record("a full table with one unassured entry refused a new connection")
            return
        }
        #expect(position == 40, "the unassured entry's position was taken over")
        #expect(table.lookup(Self.tuple(40), now: 0) == nil)
        #expect(table.evicted == 1 && table.count == 5_000)
    }

    @Test func sweepReachesEveryIssuedPosition() {
        var table = FlowTable(capacity: 50_000)
        for i in 0..<6_000 {
            var entry = Self.entry(i)
            entry.expires = 100
            _ = table.insert(entry, now: 0)
        }
        var rounds = 0
        while table.count > 0 && rounds < 100 {
            table.sweep(now: 100, budget: 1_024)
            rounds += 1
        }
        #expect(table.count == 0 && rounds <= 6)
    }

    @Test func memoryAccountingFollowsUse() {
        var table = FlowTable(capacity: 1 << 20)
        for i in 0..<100_000 { _ = table.insert(Self.entry(i), now: 0) }
        let perConnection = table.memoryBytes / table.count
        #expect(table.memoryBytes >= table.allocatedEntries * FlowTable.entryBytes + table.indexSlots * 8)
        #expect(table.allocatedEntries < 100_000 + 4_096)
        #expect(perConnection <= 256 + 32, "\(perConnection) bytes a connection at 100,000 (index just doubled)")
    }

    @Test func copiesDoNotShareChanges() throws {
        var table = FlowTable(capacity: 10)
        guard case .success(let position) = table.insert(Self.entry(1), now: 0) else { Issue.record("insert"); return }
        let copy = table
        table[position].mark = 7
        table.remove(position)
        #expect(copy[position].inUse && copy[position].mark == 0)
        var other = copy
        #expect(other.lookup(Self.tuple(1), now: 0)?.entry == position)
        #expect(table.lookup(Self.tuple(1), now: 0) == nil)
    }

    @Test func positionsNeverIssuedAreNotLive() {
        var conntrack = Conntrack(capacity: 10_000)
        var result = conntrack.track(TrackedPacket(tuple: Self.tuple(1), length: 60), now: 0)
        #expect(conntrack.confirm(&result, now: 0))
        #expect(conntrack.isLive(0, now: 1))
        #expect(!conntrack.isLive(1, now: 1) && !conntrack.isLive(5_000, now: 1) && !conntrack.isLive(-1, now: 1))
        #expect(!conntrack.table.isIssued(9_999))
    }
}

// `tunwall bench table [--connections N]`: the flow table alone at N
// connections (1,000,000 by default) in a table of the next power of two at
// least N (and at least 1,048,576) entries: bytes per connection, from the
// table's own accounting (FlowTable.memoryBytes, what `tunwall stats` prints)
// and from the process's resident memory (/proc/self/statm) before and after;
// ns per insert (a UDP packet tracked as new and confirmed, the path a new
// connection takes through conntrack) and per lookup of a live connection
// (in a scattered order, as packets of many connections arrive).

#if canImport(Glibc)
import Glibc
#endif
import Conntrack
import TunIO
import Wire

extension BenchCommand {
    static func table(connections count: Int) {
        var capacity = 1 << 20
        while capacity < count { capacity <<= 1 }
        // Connection i: a UDP flow from 10.x.y.z (i's bits) to 203.0.113.10:53, no tuple twice.
        func tuple(_ i: Int) -> ConnTuple {
            let client = IPv4Address(10, UInt8(truncatingIfNeeded: i >> 16), UInt8(truncatingIfNeeded: i >> 8),
                                     UInt8(truncatingIfNeeded: i))
            return ConnTuple(source: .v4(client), destination: .v4(IPv4Address(203, 0, 113, 10)),
                             sourcePort: UInt16(truncatingIfNeeded: 1024 + (i >> 24)), destinationPort: 53, protocol: .udp)
        }
        let now: Timestamp = 1_000_000_000
        let before = residentBytes()
        var conntrack = Conntrack(capacity: capacity)
        let empty = residentBytes()
        let emptyAccounted = conntrack.table.memoryBytes
        let counter = mallocCounter()
        let allocationsBefore = counter?() ?? 0
        let start = FirewallRunner.now()
        var inserted = 0
        // The inserts that double the index (rehashing every tuple) are the
        // slow ones: timed apart, when the next insert is known to double it.
        var doublings = 0
        var slowest: (nanoseconds: UInt64, slots: Int) = (0, 0)
        for i in 0..<count {
            let doubles = 4 * conntrack.table.count + 4 > conntrack.table.indexSlots
            let before = doubles ? FirewallRunner.now() : 0
            var result = conntrack.track(TrackedPacket(tuple: tuple(i), length: 64), now: now)
            if result.isPending && conntrack.confirm(&result, now: now) { inserted += 1 }
            if doubles {
                doublings += 1
                let took = FirewallRunner.now() - before
                if took > slowest.nanoseconds { slowest = (took, conntrack.table.indexSlots) }
            }
        }
        let insertTime = FirewallRunner.now() - start
        let allocations = (counter?() ?? 0) - allocationsBefore
        let full = residentBytes()
        // Lookups in a scattered order: i * an odd stride, modulo count.
        var stride = 2_654_435_761 % count | 1
        while gcd(stride, count) != 1 { stride += 2 }
        let lookupStart = FirewallRunner.now()
        var found = 0
        var i = 0
        for _ in 0..<count {
            if conntrack.table.lookup(tuple(i), now: now) != nil { found += 1 }
            i = (i + stride) % count
        }
        let lookupTime = FirewallRunner.now() - lookupStart
        let accounted = conntrack.table.memoryBytes
        print("flow table: \(count) UDP connections inserted (tracked as new, then confirmed) into a table of \(capacity)")
        print("  inserted:            \(inserted), found again: \(found), in the table: \(conntrack.table.count)")
        print("  idle (empty table):  \(kibibytes(emptyAccounted)) by the table's accounting, resident +\(kibibytes(empty - before))")
        print("  table memory:        \(kibibytes(accounted)) (\(format(Double(accounted) / Double(max(1, conntrack.table.count)))) bytes per connection; \(FlowTable.entryBytes) an entry)")
        print("  resident growth:     \(kibibytes(full - before)) (\(format(Double(full - before) / Double(max(1, conntrack.table.count)))) bytes per connection, /proc/self/statm)")
        print("  ns per insert:       \(format(Double(insertTime) / Double(count)))")
        print("  ns per lookup:       \(format(Double(lookupTime) / Double(count)))")
        print("  index doublings:     \(doublings), the slowest insert \(format(Double(slowest.nanoseconds) / 1e6)) ms (rehash into \(slowest.slots) slots)")
        if counter != nil {
            print("  allocations/insert:  \(format(Double(allocations) / Double(count))) (\(allocations) in total: the table's growth)")
        }
    }

    /// Resident memory of this process, from the second field of /proc/self/statm (pages).
    static func residentBytes() -> Int {
        guard let file = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(file) }
        var text = [UInt8](repeating: 0, count: 128)
        let read = fread(&text, 1, text.count, file)
        let fields = text[0..<read].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * sysconf(Int32(_SC_PAGESIZE))
    }

    static func kibibytes(_ bytes: Int) -> String { "\(bytes / 1024) KiB" }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}

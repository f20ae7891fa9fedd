// What the flow table costs in memory, for `tunwall stats` and `tunwall bench
// table`: the chunks of entries made so far (EntryChunks.swift: the table
// grows with use, as Linux's nf_conn slab does), the index (doubling with
// the entries, up to four slots per entry of the capacity), the free list,
// and the sequence adjustments of the few connections a helper rewrote.

extension FlowTable {
    /// Bytes the table holds: entry chunks, index, free list, and the
    /// sequence adjustments of connections a helper rewrote.
    public var memoryBytes: Int {
        var bytes = entries.memoryBytes
        bytes += index.capacity * MemoryLayout<UInt64>.stride
        bytes += freeList.capacity * MemoryLayout<Int32>.stride
        for (_, list) in adjustments {
            bytes += MemoryLayout<Int32>.stride + list.capacity * MemoryLayout<SequenceAdjustment>.stride
        }
        return bytes
    }

    /// Entries allocated so far (whole chunks; at most `capacity` rounded up to a chunk).
    public var allocatedEntries: Int { entries.allocated }

    /// Slots of the index now.
    public var indexSlots: Int { index.count }

    /// The size of one entry, for the arithmetic in `tunwall stats`.
    public static var entryBytes: Int { MemoryLayout<ConnEntry>.stride }
}

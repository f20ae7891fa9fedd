// What the flow table costs in memory, for `tunwall stats`: the entries are
// allocated whole at start (capacity × entry size, as Linux sizes
// nf_conntrack_max up front only in its hash buckets), the index is twice the
// next power of two of the capacity, and the rest grows with use.

extension FlowTable {
    /// Bytes the table holds: entries, index, free list, and the sequence
    /// adjustments of connections a helper rewrote.
    public var memoryBytes: Int {
        var bytes = entries.capacity * MemoryLayout<ConnEntry>.stride
        bytes += index.capacity * MemoryLayout<UInt64>.stride
        bytes += freeList.capacity * MemoryLayout<Int32>.stride
        for (_, list) in adjustments {
            bytes += MemoryLayout<Int32>.stride + list.capacity * MemoryLayout<SequenceAdjustment>.stride
        }
        return bytes
    }

    /// The size of one entry, for the arithmetic in `tunwall stats`.
    public static var entryBytes: Int { MemoryLayout<ConnEntry>.stride }
}

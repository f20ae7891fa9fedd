// The flow table's entries, in fixed-size chunks allocated as the table
// fills and never moved: a position (the Int the rest of the engine keeps for
// a connection: an expectation's master, a helper's slot, a sequence
// adjustment) names the same entry for the table's whole life, and growing
// copies nothing.
//
// What Linux does: each nf_conn comes from a slab cache (nf_conntrack_cachep)
// when the connection is created, and the slab grows by whole pages, so
// memory follows the number of connections, not nf_conntrack_max. A chunk is
// our slab page: 4,096 entries (about 830 KB) at a time, or one chunk of the
// table's own size for a table smaller than that, taken on insert when every
// position handed out so far is in use. Chunks are kept once made (a slab
// keeps its pages while any object in them lives; we do not shrink at all).
//
// Position p is entry p & mask of chunk p >> shift: two loads, no search.
// Reads and writes go through addressors, as Array's subscript does, so a
// field is read in place without copying the entry. Copies of the table share
// the chunks until one of them writes (copy on write, as for Array).

struct EntryChunks: @unchecked Sendable {
    /// log2 of the entries in a chunk. A constant, so that finding an entry
    /// is a shift and a mask by immediates (it is done several times a packet).
    static let shift = 12
    static let mask = 4_095   // (1 << shift) - 1, written out so that it is a constant

    private var storage: Storage
    /// `storage.chunks`, kept here so that an access does not go through the object.
    private var chunks: UnsafeMutablePointer<UnsafeMutablePointer<ConnEntry>>
    /// Positions that exist (every chunk is initialised whole): chunks × entries per chunk.
    private(set) var allocated = 0

    /// Room for `capacity` entries, none allocated yet. A table smaller than
    /// a chunk gets one chunk of its own size (positions below the capacity
    /// are then offsets into chunk 0).
    init(capacity: Int) {
        let capacity = max(1, capacity)
        storage = Storage(maximumChunks: (capacity + Self.mask) >> Self.shift, entriesPerChunk: min(capacity, 1 << Self.shift))
        chunks = storage.chunks
    }

    var entriesPerChunk: Int { storage.entriesPerChunk }
    /// Chunks this table may have at most.
    var maximumChunks: Int { storage.maximumChunks }

    @inline(__always)
    private func location(_ position: Int) -> UnsafeMutablePointer<ConnEntry> {
        // A position the table never handed out is a bug in the caller, as an
        // index past an Array's end is: stop rather than read another object.
        precondition(UInt(bitPattern: position) < UInt(bitPattern: allocated), "flow table position out of range")
        return chunks[position &>> Self.shift] + (position & Self.mask)
    }

    /// Where the entry at `position` is, for reading.
    @inline(__always)
    func address(_ position: Int) -> UnsafePointer<ConnEntry> { UnsafePointer(location(position)) }

    /// Where the entry at `position` is, for writing (after copying chunks shared with another table).
    @inline(__always)
    mutating func mutableAddress(_ position: Int) -> UnsafeMutablePointer<ConnEntry> {
        if !isKnownUniquelyReferenced(&storage) { copyStorage() }
        return location(position)
    }

    subscript(position: Int) -> ConnEntry {
        @inline(__always) unsafeAddress { address(position) }
        @inline(__always) unsafeMutableAddress { mutableAddress(position) }
    }

    /// Adds one chunk of free entries; false when the table has all it may have.
    mutating func addChunk() -> Bool {
        if !isKnownUniquelyReferenced(&storage) { copyStorage() }
        guard storage.addChunk() else { return false }
        allocated = storage.chunkCount * storage.entriesPerChunk
        return true
    }

    /// Bytes the chunks hold, and the table of their addresses.
    var memoryBytes: Int {
        allocated * MemoryLayout<ConnEntry>.stride + storage.maximumChunks * MemoryLayout<UnsafeMutablePointer<ConnEntry>>.stride
    }

    private mutating func copyStorage() {
        storage = storage.copy()
        chunks = storage.chunks
    }

    /// Owns the chunks (frees them with the last table that uses them).
    private final class Storage {
        let maximumChunks: Int
        let entriesPerChunk: Int
        let chunks: UnsafeMutablePointer<UnsafeMutablePointer<ConnEntry>>
        var chunkCount = 0

        init(maximumChunks: Int, entriesPerChunk: Int) {
            self.maximumChunks = maximumChunks
            self.entriesPerChunk = entriesPerChunk
            chunks = .allocate(capacity: maximumChunks)
        }

        func addChunk() -> Bool {
            guard chunkCount < maximumChunks else { return false }
            let chunk = UnsafeMutablePointer<ConnEntry>.allocate(capacity: entriesPerChunk)
            chunk.initialize(repeating: ConnEntry.free, count: entriesPerChunk)
            (chunks + chunkCount).initialize(to: chunk)
            chunkCount += 1
            return true
        }

        func copy() -> Storage {
            let copy = Storage(maximumChunks: maximumChunks, entriesPerChunk: entriesPerChunk)
            for index in 0..<chunkCount {
                let chunk = UnsafeMutablePointer<ConnEntry>.allocate(capacity: entriesPerChunk)
                chunk.initialize(from: chunks[index], count: entriesPerChunk)
                (copy.chunks + index).initialize(to: chunk)
            }
            copy.chunkCount = chunkCount
            return copy
        }

        deinit {
            for index in 0..<chunkCount {
                chunks[index].deinitialize(count: entriesPerChunk)
                chunks[index].deallocate()
            }
            chunks.deinitialize(count: chunkCount)
            chunks.deallocate()
        }
    }
}

extension ConnEntry {
    /// What a position holds before its first connection: not in use.
    static let free: ConnEntry = {
        let none = ConnTuple(source: .any, destination: .any, sourcePort: 0, destinationPort: 0, protocol: .tcp, family: .ipv4)
        return ConnEntry(original: none, reply: none)
    }()
}

// One direction of an FTP control connection, read as the byte stream TCP
// delivers rather than as packets (where Linux's helper reads only the start
// of segments it expects; docs/REFERENCE.md).
//
// - In order only: bytes are read once, at `next`, the first byte not yet
//   seen. A retransmission of bytes already read is not read again, but the
//   lines that were rewritten are rewritten the same way in it, every time
//   (`records`). A segment beyond `next` (out of order) is dropped: TCP sends
//   it again once the gap is filled, and then it is read in order.
// - Lines: only bytes at the start of a line of the stream can be a command,
//   whatever the segment boundaries (a segment that starts with "PORT" in
//   the middle of a line, as NAT Slipstreaming arranges, is just text). A line
//   ends at LF; a CR before it is dropped; a line may span any number of
//   segments, and a segment may hold any number of lines.
// - Holding: when a line that may have to be rewritten (`mayHold`) is still
//   unfinished at the end of a segment, its bytes are held back instead of
//   forwarded; when the rest arrives, one segment carries the whole line,
//   rewritten if need be. Held bytes are bounded (policy.holdBytes) and so is
//   the time they wait (policy.holdMilliseconds): then they go out unchanged.
//   A line longer than holdBytes is not read as a command at all.
// - TLS: once the control channel is encrypted (AUTH TLS answered by 234),
//   bytes pass unread, record by record (RFC 8446 §5.1 header: type 20-24,
//   version 3.x, 16-bit length), until a byte where a record should start is
//   not one: that is clear text again (after CCC, RFC 4217 §6).

import Conntrack
import Wire

/// A line that left the firewall other than as its sender wrote it: rewritten,
/// or put together from held segments. Retransmissions are made to match it.
struct LineRecord: Sendable {
    var start: SeqNumber
    /// The line's length as its sender wrote it (≤ hold_bytes).
    var originalLength: Int32
    var emitted: [UInt8]
    var end: SeqNumber { start + originalLength }
}

/// What the stream decided for one segment's payload.
enum StreamOutput: Equatable {
    /// Forward the segment as it is.
    case unchanged
    /// Forward it with this payload, starting at this (sender's) sequence number.
    case replaced(start: SeqNumber, payload: [UInt8])
    /// Send nothing now (the bytes are held, or already held).
    case held
    /// Drop it (ahead of the stream: TCP will send it again).
    case outOfOrder
}

/// A complete line handed to the session: its bytes without the line end, and
/// whether the session may change them (false when some of its bytes already
/// left the firewall unchanged).
struct StreamLine {
    var text: ArraySlice<UInt8>
    var canRewrite: Bool
    /// Where the line starts in the sender's numbering.
    var start: SeqNumber = SeqNumber(0)
}

/// What the session makes of a line.
struct LineDecision {
    /// The line's text to send instead (nil: as it is).
    var replacement: [UInt8]? = nil
    /// The bytes after this line are TLS records (the reply 234 to AUTH).
    var encryptedAfter = false
}

struct ControlStream: Sendable {
    var synchronized = false
    /// The first byte not yet read (the sender's numbering).
    var next = SeqNumber(0)
    /// The current line: its bytes so far while it began at a known line
    /// start (`tracked`), from `lineStart`.
    var line: [UInt8] = []
    var lineStart = SeqNumber(0)
    var tracked = false
    /// How many of `line`'s bytes already left unchanged (0 while held).
    var forwarded = 0
    /// `line`'s bytes are held back, since `heldSince`.
    var held = false
    var heldSince: Timestamp = 0
    var records: [LineRecord] = []
    static let recordCapacity = 8
    static let keptLineCapacity = 128
    /// Length changes made since the session last took them: (line start, bytes longer).
    var adjustments: [(SeqNumber, Int32)] = []

    // TLS record walking (nil while the channel is clear text).
    var tls: TLSWalk? = nil
    /// Set when the walk found clear text again, until the session notes it.
    var backToClearText = false

    struct TLSWalk: Sendable {
        /// Bytes left in the current record's body.
        var remaining = 0
        /// A record header read so far (it may span segments).
        var header: [UInt8] = []
    }

    /// The SYN (or SYN-ACK) fixes where the stream starts: at a line start.
    /// Only the first does: a SYN or SYN-ACK on a connection whose stream is
    /// being read (a forgery, or a late duplicate) carries no payload and
    /// moves nothing, as Linux's helper reads only segments with payload and
    /// conntrack ignores a SYN on an established connection.
    mutating func synchronize(initialSequence: SeqNumber) {
        guard !synchronized else { return }
        synchronized = true
        next = initialSequence + 1
        startLine(at: next)
    }

    private mutating func startLine(at position: SeqNumber) {
        // A command line is short; the storage of a long one (up to
        // hold_bytes) is given back rather than kept for the connection's life.
        line.removeAll(keepingCapacity: line.capacity <= Self.keptLineCapacity)
        lineStart = position
        tracked = true
        forwarded = 0
        held = false
    }

    /// Reads one segment's payload. `handle` is called for each complete line
    /// that began at a line start and returns the bytes to send instead (nil:
    /// unchanged); `mayHold(lineSoFar)` says whether an unfinished line is
    /// worth holding; `fin` means no more bytes follow (nothing is held then).
    mutating func process(sequence: SeqNumber, payload: UnsafeRawBufferPointer, fin: Bool, now: Timestamp,
                          holdLimit: Int, mayHold: (ArraySlice<UInt8>) -> Bool,
                          handle: (StreamLine) -> LineDecision) -> StreamOutput {
        let count = payload.count
        guard count > 0 else { return .unchanged }
        if !synchronized {
            // Picked up in the middle: read from here, but nothing counts as a
            // line start until the first line end.
            synchronized = true
            next = sequence
            tracked = false
            line.removeAll()
        }
        let end = sequence + Int32(count)
        if sequence > next { return .outOfOrder }
        // Old bytes: [sequence, old end); new bytes: [next, end).
        let heldFrom = held ? lineStart : next
        var output: [UInt8] = []
        var outputStart = sequence
        var changed = false
        if sequence < heldFrom {
            let oldEnd = end < heldFrom ? end : heldFrom
            let old = UnsafeRawBufferPointer(rebasing: payload[0..<Int(oldEnd - sequence)])
            if let (start, bytes) = replay(sequence: sequence, bytes: old) {
                outputStart = start
                output = bytes
                changed = true
            } else {
                output = Array(old)
            }
        }
        if end <= next {
            // Nothing new. Bytes of a held line: they wait with it.
            if sequence >= heldFrom { return .held }
            if end > heldFrom || changed { return .replaced(start: outputStart, payload: output) }
            return .unchanged
        }
        if output.isEmpty { outputStart = heldFrom }
        let fresh = UnsafeRawBufferPointer(rebasing: payload[Int(next - sequence)..<count])
        let freshChanged = read(fresh, into: &output, fin: fin, now: now, holdLimit: holdLimit,
                                mayHold: mayHold, handle: handle)
        next = end
        if output.isEmpty { return .held }
        if !changed && !freshChanged && outputStart == sequence && output.count == count { return .unchanged }
        return .replaced(start: outputStart, payload: output)
    }

    /// Reads new bytes (which start at `next`) line by line into `output`.
    /// Returns true if the bytes put out differ from the ones read.
    private mutating func read(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8], fin: Bool, now: Timestamp,
                               holdLimit: Int, mayHold: (ArraySlice<UInt8>) -> Bool,
                               handle: (StreamLine) -> LineDecision) -> Bool {
        var changed = held
        var position = 0
        var cursor = next
        while position < bytes.count {
            if tls != nil {
                let used = walkTLS(UnsafeRawBufferPointer(rebasing: bytes[position...]))
                output.append(contentsOf: bytes[position..<position + used])
                position += used
                cursor = cursor + Int32(used)
                if tls == nil {
                    startLine(at: cursor)
                    backToClearText = true
                }
                continue
            }
            let newline = bytes[position...].firstIndex(of: 0x0a)
            let chunkEnd = newline.map { $0 + 1 } ?? bytes.count
            let chunk = bytes[position..<chunkEnd]
            cursor = cursor + Int32(chunk.count)
            position = chunkEnd
            if tracked && line.count + chunk.count > holdLimit {
                // Too long to be a command: let it all go, unread.
                if held { output.append(contentsOf: line) }
                tracked = false
                held = false
                line.removeAll()
            }
            if !tracked {
                output.append(contentsOf: chunk)
                if newline != nil { startLine(at: cursor) }
                continue
            }
            let chunkStartInLine = line.count
            line.append(contentsOf: chunk)
            if newline != nil {
                var text = line[0..<(line.count - 1)]
                if text.last == 0x0d { text = text.dropLast() }
                let whole = forwarded == 0
                let decision = handle(StreamLine(text: text, canRewrite: whole, start: lineStart))
                if whole, let replacement = decision.replacement {
                    var emitted = Array(replacement)
                    emitted += line[text.endIndex...]
                    output += emitted
                    remember(LineRecord(start: lineStart, originalLength: Int32(truncatingIfNeeded: line.count), emitted: emitted))
                    changed = true
                } else if whole && held {
                    output += line
                    remember(LineRecord(start: lineStart, originalLength: Int32(truncatingIfNeeded: line.count), emitted: line))
                } else {
                    output.append(contentsOf: line[chunkStartInLine...])
                }
                startLine(at: cursor)
                if decision.encryptedAfter { startTLS() }
            } else if forwarded == 0 && !fin && mayHold(line[...]) {
                if !held {
                    held = true
                    heldSince = now
                }
                changed = true
            } else {
                if held {
                    // No longer worth holding (or the sender is finishing): out it goes.
                    output += line[..<chunkStartInLine]
                    held = false
                }
                output.append(contentsOf: chunk)
                forwarded = line.count
            }
        }
        return changed
    }

    /// The output for bytes already read: rewritten lines they touch are put
    /// out whole, as they were the first time. nil if none is touched.
    private func replay(sequence: SeqNumber, bytes: UnsafeRawBufferPointer) -> (SeqNumber, [UInt8])? {
        let end = sequence + Int32(bytes.count)
        let touched = records.filter { $0.start < end && $0.end > sequence }.sorted { $0.start < $1.start }
        guard !touched.isEmpty else { return nil }
        let start = touched[0].start < sequence ? touched[0].start : sequence
        var output: [UInt8] = []
        var cursor = start
        for record in touched {
            if cursor < record.start {
                let from = Int(cursor - sequence), to = Int(record.start - sequence)
                output.append(contentsOf: bytes[from..<to])
            }
            output += record.emitted
            cursor = record.end
        }
        if cursor < end { output.append(contentsOf: bytes[Int(cursor - sequence)...]) }
        return (start, output)
    }

    /// The receiver has every byte before `acknowledged`: a retransmission of
    /// a line that ends there can only reach it as a duplicate it drops, so
    /// the record kept to rewrite one is freed (with its storage, once none is left).
    mutating func acknowledged(_ acknowledged: SeqNumber) {
        guard !records.isEmpty, records.contains(where: { $0.end <= acknowledged }) else { return }
        records.removeAll { $0.end <= acknowledged }
        if records.isEmpty { records = [] }
    }

    /// Bytes of storage the stream holds beyond its own size.
    var storageBytes: Int {
        var bytes = line.capacity
        bytes += tls?.header.capacity ?? 0
        bytes += records.capacity * MemoryLayout<LineRecord>.stride
        for record in records { bytes += record.emitted.capacity }
        bytes += adjustments.capacity * MemoryLayout<(SeqNumber, Int32)>.stride
        return bytes
    }

    private mutating func remember(_ record: LineRecord) {
        let delta = Int32(truncatingIfNeeded: record.emitted.count) - record.originalLength
        if delta != 0 {
            adjustments.append((record.start, delta))
        }
        records.removeAll { $0.start == record.start }
        records.append(record)
        if records.count > Self.recordCapacity { records.removeFirst() }
    }

    /// Releases held bytes unchanged (time is up, or the connection ends):
    /// returns them and where they start. The line is then read but never
    /// rewritten.
    mutating func release() -> (start: SeqNumber, bytes: [UInt8])? {
        guard held else { return nil }
        held = false
        forwarded = line.count
        return (lineStart, line)
    }

    /// Starts walking TLS records from `next` (the control channel is encrypted from here on).
    mutating func startTLS() {
        tls = TLSWalk()
        tracked = false
        held = false
        line.removeAll()
    }

    /// Walks TLS records over `bytes`; returns how many bytes belong to
    /// records. Fewer than all means clear text starts there (`tls` is then nil).
    private mutating func walkTLS(_ bytes: UnsafeRawBufferPointer) -> Int {
        var used = 0
        while used < bytes.count, var walk = tls {
            if walk.remaining > 0 {
                let take = min(walk.remaining, bytes.count - used)
                walk.remaining -= take
                used += take
            } else {
                let byte = bytes[used]
                let at = walk.header.count
                let fits = at == 0 ? (20...24).contains(byte) : at == 1 ? byte == 3 : true
                guard fits else {
                    // Not a record: clear text (the bytes of a partial header, if
                    // any, went out as TLS; a peer never splits a header so).
                    tls = nil
                    return used
                }
                walk.header.append(byte)
                used += 1
                if walk.header.count == 5 {
                    walk.remaining = Int(walk.header[3]) << 8 | Int(walk.header[4])
                    walk.header.removeAll(keepingCapacity: true)
                }
            }
            tls = walk
        }
        return used
    }
}

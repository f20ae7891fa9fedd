// Sequence adjustment (Linux nf_conntrack_seqadj.c, generalised): when a
// helper rewrites a TCP payload to a different length (an FTP "PORT" line
// whose address grows from 10,0,1,2 to 203,0,113,1), every later sequence
// number in that direction moves by the difference, and the other side's
// acknowledgments (and SACK blocks) must be moved back before they reach the
// sender, who never saw the change.
//
// Linux keeps one correction point per direction (offset before and after
// it), so a second rewrite before the first is acknowledged loses track of
// retransmissions from before the first. Click keeps a list and libalias a
// ring of three; this keeps a sorted list of up to `capacity` points, each
// with the total shift of everything after it.
//
// Example: a rewrite of the segment at seq 1000 grows it by 2, another at
// 2000 by 3. A segment at 1000 (the rewritten one, or its retransmission)
// keeps seq 1000; one at 1500 goes out as 1502; one at 2500 as 2505. An ack
// of 2508 from the peer (it covers up to 2503 as the sender counts) comes
// back as 2503.

import Wire

public struct SequenceAdjustment: Sendable, Hashable {
    /// Correction points this keeps per direction; when full, the oldest two
    /// are merged (a retransmission from before them is then shifted as if it
    /// came after the first, as Linux's single point does).
    public static let capacity = 8

    /// Sequence numbers where a rewritten segment starts, ascending (modulo 2^32).
    public private(set) var positions: [SeqNumber] = []
    /// offsets[i]: the total shift of sequence numbers after positions[i].
    public private(set) var offsets: [Int32] = []

    public init() {}

    public var isEmpty: Bool { positions.isEmpty }

    /// Records that the segment starting at `position` was rewritten to be
    /// `delta` bytes longer (negative: shorter). A retransmission rewritten the
    /// same way records nothing new. Returns false if nothing changed.
    @discardableResult
    public mutating func record(at position: SeqNumber, delta: Int32) -> Bool {
        guard delta != 0 else { return false }
        if positions.contains(position) { return false }
        var index = positions.count
        while index > 0 && position < positions[index - 1] { index -= 1 }
        let before = index > 0 ? offsets[index - 1] : 0
        positions.insert(position, at: index)
        offsets.insert(before &+ delta, at: index)
        for later in (index + 1)..<offsets.count { offsets[later] = offsets[later] &+ delta }
        if positions.count > Self.capacity {
            positions.remove(at: 0)
            offsets.remove(at: 0)
        }
        return true
    }

    /// How far a segment starting at `sequence` (as its sender numbered it)
    /// moves: the shift of the last correction strictly before it.
    public func offset(forSequence sequence: SeqNumber) -> Int32 {
        var index = positions.count - 1
        while index >= 0 {
            if sequence > positions[index] { return offsets[index] }
            index -= 1
        }
        return 0
    }

    /// How far back an acknowledgment (or SACK edge) from the other side
    /// moves: `ack` counts in the shifted space, so the correction that applies
    /// is the last one whose point lies before `ack` once that correction's own
    /// predecessors are taken off (Linux: after(ack - offset_before, pos)).
    public func offset(forAcknowledgment ack: SeqNumber) -> Int32 {
        var index = positions.count - 1
        while index >= 0 {
            let before = index > 0 ? offsets[index - 1] : 0
            if ack - before > positions[index] { return offsets[index] }
            index -= 1
        }
        return 0
    }

    /// `sequence` as it goes out.
    public func adjusted(sequence: SeqNumber) -> SeqNumber { sequence + offset(forSequence: sequence) }

    /// An acknowledgment of the other side, as the original sender counts.
    public func unadjusted(acknowledgment ack: SeqNumber) -> SeqNumber { ack - offset(forAcknowledgment: ack) }
}

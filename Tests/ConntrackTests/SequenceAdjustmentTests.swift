// Sequence adjustment with crafted segments: several corrections, a
// retransmission before, at and after each, acks and SACK edges mapped back,
// shrinking rewrites, and wrap-around of the sequence space.

@testable import Conntrack
import Testing
import Wire

@Suite struct SequenceAdjustmentTests {
    @Test func severalCorrectionsAndRetransmissions() {
        var adjust = SequenceAdjustment()
        #expect(adjust.adjusted(sequence: SeqNumber(500)) == SeqNumber(500))
        let first = adjust.record(at: SeqNumber(1000), delta: 2)
        let second = adjust.record(at: SeqNumber(2000), delta: 3)
        #expect(first && second)
        // The rewritten segments themselves keep their numbers...
        #expect(adjust.adjusted(sequence: SeqNumber(1000)) == SeqNumber(1000))
        #expect(adjust.adjusted(sequence: SeqNumber(2000)) == SeqNumber(2002))
        // ...everything after moves, before stays.
        #expect(adjust.adjusted(sequence: SeqNumber(999)) == SeqNumber(999))
        #expect(adjust.adjusted(sequence: SeqNumber(1500)) == SeqNumber(1502))
        #expect(adjust.adjusted(sequence: SeqNumber(2500)) == SeqNumber(2505))
        // A retransmission of the first rewritten segment, after the second
        // rewrite (what Linux's single point gets wrong), records nothing new
        // and still keeps its number.
        let again = adjust.record(at: SeqNumber(1000), delta: 2)
        #expect(!again)
        #expect(adjust.adjusted(sequence: SeqNumber(1000)) == SeqNumber(1000))
        #expect(adjust.offsets == [2, 5])
    }

    @Test func acknowledgmentsAndSACKEdgesMapBack() {
        var adjust = SequenceAdjustment()
        adjust.record(at: SeqNumber(1000), delta: 2)   // segment [1000, 1020) became 22 bytes
        adjust.record(at: SeqNumber(2000), delta: 3)   // segment [2000, 2030) became 33 bytes
        // Acks of data before the first rewrite are untouched.
        #expect(adjust.unadjusted(acknowledgment: SeqNumber(1000)) == SeqNumber(1000))
        // The ack that covers the first rewritten segment (sent 1000..1022).
        #expect(adjust.unadjusted(acknowledgment: SeqNumber(1022)) == SeqNumber(1020))
        // Between the rewrites, and covering the second (sent 2002..2035).
        #expect(adjust.unadjusted(acknowledgment: SeqNumber(1502)) == SeqNumber(1500))
        #expect(adjust.unadjusted(acknowledgment: SeqNumber(2002)) == SeqNumber(2000))
        #expect(adjust.unadjusted(acknowledgment: SeqNumber(2035)) == SeqNumber(2030))
        #expect(adjust.unadjusted(acknowledgment: SeqNumber(2508)) == SeqNumber(2503))
        // Every sequence number maps back to itself through the ack mapping.
        for s in stride(from: 900, to: 2600, by: 7) where !(1000...1020).contains(s) && !(2000...2030).contains(s) {
            let sent = adjust.adjusted(sequence: SeqNumber(UInt32(s)))
            #expect(adjust.unadjusted(acknowledgment: sent) == SeqNumber(UInt32(s)), "seq \(s)")
        }
    }

    @Test func shrinkingRewritesAndOutOfOrderRecords() {
        var adjust = SequenceAdjustment()
        adjust.record(at: SeqNumber(3000), delta: -4)
        adjust.record(at: SeqNumber(1000), delta: 2)   // recorded late (a retransmitted earlier segment rewritten first now)
        #expect(adjust.positions == [SeqNumber(1000), SeqNumber(3000)])
        #expect(adjust.offsets == [2, -2])
        #expect(adjust.adjusted(sequence: SeqNumber(2000)) == SeqNumber(2002))
        #expect(adjust.adjusted(sequence: SeqNumber(4000)) == SeqNumber(3998))
        #expect(adjust.unadjusted(acknowledgment: SeqNumber(3998)) == SeqNumber(4000))
    }

    @Test func wrapsAroundTheSequenceSpace() {
        var adjust = SequenceAdjustment()
        adjust.record(at: SeqNumber(0xffff_fff0), delta: 10)
        #expect(adjust.adjusted(sequence: SeqNumber(5)) == SeqNumber(15))
        #expect(adjust.unadjusted(acknowledgment: SeqNumber(15)) == SeqNumber(5))
        #expect(adjust.adjusted(sequence: SeqNumber(0xffff_ffe0)) == SeqNumber(0xffff_ffe0))
    }

    @Test func boundedHistory() {
        var adjust = SequenceAdjustment()
        for i in 0..<20 { adjust.record(at: SeqNumber(UInt32(1000 * (i + 1))), delta: 1) }
        #expect(adjust.positions.count == SequenceAdjustment.capacity)
        #expect(adjust.adjusted(sequence: SeqNumber(30_000)) == SeqNumber(30_020), "the total shift is never lost")
    }
}

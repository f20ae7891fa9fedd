// Applying sequence adjustment to a TCP segment on its way out (Linux:
// nf_ct_seq_adjust, run at confirm for connections with IPS_SEQ_ADJUST): the
// segment's own sequence number moves by its direction's history, its
// acknowledgment and SACK edges move back by the other direction's, and the
// TCP checksum follows (RFC 1624; nothing to patch when the checksum is
// partial, since the device sums these fields itself).

import Conntrack
import Wire

extension Engine {
    func adjustSequence(_ packet: inout PacketBuffer, _ parsed: ParsedPacket, entry position: Int, direction: Direction) {
        guard parsed.l4Protocol == .tcp, !parsed.isFragment,
              conntrack.table.status(position).contains(.sequenceAdjusted),
              let segment = try? TCPSegment(validating: packet.bytes.suffix(from: parsed.l4Offset)) else { return }
        let own = conntrack.table.adjustment(position, direction)
        let other = conntrack.table.adjustment(position, direction.opposite)
        let partial = packet.virtio.needsChecksum
        var checksum = segment.checksum
        let seq = segment.sequenceNumber
        let newSeq = own.adjusted(sequence: seq)
        if newSeq != seq {
            segment.sequenceNumber = newSeq
            checksum = Checksum.update(checksum, old: seq.rawValue, new: newSeq.rawValue)
        }
        if segment.flags.contains(.ack) {
            let ack = segment.acknowledgmentNumber
            let newAck = other.unadjusted(acknowledgment: ack)
            if newAck != ack {
                segment.acknowledgmentNumber = newAck
                checksum = Checksum.update(checksum, old: ack.rawValue, new: newAck.rawValue)
            }
            for index in 0..<segment.sackBlockCount {
                guard let block = segment.sackBlock(at: index) else { continue }
                let moved = TCPSACKBlock(left: other.unadjusted(acknowledgment: block.left),
                                         right: other.unadjusted(acknowledgment: block.right))
                guard moved != block else { continue }
                segment.setSACKBlock(moved, at: index)
                checksum = Checksum.update(checksum, old: block.left.rawValue, new: moved.left.rawValue)
                checksum = Checksum.update(checksum, old: block.right.rawValue, new: moved.right.rawValue)
            }
        }
        if !partial { segment.checksum = checksum }
    }
}

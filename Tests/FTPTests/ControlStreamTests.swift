// The control stream alone: lines over any segment boundaries, only line
// starts read as commands, held lines, records for retransmissions, TLS
// records walked until clear text comes back.

@testable import FTP
import Testing
import Wire

@Suite struct ControlStreamTests {
    /// Feeds `segments` in order from sequence 1; returns the lines read and what went out.
    func feed(_ segments: [String], hold: Bool = false, rewrite: [String: String] = [:])
        -> (lines: [String], outputs: [StreamOutput]) {
        var stream = ControlStream()
        stream.synchronize(initialSequence: SeqNumber(0))
        var lines: [String] = []
        var outputs: [StreamOutput] = []
        var seq: UInt32 = 1
        for segment in segments {
            let bytes = Array(segment.utf8)
            let output = bytes.withUnsafeBytes { raw in
                stream.process(sequence: SeqNumber(seq), payload: raw, fin: false, now: 0, holdLimit: 512,
                               mayHold: { hold && FTPLine.couldStart($0, "PORT") },
                               handle: { line in
                                   let text = String(decoding: line.text, as: UTF8.self)
                                   lines.append(text)
                                   return LineDecision(replacement: rewrite[text].map { Array($0.utf8) })
                               })
            }
            outputs.append(output)
            seq += UInt32(bytes.count)
        }
        return (lines, outputs)
    }

    @Test func linesOverAnyBoundaries() {
        let text = "USER anonymous\r\nPASS x\r\nPORT 1,2,3,4,5,6\nQUIT\r\n"
        for cut1 in 0...text.utf8.count {
            for cut2 in cut1...text.utf8.count {
                let bytes = Array(text.utf8)
                let parts = [bytes[..<cut1], bytes[cut1..<cut2], bytes[cut2...]].map { String(decoding: $0, as: UTF8.self) }
                    .filter { !$0.isEmpty }
                #expect(feed(parts).lines == ["USER anonymous", "PASS x", "PORT 1,2,3,4,5,6", "QUIT"], "\(parts)")
            }
        }
    }

    @Test func heldLineComesOutWholeAndRewritten() {
        let (lines, outputs) = feed(["PO", "RT 1,2,3,4,5,6\r", "\nNOOP\r\n"], hold: true,
                                    rewrite: ["PORT 1,2,3,4,5,6": "PORT 9,9,9,9,5,6"])
        #expect(lines == ["PORT 1,2,3,4,5,6", "NOOP"])
        #expect(outputs[0] == .held && outputs[1] == .held)
        #expect(outputs[2] == .replaced(start: SeqNumber(1), payload: Array("PORT 9,9,9,9,5,6\r\nNOOP\r\n".utf8)))
    }

    @Test func unfinishedLinesThatCannotMatterPass() {
        let (_, outputs) = feed(["RETR some", "file\r\n"], hold: true)
        #expect(outputs == [.unchanged, .unchanged])
    }

    @Test func tlsRecordsAreSkippedUntilClearText() {
        var stream = ControlStream()
        stream.synchronize(initialSequence: SeqNumber(0))
        stream.startTLS()
        var lines: [String] = []
        var payload: [UInt8] = [23, 3, 3, 0, 6] + Array("PORT\r\n".utf8)      // application data
        payload += [21, 3, 3, 0, 2, 1, 0]                                       // close_notify
        payload += Array("PORT 1,2,3,4,5,6\r\n".utf8)                            // after CCC
        let output = payload.withUnsafeBytes { raw in
            stream.process(sequence: SeqNumber(1), payload: raw, fin: false, now: 0, holdLimit: 512, mayHold: { _ in false },
                           handle: { line in lines.append(String(decoding: line.text, as: UTF8.self)); return LineDecision() })
        }
        #expect(output == .unchanged)
        #expect(lines == ["PORT 1,2,3,4,5,6"])
        #expect(stream.backToClearText)
    }
}

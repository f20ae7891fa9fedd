// Inputs that used to trap in the FTP helper (the packet-path audit of issue
// 19, docs/packet-path-audit.md): a policy built in code with knobs outside
// the ranges the configuration file enforces, and a held line at a time near
// the end of the 64-bit clock. Each test says what the code did before.

@testable import Conntrack
@testable import FTP
import Testing
import Wire

@Suite struct FTPTrapRegressionTests {
    /// Used to trap: `Timestamp(holdMilliseconds)` of a negative value, and
    /// `Timestamp(expectTimeoutSeconds) * nanosecondsPerSecond` of -1 or of
    /// Int.max (FTPSession.releaseExpired / releaseDeadline / announce).
    /// Now the knobs are clamped to FTPPolicy's ranges where they are used;
    /// values inside the ranges are unchanged.
    @Test func policyKnobsOutsideTheirRangesAreClamped() {
        let low = FTPPolicy(maxExpected: 0, holdBytes: -1, holdMilliseconds: -1, expectTimeoutSeconds: -1)
        #expect(low.holdNanoseconds == 10 * 1_000_000)
        #expect(low.expectNanoseconds == 1 * nanosecondsPerSecond)
        #expect(low.holdLimit == 64)
        let high = FTPPolicy(maxExpected: .max, holdBytes: .max, holdMilliseconds: .max, expectTimeoutSeconds: .max)
        #expect(high.holdNanoseconds == 60_000 * 1_000_000)
        #expect(high.expectNanoseconds == 3600 * nanosecondsPerSecond)
        #expect(high.holdLimit == 4096)
        let usual = FTPPolicy.default
        #expect(usual.holdNanoseconds == 1_000 * 1_000_000)
        #expect(usual.expectNanoseconds == 300 * nanosecondsPerSecond)
        #expect(usual.holdLimit == 512)
    }

    /// A line held at a time within the hold time of 2^64 ns. Used to trap:
    /// `heldSince + policy.holdNanoseconds` overflowed in releaseDeadline and
    /// releaseExpired. Now the deadline saturates at Timestamp.max.
    @Test(arguments: [Timestamp.max, Timestamp.max - 1, Timestamp.max - 999_999_999])
    func heldLineNearTheEndOfTheClock(heldSince: Timestamp) {
        let session = FTPSession(policy: .default)
        session.streams[Direction.original.rawValue].synchronize(initialSequence: SeqNumber(0))
        session.streams[Direction.original.rawValue].line = Array("PORT 10,0,1".utf8)
        session.streams[Direction.original.rawValue].held = true
        session.streams[Direction.original.rawValue].heldSince = heldSince
        #expect(session.releaseDeadline == .max)
        var events: [FTPEvent] = []
        let released = session.releaseExpired(now: .max, events: &events)
        #expect(released.count == 1)
        #expect(released.first.map { Array($0.2) } == Array("PORT 10,0,1".utf8))
        #expect(session.releaseDeadline == nil)
    }

    /// Not a fix: the proof of ControlStream.process and replay (the audit's
    /// "proof" lines for ControlStream.swift:131-162, 245-259) exercised. Every
    /// slice bound there is a SeqNumber difference; these segments sit at the
    /// edges of modular order (2^31 behind or ahead, across 2^32), after lines
    /// were rewritten (records to replay) and after a SYN re-synchronised the
    /// stream somewhere else (old records then lie anywhere in the space).
    @Test(arguments: [0, 1, 0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xffff_ffff, 0xffff_fff0])
    func segmentsAtTheEdgesOfSequenceSpace(offset: UInt32) {
        var stream = ControlStream()
        let isn = SeqNumber(0xffff_fff0)           // the stream wraps past 2^32 at once
        stream.synchronize(initialSequence: isn)
        var next = isn + 1
        func send(_ text: String, at sequence: SeqNumber) -> StreamOutput {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBytes { raw in
                stream.process(sequence: sequence, payload: raw, fin: false, now: 1, holdLimit: 512,
                               mayHold: { _ in true },
                               handle: { line in
                                   var decision = LineDecision()
                                   if line.text.starts(with: Array("PORT".utf8)) {
                                       decision.replacement = Array("PORT 203,0,113,1,195,80".utf8)
                                   }
                                   return decision
                               })
            }
        }
        for text in ["PORT 10,0,1,2,195,80\r\n", "NOOP\r\n", "PORT 10,0,1,2,195,81\r\n"] {
            _ = send(text, at: next)
            next = next + Int32(text.utf8.count)
        }
        #expect(!stream.records.isEmpty)
        // Far behind, far ahead, and overlapping every record, at `offset` from the start.
        let probe = SeqNumber(isn.rawValue &+ offset)
        _ = send("PORT 10,0,1,2,195,80\r\nNOOP\r\nPORT 10,0,1,2,195,81\r\n", at: isn + 1)
        _ = send("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", at: probe)
        _ = send("PORT 1,2,3,4,5,6\r\n", at: probe)
        // A SYN moves the stream elsewhere; the old records stay and are met again.
        stream.synchronize(initialSequence: SeqNumber(isn.rawValue &+ offset &+ 0x4000_0000))
        _ = send("PORT 10,0,1,2,195,80\r\n", at: isn + 1)
        _ = send("PORT 10,0,1", at: stream.next)
        _ = send("PORT 10,0,1,2,195,80\r\n", at: probe)
        _ = send("NOOP\r\n", at: stream.next)
    }
}

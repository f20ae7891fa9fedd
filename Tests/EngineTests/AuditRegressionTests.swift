// The packet-path audit of issue 19 (docs/packet-path-audit.md) at the
// engine tier: a whole FTP session, held line and expectation included, on a
// clock near the end of its 64 bits. Every deadline there used to be a plain
// `+` on UInt64 (conntrack expiry, the expectation's, the held line's, the
// helper purge's `lastPurge + 1 s`), so the first SYN trapped. Deadlines now
// saturate at Timestamp.max (Conntrack.saturatingAdd).

@testable import Conntrack
@testable import Engine
import FTP
import Rules
import Testing
import Wire

@Suite struct AuditRegressionTests {
    @Test func ftpSessionNearTheEndOfTheClock() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.h.now = Timestamp.max - 2 * nanosecondsPerSecond
        #expect(s.connect() == .forward(s.h.wan))
        let port = s.clientSends("PORT 10,0,1,2,195,80\r\n")
        #expect(port.verdict == .forward(s.h.wan))
        #expect(FTPScenario.text(port.bytes) == "PORT 203,0,113,1,195,80\r\n")
        #expect(s.expectations.count == 1, "\(s.expectations)")
        // A line held half a second before the end: its deadline is past the clock's end.
        s.h.now = Timestamp.max - 500_000_000
        #expect(s.clientSends("PORT 10,0,1").verdict == .consumed)
        #expect(s.h.engine.helperHoldsBytes)
        s.h.now = Timestamp.max - 1
        s.h.engine.tick(now: s.h.now)
        #expect(s.h.generated().isEmpty, "still within the hold time")
        #expect(s.h.engine.helperHoldsBytes)
        // The last nanosecond: the held bytes go out, and a second tick runs
        // the purge (`lastPurge + 1 s` saturates) without trapping.
        s.h.now = Timestamp.max
        s.h.engine.tick(now: s.h.now)
        #expect(!s.h.engine.helperHoldsBytes)
        let released = s.h.generated()
        #expect(released.count == 1)
        #expect(released.first.map { FTPScenario.text($0.bytes) } == "PORT 10,0,1")
        s.h.engine.tick(now: s.h.now)
        s.h.engine.tick(now: s.h.now)
    }
}

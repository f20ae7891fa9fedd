// What the FTP helper lets through, with safe defaults. Each knob is named in
// the topology / `tunwall run` configuration as `"ftp": {…}` (README, "FTP
// helper"), and each default is the safe choice:
//
//   loose          false  the announced address must be the announcer's own
//                         (FTP bounce protection); true allows a third
//                         address, as Linux's nf_conntrack_ftp loose=1 does
//   maxExpected    1      expectations per control connection (Linux's
//                         max_expected); a new one replaces the oldest
//   lowPorts       false  data ports below 1024 are refused (Linux does not
//                         check; libalias, OpenBSD ftp-proxy and Cisco ASA do)
//   encrypted      allow  `AUTH TLS` answered by 234 leaves the helper blind:
//                         "allow" lets the session go on (logged, counted),
//                         "drop" ends it with a reset both ways
//   holdBytes      512    the longest unfinished command line held back to be
//                         rewritten whole (OpenBSD ftp-proxy ends a session on
//                         lines over 500 bytes)
//   holdMilliseconds 1000 how long an unfinished line is held before its
//                         bytes are released unchanged
//   expectTimeout  300    seconds an expectation waits (Linux's FTP helper)

import Conntrack

public struct FTPPolicy: Equatable, Sendable {
    public enum Encrypted: String, Equatable, Sendable {
        case allow, drop
    }

    public var loose: Bool
    public var maxExpected: Int
    public var lowPorts: Bool
    public var encrypted: Encrypted
    public var holdBytes: Int
    public var holdMilliseconds: Int
    public var expectTimeoutSeconds: Int

    public init(loose: Bool = false, maxExpected: Int = 1, lowPorts: Bool = false, encrypted: Encrypted = .allow,
                holdBytes: Int = 512, holdMilliseconds: Int = 1000, expectTimeoutSeconds: Int = 300) {
        self.loose = loose
        self.maxExpected = maxExpected
        self.lowPorts = lowPorts
        self.encrypted = encrypted
        self.holdBytes = holdBytes
        self.holdMilliseconds = holdMilliseconds
        self.expectTimeoutSeconds = expectTimeoutSeconds
    }

    public static let `default` = FTPPolicy()

    /// The ranges each knob accepts (configuration errors name them).
    public static let maxExpectedRange = 1...64
    public static let holdBytesRange = 64...4096
    public static let holdMillisecondsRange = 10...60_000
    public static let expectTimeoutRange = 1...3600

    // What the helper uses of the numeric knobs, clamped to the ranges above.
    // The configuration file is checked against them, but FTPPolicy's init
    // and properties are public: a policy built in code with -1 ms or Int.max
    // seconds used to trap converting or multiplying them on the packet path
    // (Timestamp(-1), Int.max × 10^9). Values inside the ranges are unchanged.

    var holdNanoseconds: Timestamp {
        Timestamp(holdMilliseconds.clamped(to: Self.holdMillisecondsRange)) * 1_000_000
    }

    var expectNanoseconds: Timestamp {
        Timestamp(expectTimeoutSeconds.clamped(to: Self.expectTimeoutRange)) * nanosecondsPerSecond
    }

    /// The longest line held (so a recorded line's length always fits the Int32 of a sequence offset).
    var holdLimit: Int { holdBytes.clamped(to: Self.holdBytesRange) }
}

extension Comparable {
    fileprivate func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}

// One tracked connection: both tuples, the protocol state, the status bits
// Linux keeps in ct->status, the expiry time and per-direction counters.
// A plain value stored in the flow table's flat array: no references.

import Wire

/// Nanoseconds on a monotonic clock, handed in by whoever drives the engine.
public typealias Timestamp = UInt64

public let nanosecondsPerSecond: UInt64 = 1_000_000_000

/// `time` plus `duration`, saturating at `Timestamp.max` instead of trapping:
/// whoever drives the engine hands in any time it likes (a manual clock, a
/// fuzzer), and a deadline past the end of the clock is simply "never".
/// (Linux compares jiffies with time_after(), which wraps; a 64-bit
/// nanosecond clock wraps only after 584 years, so saturating is the same
/// answer for every time a real clock gives, and no answer traps.)
@inline(__always)
public func saturatingAdd(_ time: Timestamp, _ duration: UInt64) -> Timestamp {
    let (sum, overflow) = time.addingReportingOverflow(duration)
    return overflow ? .max : sum
}

/// ct->status bits that tunwall uses (IPS_*).
public struct ConnStatus: OptionSet, Sendable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// IPS_EXPECTED: made by an expectation (a RELATED data connection).
    public static let expected = ConnStatus(rawValue: 1 << 0)
    /// IPS_SEEN_REPLY: a packet went the other way; until then "[UNREPLIED]".
    public static let seenReply = ConnStatus(rawValue: 1 << 1)
    /// IPS_ASSURED: a real, two-way connection; never evicted early.
    public static let assured = ConnStatus(rawValue: 1 << 2)
    /// IPS_SRC_NAT: the source is translated (SNAT, masquerade).
    public static let sourceNAT = ConnStatus(rawValue: 1 << 3)
    /// IPS_DST_NAT: the destination is translated (DNAT, redirect).
    public static let destinationNAT = ConnStatus(rawValue: 1 << 4)
    /// IPS_SEQ_ADJUST: a helper changed a payload's length; sequence numbers
    /// and acknowledgments are shifted (FlowTable.adjustment).
    public static let sequenceAdjusted = ConnStatus(rawValue: 1 << 5)
}

public struct ConnEntry: Sendable {
    // Fields are laid out in the order written (Swift does not reorder a
    // struct's fields): widest alignment first, and the 2-byte status and the
    // 1-byte fields in the padding after each 38-byte tuple, make 208 bytes an
    // entry where declaration by topic made 224 (the flow table holds one per
    // connection: ConntrackUnitTests checks the size).
    public internal(set) var expires: Timestamp = 0
    /// When the entry was made; UDP becomes a "stream" two seconds later.
    public internal(set) var created: Timestamp = 0
    public internal(set) var packets: (original: UInt64, reply: UInt64) = (0, 0)
    public internal(set) var bytes: (original: UInt64, reply: UInt64) = (0, 0)
    public internal(set) var original: ConnTuple
    public internal(set) var status: ConnStatus = []
    public internal(set) var reply: ConnTuple
    /// TCP only.
    public internal(set) var tcpState: TCPState = .none
    /// The helper following this connection (`ct helper set`), shown as
    /// `helper=ftp` by conntrack -L.
    public internal(set) var helper: HelperKind = .none
    public var mark: UInt32 = 0
    /// For a connection an expectation let in (IPS_EXPECTED): its master's
    /// table position and id (-1 / 0 for others).
    public internal(set) var masterPosition: Int32 = -1
    public internal(set) var masterID: UInt32 = 0
    /// A stable number for listings and events (conntrack's id=).
    public internal(set) var id: UInt32 = 0
    /// TCP only: both sides' sequence space and the last segment
    /// (TCPWindow.swift, Linux's struct ip_ct_tcp).
    public internal(set) var tcp = TCPTracking()
    /// The helper whose expectation let it in (.none for others).
    public internal(set) var expectedBy: HelperKind = .none
    var inUse = false

    init(original: ConnTuple, reply: ConnTuple) {
        self.original = original
        self.reply = reply
    }

    /// A connection as conntrack would enter it, for benchmarks and tools
    /// that fill a table directly (FlowTable.insert): both tuples, expiring at `expires`.
    public init(original: ConnTuple, reply: ConnTuple, expires: Timestamp) {
        self.init(original: original, reply: reply)
        self.expires = expires
    }

    public func tuple(_ direction: Direction) -> ConnTuple {
        direction == .original ? original : reply
    }

    /// What a packet travelling in `direction` must look like when it leaves:
    /// the inverse of the other direction's tuple (nf_nat_packet). Equal to
    /// the packet's own tuple when the connection is not translated.
    public func translated(_ direction: Direction) -> ConnTuple {
        let other = direction == .original ? reply : original
        var result = ConnTuple(source: other.destination, destination: other.source, sourcePort: other.destinationPort,
                               destinationPort: other.sourcePort, protocol: other.protocol, family: other.family)
        if other.isICMP {
            // ICMP queries keep the identifier in sourcePort on both sides and
            // the type/code in destinationPort: the translated packet carries
            // its own type/code and the other side's identifier.
            let own = tuple(direction)
            result.sourcePort = other.sourcePort
            result.destinationPort = own.destinationPort
        }
        return result
    }

    public var isTranslated: Bool { !status.isDisjoint(with: [.sourceNAT, .destinationNAT]) }

    public var isAssured: Bool { status.contains(.assured) }
    public var hasSeenReply: Bool { status.contains(.seenReply) }

    /// Seconds left before expiry, as conntrack prints them.
    public func secondsLeft(now: Timestamp) -> UInt64 {
        expires > now ? (expires - now) / nanosecondsPerSecond : 0
    }
}

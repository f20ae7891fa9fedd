// What conntrack remembers of a TCP connection's sequence space, per
// direction, and the segment it saw last: Linux's struct ip_ct_tcp
// (include/linux/netfilter/nf_conntrack_tcp.h) with its ip_ct_tcp_state
// seen[2]. Kept inline in every ConnEntry (no allocation), 52 bytes.
//
// Example: a SYN 10.0.1.2:40000 → :80 with seq 999, window 64240, wscale 7,
// SACK-permitted makes seen[original] = {end 1000, maxEnd 1000, maxWindow
// 64240, scale 7, flags [windowScale, sackPermitted]}; the SYN-ACK fills
// seen[reply] and raises seen[original].maxEnd to its ack + window.

import Wire

/// IP_CT_TCP_FLAG_*: what conntrack knows of one direction (the same bit
/// values as Linux's, as conntrack -L's netlink would carry them).
public struct TCPWindowFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The SYN carried a window scale option.
    public static let windowScale = TCPWindowFlags(rawValue: 0x01)
    /// The SYN carried SACK-permitted: this side's peer may SACK it.
    public static let sackPermitted = TCPWindowFlags(rawValue: 0x02)
    /// This side sent the first FIN.
    public static let closeInit = TCPWindowFlags(rawValue: 0x04)
    /// Out-of-window segments from this side are accepted (a connection
    /// picked up mid-stream).
    public static let beLiberal = TCPWindowFlags(rawValue: 0x08)
    /// This side sent data the other has not acknowledged yet.
    public static let dataUnacknowledged = TCPWindowFlags(rawValue: 0x10)
    /// `maxAck` holds an acknowledgment this side sent.
    public static let maxAckSet = TCPWindowFlags(rawValue: 0x20)
    /// (last_flags only) a SYN in LAST_ACK may draw an RFC 5961 challenge ACK.
    public static let expectChallengeACK = TCPWindowFlags(rawValue: 0x40)
    /// (last_flags only) simultaneous open seen.
    public static let simultaneousOpen = TCPWindowFlags(rawValue: 0x80)
}

/// The TCP options window tracking reads from a segment (PacketParser).
public struct TCPWindowOptions: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let windowScale = TCPWindowOptions(rawValue: 1)
    public static let sackPermitted = TCPWindowOptions(rawValue: 2)
    /// A SACK option with at least one block (TrackedPacket.tcpSACKRight).
    public static let sack = TCPWindowOptions(rawValue: 4)
}

/// One direction of a connection, as the firewall in the middle sees it
/// (struct ip_ct_tcp_state). Sequence numbers are the sender's own, before
/// any NAT sequence adjustment.
public struct TCPWindowSide: Sendable, Hashable {
    /// td_end: the highest seq + len this side sent.
    public internal(set) var end: UInt32 = 0
    /// td_maxend: the highest sequence the other side allowed (ack + window).
    public internal(set) var maxEnd: UInt32 = 0
    /// td_maxwin: the largest window this side advertised (scaled), at least 1;
    /// 0 until this side was seen.
    public internal(set) var maxWindow: UInt32 = 0
    /// td_maxack: the highest acknowledgment this side sent.
    public internal(set) var maxAck: UInt32 = 0
    /// td_scale: this side's window scale shift.
    public internal(set) var scale: UInt8 = 0
    public internal(set) var flags: TCPWindowFlags = []

    /// nf_ct_tcp_state_reset: forget all but the liberal flag.
    mutating func reset() {
        self = TCPWindowSide(flags: flags.intersection(.beLiberal))
    }

    init(flags: TCPWindowFlags = []) { self.flags = flags }
}

/// struct ip_ct_tcp without the state (ConnEntry.tcpState): both sides and
/// the last segment, which lets conntrack recognise retransmissions, resets
/// that belong to a train, and a SYN-ACK answering a SYN it ignored.
public struct TCPTracking: Sendable {
    public internal(set) var original = TCPWindowSide()
    public internal(set) var reply = TCPWindowSide()
    /// last_seq, last_ack, last_end: of the last segment tracked.
    var lastSequence: UInt32 = 0
    var lastAcknowledgment: UInt32 = 0
    var lastEnd: UInt32 = 0
    /// last_win: its window as on the wire.
    var lastWindow: UInt16 = 0
    var lastDirection: Direction = .original
    /// last_index: its flag class (.none before the first in-window segment).
    var lastIndex: TCPFlagClass = .none
    /// retrans: how often the same ACK segment was seen in a row.
    var retransmissions: UInt8 = 0
    /// last_wscale, last_flags: the options of an ignored SYN, kept to
    /// resynchronise if the peer answers it.
    var lastWindowScale: UInt8 = 0
    var lastFlags: TCPWindowFlags = []

    subscript(_ direction: Direction) -> TCPWindowSide {
        get { direction == .original ? original : reply }
        set {
            if direction == .original { original = newValue } else { reply = newValue }
        }
    }
}

/// Serial-number comparisons of 32-bit sequence numbers (Linux's before()
/// and after(), RFC 1982).
@inline(__always) func before(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
@inline(__always) func after(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: b &- a) < 0 }

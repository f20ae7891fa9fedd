// A packet line of the trace (docs/trace-schema.md, "Every further line is one
// packet"): the packet as it arrived or was made, the steps taken, and where
// it went or why it stopped. Which keys go with which verdict and origin is
// checked when a line is decoded (TraceCoding.swift).

/// How a packet came to the firewall.
public enum PacketOrigin: String, Sendable, CaseIterable {
    case received, generated, released
}

/// What became of it.
public enum PacketVerdict: String, Sendable, CaseIterable {
    case forward, drop, held, consumed
}

/// One packet line.
public struct TracePacket: Sendable, Equatable {
    /// Packet number, from 1, per run of the firewall.
    public var n: Int
    /// Seconds since the firewall started.
    public var t: Double
    public var origin: PacketOrigin
    /// `in`: the interface it arrived on; exactly when `origin` is received.
    public var inInterface: String?
    public var packet: PacketInfo
    public var steps: [TraceStep]
    public var verdict: PacketVerdict
    /// `out`: exactly when `verdict` is forward.
    public var outInterface: String?
    /// The drop reason's name (`tunwall stats`); exactly when `verdict` is drop.
    public var reason: String?
    /// The packet as it left; exactly when `verdict` is forward.
    public var sent: PacketInfo?

    public static let keys = ["v", "type", "n", "t", "origin", "in", "packet", "steps", "verdict", "out", "reason", "sent"]

    public init(n: Int, t: Double, origin: PacketOrigin, inInterface: String?, packet: PacketInfo, steps: [TraceStep],
                verdict: PacketVerdict, outInterface: String? = nil, reason: String? = nil, sent: PacketInfo? = nil) {
        self.n = n
        self.t = t
        self.origin = origin
        self.inInterface = inInterface
        self.packet = packet
        self.steps = steps
        self.verdict = verdict
        self.outInterface = outInterface
        self.reason = reason
        self.sent = sent
    }
}

/// A packet as it arrived (`packet`) or as it left (`sent`).
public struct PacketInfo: Sendable, Equatable {
    /// tcpdump `-nn -S -t` style.
    public var summary: String
    /// 4 or 6; 0 when the bytes are not an IP packet tunwall can read (then
    /// `proto`, `src` and `dst` are "?").
    public var family: Int
    /// One of `protocols`.
    public var proto: String
    /// RFC 5952 text for IPv6.
    public var src: String
    public var dst: String
    /// TCP and UDP only.
    public var sport: Int?
    public var dport: Int?
    /// Bytes of the IP packet.
    public var length: Int
    /// The TCP payload of a connection with a helper, as text (FTP commands and replies), at most 512 bytes.
    public var text: String?

    public static let keys = ["summary", "family", "proto", "src", "dst", "sport", "dport", "length", "text"]
    public static let families = [4, 6, 0]
    /// "other": a fragment or another protocol; "?": not an IP packet tunwall can read.
    public static let protocols = ["tcp", "udp", "icmp", "icmpv6", "other", "?"]
    /// The protocols with ports (`sport`, `dport`).
    public static let portProtocols = ["tcp", "udp"]

    public init(summary: String, family: Int, proto: String, src: String, dst: String,
                sport: Int? = nil, dport: Int? = nil, length: Int, text: String? = nil) {
        self.summary = summary
        self.family = family
        self.proto = proto
        self.src = src
        self.dst = dst
        self.sport = sport
        self.dport = dport
        self.length = length
        self.text = text
    }
}

// Connection timeouts in seconds: Linux's defaults on kernel 6.18
// (net.netfilter.nf_conntrack_*_timeout_*; docs/REFERENCE.md), settable per
// firewall, and the TCP tracking switches Linux keeps beside them
// (nf_conntrack_tcp_loose, _be_liberal, _max_retrans). An entry's expiry is
// refreshed by each packet it accepts.

public struct ConntrackTimeouts: Sendable, Hashable {
    /// Indexed by `TCPState.rawValue`: NONE SYN_SENT SYN_RECV ESTABLISHED
    /// FIN_WAIT CLOSE_WAIT LAST_ACK TIME_WAIT CLOSE SYN_SENT2.
    public var tcp: [UInt32] = [10, 120, 60, 432_000, 120, 60, 30, 120, 10, 120]
    /// Established connections with unacknowledged data for this long
    /// (nf_conntrack_tcp_timeout_unacknowledged); also a connection that
    /// never saw a reply but reached ESTABLISHED (picked up mid-stream).
    public var tcpUnacknowledged: UInt32 = 300
    /// After `tcpMaxRetransmissions` retransmissions of the same segment, or
    /// while the window is zero (nf_conntrack_tcp_timeout_max_retrans).
    public var tcpRetransmission: UInt32 = 300
    /// nf_conntrack_tcp_max_retrans.
    public var tcpMaxRetransmissions: UInt8 = 3
    /// nf_conntrack_tcp_loose: a segment other than a SYN may start tracking
    /// (a connection picked up mid-stream, with a liberal window). Linux
    /// keeps these switches next to the TCP timeouts (struct nf_tcp_net).
    public var tcpLoose = true
    /// nf_conntrack_tcp_be_liberal: out-of-window segments are not invalid,
    /// except resets below the receiver's highest acknowledgment.
    public var tcpBeLiberal = false
    public var udpUnreplied: UInt32 = 30
    /// A UDP flow that has seen a reply and lives on (`udp_timeout_stream`).
    public var udpStream: UInt32 = 120
    public var icmp: UInt32 = 30
    public var generic: UInt32 = 600

    public init() {}

    public static let linux = ConntrackTimeouts()

    public func tcp(_ state: TCPState) -> UInt32 {
        let i = Int(state.rawValue)
        return i < tcp.count ? tcp[i] : 10
    }
}

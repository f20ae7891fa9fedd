// Connection timeouts in seconds: Linux's defaults on kernel 6.18
// (net.netfilter.nf_conntrack_*_timeout_*; docs/REFERENCE.md), settable per
// firewall. An entry's expiry is refreshed by each packet it accepts.

public struct ConntrackTimeouts: Sendable, Hashable {
    /// Indexed by `TCPState.rawValue`: NONE SYN_SENT SYN_RECV ESTABLISHED
    /// FIN_WAIT CLOSE_WAIT LAST_ACK TIME_WAIT CLOSE SYN_SENT2.
    public var tcp: [UInt32] = [10, 120, 60, 432_000, 120, 60, 30, 120, 10, 120]
    /// Established connections with unacknowledged data for this long
    /// (nf_conntrack_tcp_timeout_unacknowledged).
    public var tcpUnacknowledged: UInt32 = 300
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

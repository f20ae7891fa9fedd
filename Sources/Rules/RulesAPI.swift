// The public face of the Rules module: the packet a rule sees, the verdicts,
// the errors, and `Ruleset` (parse → bind → evaluate → listing).
//
// A ruleset is written in the nftables subset described in docs/REFERENCE.md
// ("nftables subset") and means what `nft -f` would make the kernel do
// (nft(8), net/netfilter/nf_tables_core.c for the chain walk).

import Conntrack
import Wire

/// Netfilter hooks (nft `hook` names).
public enum Hook: Int, CaseIterable, Sendable { case prerouting, input, forward, output, postrouting }

/// What a rule sees of a packet. Filled by the engine once per packet; addresses are 128-bit (IPv4 held
/// IPv4-mapped ::ffff:a.b.c.d, as in Conntrack's ConnTuple), ports 0 when not TCP/UDP.
public struct RulePacket: Sendable {
    public var family: AddressFamily = .ipv4
    /// Index into the interface names given to `bind`, -1 if none (output hook).
    public var inputInterface: Int = -1
    /// -1 if not yet known (prerouting, input).
    public var outputInterface: Int = -1
    public var source: IPv6Address = .any
    public var destination: IPv6Address = .any
    public var l4Protocol: IPProtocol = IPProtocol(0)
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var tcpFlags: TCPFlags = []
    /// ICMP or ICMPv6 type, when l4Protocol is .icmp/.icmpv6.
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    /// The Ethernet header of a packet that came in by a TAP interface
    /// (`ether saddr`/`daddr`/`type`, MAC= in log lines); linkType 0 when there is none.
    public var linkSource: UInt64 = 0
    public var linkDestination: UInt64 = 0
    public var linkType: UInt16 = 0
    public var ctState: ConnState = .new
    /// IP total length (IPv6: 40 + payload length), for counters and LEN=.
    public var length: Int = 0
    /// Length of the layer-4 part (UDP LEN= in log lines); 0 means "length - 20" (IPv4) / "length - 40" (IPv6).
    public var l4Length: Int = 0
    /// TTL or hop limit.
    public var ttl: UInt8 = 0
    /// IPv4 TOS / IPv6 traffic class.
    public var tos: UInt8 = 0
    /// IPv4 only (ID= in log lines).
    public var ipIdentification: UInt16 = 0
    public var dontFragment: Bool = false
    /// IPv6.
    public var flowLabel: UInt32 = 0
    public var tcpWindow: UInt16 = 0
    /// TCP urgent pointer (URGP= in log lines).
    public var tcpUrgentPointer: UInt16 = 0
    /// ICMP echo identifier and sequence (ID= SEQ= in log lines for echo request/reply).
    public var icmpEchoIdentifier: UInt16 = 0
    public var icmpEchoSequence: UInt16 = 0
    public var mark: UInt32 = 0
    /// Set by `ct helper set` for a new connection: the helper the engine attaches to it.
    public var helper: HelperKind = .none
    /// When the packet arrived (nanoseconds, the engine's clock): `limit rate` refills its bucket by it.
    public var time: Timestamp = 0
    /// The original-direction tuple of the packet's connection (for a new one, the packet's own
    /// tuple): what `ct count` counts.
    public var connection = ConnTuple(source: .any, destination: .any, sourcePort: 0, destinationPort: 0,
                                      protocol: IPProtocol(0), family: .ipv4)
    /// What decided the last verdict the evaluator returned, for traces: a rule (>= 0, see
    /// `Ruleset.decision(_:)`), a chain's policy (-2 - chain), or nothing yet (-1).
    public var decision: Int32 = -1

    public init() {}
}

/// What a `reject` sends. What plain `reject` means is nft 1.0.6's, checked with
/// `nft --debug=netlink`: ICMP(v6) port unreachable for every packet, TCP ones included,
/// even after `tcp dport 22` (nft emits `reject type 2 code 1`, icmpx port-unreachable, in an
/// inet table, `type 0 code 3` in an ip table); only `reject with tcp reset` sends a reset, and
/// only to TCP packets (nft adds `meta l4proto tcp` to such a rule).
public enum RejectKind: Equatable, Sendable {
    /// `reject with tcp reset` (the rule matches TCP only).
    case tcpReset
    /// ICMPv4 type 3 code 3: plain `reject` for IPv4 (also `with icmp type port-unreachable`,
    /// `with icmpx type port-unreachable`).
    case icmpPortUnreachable
    /// ICMPv6 type 1 code 1: `reject with icmpv6 type admin-prohibited`, or `with icmpx type
    /// admin-prohibited` for an IPv6 packet.
    case icmpv6AdministrativelyProhibited
    /// ICMPv6 type 1 code 4: plain `reject` for IPv6 (also `with icmpv6 type port-unreachable`,
    /// `with icmpx type port-unreachable`).
    case icmpv6PortUnreachable
    /// Any other code: ICMPv4 type 3 (`with icmp type host-unreachable` is `.icmp(type: 3, code: 1)`,
    /// icmpx admin-prohibited for IPv4 is code 13) or ICMPv6 type 1.
    case icmp(type: UInt8, code: UInt8)
}

/// What `ct count` learns from conntrack about a connection it counted (nf_conncount's
/// find_or_evict and already_closed).
public enum ConnectionPresence: Sendable {
    /// In the table and counted.
    case counted
    /// In the table but a TCP connection in TIME_WAIT or CLOSE: Linux stops counting it.
    case closed
    /// Not in the table (gone, or not confirmed yet).
    case absent
}

public enum RuleVerdict: Equatable, Sendable {
    case accept
    case drop
    case reject(RejectKind)
}

// MARK: NAT

/// The flags of a NAT statement (nft's `random`, `fully-random`, `persistent`;
/// NF_NAT_RANGE_PROTO_RANDOM, NF_NAT_RANGE_PROTO_RANDOM_FULLY, NF_NAT_RANGE_PERSISTENT).
public struct NATFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// nft `random`.
    public static let random = NATFlags(rawValue: 1 << 0)
    /// nft `fully-random`.
    public static let fullyRandom = NATFlags(rawValue: 1 << 1)
    /// nft `persistent`.
    public static let persistent = NATFlags(rawValue: 1 << 2)
}

/// Where a NAT statement sends the connection. Addresses are 128-bit, IPv4 held IPv4-mapped
/// (::ffff:a.b.c.d), as everywhere in Rules/Conntrack. nil means "not given".
///
/// `snat ip to 203.0.113.1-203.0.113.5:1024-2047` is minimum ::ffff:203.0.113.1, maximum ::ffff:203.0.113.5,
/// ports 1024…2047; a prefix (`snat ip to 203.0.113.0/30`) is the range it covers (.0 to .3), as nft sends it.
public struct NATTarget: Hashable, Sendable {
    /// snat/dnat: the address (or first of a range); nil for masquerade/redirect (and `dnat to :PORT`).
    public var minimumAddress: IPv6Address?
    /// The last of a range (== minimum for a single address).
    public var maximumAddress: IPv6Address?
    /// When a port or port range was given (maximum == minimum for a single port).
    public var minimumPort: UInt16?
    public var maximumPort: UInt16?
    public var flags: NATFlags

    public init(minimumAddress: IPv6Address? = nil, maximumAddress: IPv6Address? = nil,
                minimumPort: UInt16? = nil, maximumPort: UInt16? = nil, flags: NATFlags = []) {
        self.minimumAddress = minimumAddress
        self.maximumAddress = maximumAddress
        self.minimumPort = minimumPort
        self.maximumPort = maximumPort
        self.flags = flags
    }
}

/// A NAT statement as evaluated.
public enum NATAction: Hashable, Sendable {
    /// source := the egress interface's address (the engine picks it), ports optional.
    case masquerade(NATTarget)
    case snat(NATTarget)
    case dnat(NATTarget)
    /// destination := the firewall's own address of the ingress interface, ports optional.
    case redirect(NATTarget)
}

/// What the nat chains of a hook decided for the first packet of a connection.
public enum NATVerdict: Hashable, Sendable {
    /// No NAT statement reached (every nat chain accepted or ended on policy accept): leave the packet alone.
    case none
    /// The first NAT statement reached.
    case translate(NATAction)
    /// A `drop` (or `reject`, or a policy drop) in a nat chain.
    case drop
}

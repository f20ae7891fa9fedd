// Why the engine dropped a packet: one case per reason, each with a counter
// (Click's drop-reason tables; Linux's skb drop reasons, `SKB_DROP_REASON_*`,
// name many of the same). `tunwall stats` prints them by these names.

public enum DropReason: Int, Error, CaseIterable, Sendable, CustomStringConvertible {
    case notIP
    case ipv4Malformed
    case ipv4BadChecksum
    case ipv6Malformed
    case ipv6ExtensionHeaders
    case transportMalformed
    case martianSource
    case martianDestination
    case noRoute
    case ttlExceeded
    case packetTooBig
    case localNoService
    case conntrackFull
    case unknownInterface
    case transmitQueueFull
    case transmitFailed
    case outboxFull
    case icmpRateLimited
    case ruleDrop
    case ruleReject
    case natExhausted
    case helperOutOfOrder
    case helperPolicy
    case fragmentTimeout
    case fragmentMemory
    case fragmentOverlap
    case fragmentDuplicate
    case fragmentTinyFirst
    case fragmentTooLong
    case fragmentBadLength
    case impairLoss
    case impairQueueFull
    case ethernetMalformed
    case otherHost
    case vlanTagged
    case unhandledEtherType
    case arpInvalid
    case ndiscInvalid
    case neighbourNotOurs
    case neighbourQueueFull
    case neighbourFailed
    case neighbourTableFull
    case handOffFull

    public var description: String {
        switch self {
        case .notIP: return "not-ip"
        case .ipv4Malformed: return "ipv4-malformed"
        case .ipv4BadChecksum: return "ipv4-bad-checksum"
        case .ipv6Malformed: return "ipv6-malformed"
        case .ipv6ExtensionHeaders: return "ipv6-bad-extension-headers"
        case .transportMalformed: return "l4-malformed"
        case .martianSource: return "martian-source"
        case .martianDestination: return "martian-destination"
        case .noRoute: return "no-route"
        case .ttlExceeded: return "ttl-exceeded"
        case .packetTooBig: return "packet-too-big"
        case .localNoService: return "local-no-service"
        case .conntrackFull: return "conntrack-full"
        case .unknownInterface: return "unknown-interface"
        case .transmitQueueFull: return "tx-queue-full"
        case .transmitFailed: return "tx-failed"
        case .outboxFull: return "generated-packet-dropped"
        case .icmpRateLimited: return "icmp-rate-limited"
        case .ruleDrop: return "rule-drop"
        case .ruleReject: return "rule-reject"
        case .natExhausted: return "nat-exhausted"
        case .helperOutOfOrder: return "ftp-out-of-order"
        case .helperPolicy: return "ftp-policy"
        case .fragmentTimeout: return "frag-timeout"
        case .fragmentMemory: return "frag-memory"
        case .fragmentOverlap: return "frag-overlap"
        case .fragmentDuplicate: return "frag-duplicate"
        case .fragmentTinyFirst: return "frag-tiny-first"
        case .fragmentTooLong: return "frag-too-long"
        case .fragmentBadLength: return "frag-bad-length"
        case .impairLoss: return "impair-loss"
        case .impairQueueFull: return "impair-queue-full"
        case .ethernetMalformed: return "ethernet-malformed"
        case .otherHost: return "otherhost"
        case .vlanTagged: return "vlan-tagged"
        case .unhandledEtherType: return "unhandled-ethertype"
        case .arpInvalid: return "arp-invalid"
        case .ndiscInvalid: return "ndisc-invalid"
        case .neighbourNotOurs: return "neigh-not-ours"
        case .neighbourQueueFull: return "neigh-queue-full"
        case .neighbourFailed: return "neigh-failed"
        case .neighbourTableFull: return "neigh-table-full"
        case .handOffFull: return "handoff-full"
        }
    }

    /// One sentence for people reading `tunwall stats`.
    public var explanation: String {
        switch self {
        case .notIP: return "the version nibble is neither 4 nor 6"
        case .ipv4Malformed: return "IPv4 header cut short or its length fields contradict the packet"
        case .ipv4BadChecksum: return "IPv4 header checksum does not verify"
        case .ipv6Malformed: return "IPv6 header cut short or payload length past the packet"
        case .ipv6ExtensionHeaders: return "IPv6 extension headers cut short, misplaced or too many"
        case .transportMalformed: return "TCP, UDP or ICMP header cut short or inconsistent"
        case .martianSource: return "source address is the firewall's own, multicast, loopback or unspecified"
        case .martianDestination: return "multicast, broadcast, loopback or link-local destination: not forwarded"
        case .noRoute: return "no route to the destination"
        case .ttlExceeded: return "TTL or hop limit ran out (ICMP time exceeded sent)"
        case .packetTooBig: return "larger than the egress MTU and may not be fragmented (ICMP sent)"
        case .localNoService: return "addressed to the firewall, which answers only ping"
        case .conntrackFull: return "conntrack table full of ASSURED connections"
        case .unknownInterface: return "arrived on an interface the engine does not know"
        case .transmitQueueFull: return "the egress device's queue was full"
        case .transmitFailed: return "the egress device refused the packet (link down: EIO)"
        case .outboxFull: return "too many generated packets at once"
        case .icmpRateLimited: return "ICMP error not sent: rate limit (1000/s, burst 50, as Linux)"
        case .ruleDrop: return "dropped by a rule or a chain's policy (see tunwall list ruleset)"
        case .ruleReject: return "rejected by a rule: a reset or an ICMP error was sent back"
        case .natExhausted: return "no free NAT mapping (address and port) for a new connection"
        case .helperOutOfOrder: return "FTP control segment ahead of the stream: read in order once TCP resends it"
        case .helperPolicy: return "FTP control session ended by the helper's policy (encrypted: drop)"
        case .fragmentTimeout: return "fragment of a datagram not whole within 30 s (IPv4) or 60 s (IPv6); ICMP time exceeded sent if the first had come"
        case .fragmentMemory: return "fragment evicted: reassembly memory past 4 MB, oldest datagrams dropped down to 3 MB"
        case .fragmentOverlap: return "fragments overlap: the whole datagram dropped (RFC 5722; Linux since FragmentSmack)"
        case .fragmentDuplicate: return "fragment already held (a duplicate): the copy dropped, the datagram kept"
        case .fragmentTinyFirst: return "first fragment too short for the transport header (RFC 1858, RFC 7112)"
        case .fragmentTooLong: return "fragment past 65,535 bytes of datagram, or a datagram too big to hold"
        case .fragmentBadLength: return "fragment length not a multiple of 8, empty, or contradicting the last fragment"
        case .impairLoss: return "lost on purpose by an impairment (loss random or gemodel; tunwall impair IF show)"
        case .impairQueueFull: return "an impairment's queue held its limit of packets: dropped at the tail (rate, delay)"
        case .ethernetMalformed: return "TAP frame shorter than its 14-byte Ethernet header"
        case .otherHost: return "TAP frame for another host's MAC (Linux: PACKET_OTHERHOST)"
        case .vlanTagged: return "TAP frame with an 802.1Q/802.1ad VLAN tag: tunwall has no VLAN interfaces"
        case .unhandledEtherType: return "TAP frame of an EtherType other than IPv4, IPv6 and ARP"
        case .arpInvalid: return "ARP not Ethernet/IPv4, cut short, of an unknown opcode or with a multicast or loopback address"
        case .ndiscInvalid: return "neighbour solicitation or advertisement failing RFC 4861's checks (hop limit 255, checksum, options)"
        case .neighbourNotOurs: return "ARP request or NS for an address that is not the firewall's on that interface: not answered (no proxy ARP)"
        case .neighbourQueueFull: return "packet waiting for its next hop's MAC pushed out of the neighbour's queue (unres_qlen_bytes)"
        case .neighbourFailed: return "next hop's MAC unresolved after 3 probes (ARP or ND): ICMP host/address unreachable sent"
        case .neighbourTableFull: return "neighbour table at gc_thresh3 (1024) entries after garbage collection: no new entry"
        case .handOffFull: return "several workers: the owning worker's hand-off ring was full"
        }
    }
}

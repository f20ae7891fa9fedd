// Which connections (or expectations) a `conntrack` command acts on: the
// filters of conntrack-tools (-p, -f, -s/-d, -r/-q, --sport/--dport and the
// reply ports, --state, --zone, -m MARK[/MASK]), each one optional, all of
// them ANDed, as libnetfilter_conntrack's nfct_filter_dump and
// conntrack-tools' filter_nat/filter_mark/... checks combine them.
//
//   conntrack -L -p tcp --dport 21 -s 10.0.1.0/24
//   → ConntrackFilter(protocol: .tcp, origDestinationPort: 21, origSource: 10.0.1.0/24)
//
// Addresses are prefixes (conntrack-tools 1.4.6+ takes CIDR for -s/-d/-r/-q).
// tunwall keeps one zone, 0: a filter for another zone matches nothing.

import Wire

public struct ConntrackFilter: Sendable, Equatable {
    public var `protocol`: IPProtocol?
    public var family: AddressFamily?
    public var origSource: IPPrefix?
    public var origDestination: IPPrefix?
    public var replySource: IPPrefix?
    public var replyDestination: IPPrefix?
    public var origSourcePort: UInt16?
    public var origDestinationPort: UInt16?
    public var replySourcePort: UInt16?
    public var replyDestinationPort: UInt16?
    public var tcpState: TCPState?
    public var zone: UInt16?
    public var mark: UInt32?
    /// All ones unless `-m VALUE/MASK` gave one (conntrack-tools' mark filter).
    public var markMask: UInt32 = .max

    public init() {}

    /// True when no filter is set: the command acts on every entry.
    public var isEmpty: Bool { self == ConntrackFilter() }

    public func matches(_ entry: ConnEntry) -> Bool {
        let original = entry.original, reply = entry.reply
        if let p = self.protocol, original.protocol != p { return false }
        if let f = family, original.family != f { return false }
        if let prefix = origSource, !prefix.contains(original.sourceAddress) { return false }
        if let prefix = origDestination, !prefix.contains(original.destinationAddress) { return false }
        if let prefix = replySource, !prefix.contains(reply.sourceAddress) { return false }
        if let prefix = replyDestination, !prefix.contains(reply.destinationAddress) { return false }
        if let port = origSourcePort, original.sourcePort != port { return false }
        if let port = origDestinationPort, original.destinationPort != port { return false }
        if let port = replySourcePort, reply.sourcePort != port { return false }
        if let port = replyDestinationPort, reply.destinationPort != port { return false }
        if let state = tcpState, original.protocol != .tcp || entry.tcpState != state { return false }
        if let zone, zone != 0 { return false }
        if let mark, entry.mark & markMask != mark & markMask { return false }
        return true
    }

    /// An expectation is matched on what it expects (`-s`, `-d`, `--dport`
    /// of the expected connection, `-p`, `-f`); the filters that describe a
    /// tracked connection (reply tuple, state, mark, zone) are refused for
    /// the expect table by ConntrackQuery before they get here.
    public func matches(_ expectation: ConnExpectation) -> Bool {
        let key = expectation.key
        if let p = self.protocol, key.protocol != p { return false }
        if let f = family, key.family != f { return false }
        let narrow = { (a: IPv6Address) -> IPAddress in key.family == .ipv4 ? .v4(a.lowIPv4) : .v6(a) }
        if let prefix = origSource, !prefix.contains(narrow(key.source)) { return false }
        if let prefix = origDestination, !prefix.contains(narrow(key.destination)) { return false }
        if let port = origDestinationPort, key.destinationPort != port { return false }
        if origSourcePort != nil || replySource != nil || replyDestination != nil || replySourcePort != nil
            || replyDestinationPort != nil || tcpState != nil || mark != nil { return false }
        if let zone, zone != 0 { return false }
        return true
    }
}

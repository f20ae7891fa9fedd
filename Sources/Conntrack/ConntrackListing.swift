// Entries printed as `conntrack -L` prints them (libnetfilter_conntrack's
// default output with accounting on), so that people and scripts that read
// conntrack-tools output can read tunwall's:
//
//   tcp      6 431999 ESTABLISHED src=10.0.1.2 dst=203.0.113.10 sport=40000 dport=80 packets=6 bytes=412
//     src=203.0.113.10 dst=10.0.1.2 sport=80 dport=40000 packets=4 bytes=3216 [ASSURED] mark=0 use=1
//
// (one line; broken here for width). Layer-4 name "%-8s %u ", the seconds
// left, the TCP state, the original tuple and its counters, "[UNREPLIED]"
// until a reply was seen, the reply tuple and its counters, "[ASSURED]",
// "mark=", "use=".

import Wire

extension ConnEntry {
    public func conntrackLine(now: Timestamp) -> String {
        var line = Self.protocolName(original.protocol).padding(8) + " \(original.protocol.rawValue) "
        line += "\(secondsLeft(now: now)) "
        if original.protocol == .tcp { line += "\(tcpState) " }
        line += Self.tupleText(original) + "packets=\(packets.original) bytes=\(bytes.original) "
        if !hasSeenReply { line += "[UNREPLIED] " }
        line += Self.tupleText(reply) + "packets=\(packets.reply) bytes=\(bytes.reply) "
        if isAssured { line += "[ASSURED] " }
        line += "mark=\(mark) "
        if helper != .none { line += "helper=\(helper) " }
        line += "use=1"
        return line
    }

    static func protocolName(_ proto: IPProtocol) -> String {
        switch proto {
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .icmp: return "icmp"
        case .icmpv6: return "icmpv6"
        case .sctp: return "sctp"
        case .gre: return "gre"
        default: return "unknown"
        }
    }

    static func tupleText(_ tuple: ConnTuple) -> String {
        var text = "src=\(tuple.sourceAddress) dst=\(tuple.destinationAddress) "
        switch tuple.protocol {
        case .tcp, .udp, .sctp:
            text += "sport=\(tuple.sourcePort) dport=\(tuple.destinationPort) "
        case .icmp, .icmpv6:
            text += "type=\(tuple.icmpType) code=\(tuple.icmpCode) id=\(tuple.sourcePort) "
        default:
            break
        }
        return text
    }
}

/// One `conntrack -E` event: a connection entered the table, changed state
/// or status, or left it.
public struct ConntrackEvent: Sendable {
    public enum Kind: Sendable { case new, update, destroy }
    public let kind: Kind
    public let entry: ConnEntry
    public let time: Timestamp

    /// As `conntrack -E` prints it: "    [NEW] ", " [UPDATE] ", "[DESTROY] ",
    /// then the entry; DESTROY carries the counters and no timeout or state.
    public var line: String {
        let proto = ConnEntry.protocolName(entry.original.protocol).padding(8) + " \(entry.original.protocol.rawValue) "
        switch kind {
        case .new, .update:
            var text = (kind == .new ? "    [NEW] " : " [UPDATE] ") + proto + "\(entry.secondsLeft(now: time)) "
            if entry.original.protocol == .tcp { text += "\(entry.tcpState) " }
            text += ConnEntry.tupleText(entry.original)
            if !entry.hasSeenReply { text += "[UNREPLIED] " }
            text += ConnEntry.tupleText(entry.reply)
            if entry.isAssured { text += "[ASSURED] " }
            return String(text.dropLast())
        case .destroy:
            var text = "[DESTROY] " + proto + ConnEntry.tupleText(entry.original)
            text += "packets=\(entry.packets.original) bytes=\(entry.bytes.original) "
            if !entry.hasSeenReply { text += "[UNREPLIED] " }
            text += ConnEntry.tupleText(entry.reply) + "packets=\(entry.packets.reply) bytes=\(entry.bytes.reply) "
            if entry.isAssured { text += "[ASSURED] " }
            return String(text.dropLast())
        }
    }
}

extension Conntrack {
    /// Every live entry, oldest first, one conntrack -L line each.
    public func listing(now: Timestamp) -> [String] {
        table.livePositions(now: now)
            .sorted { table[$0].id < table[$1].id }
            .map { table[$0].conntrackLine(now: now) }
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

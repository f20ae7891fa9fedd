// Connections and expectations as plain Codable values, for scripts and for
// tests written in Swift: `tunwall conntrack -L -o json` and `conntrack -L
// expect -o json` print arrays of them, and the Lab library
// (LabSession.connections(), .expectations()) decodes the same JSON, so a
// test reads fields instead of parsing conntrack -L text. The fields are
// conntrack -L's, named as in the listing (src, dst, sport, dport, packets,
// bytes, the TCP state, the seconds left, the status flags as Linux names
// them: ASSURED, SEEN_REPLY, SRC_NAT, DST_NAT, EXPECTED, SEQ_ADJUST).
//
//   {"id":3,"family":"ipv4","protocol":"tcp","protocolNumber":6,"state":"ESTABLISHED","timeout":431999,
//    "original":{"src":"10.0.1.2","dst":"203.0.113.10","sport":40000,"dport":80,"packets":6,"bytes":412},
//    "reply":{"src":"203.0.113.10","dst":"203.0.113.1","sport":80,"dport":40000,"packets":4,"bytes":3216},
//    "status":["SEEN_REPLY","ASSURED","SRC_NAT"],"mark":0,"helper":null}

import Wire

/// One direction of a connection as conntrack -L prints it, with its counters.
public struct ConntrackTupleRecord: Codable, Sendable, Equatable {
    public var src: String
    public var dst: String
    /// Ports for TCP, UDP and SCTP.
    public var sport: UInt16?
    public var dport: UInt16?
    /// ICMP and ICMPv6 queries: type, code and identifier.
    public var type: UInt8?
    public var code: UInt8?
    public var icmpID: UInt16?
    public var packets: UInt64
    public var bytes: UInt64

    init(_ tuple: ConnTuple, packets: UInt64, bytes: UInt64) {
        src = tuple.sourceAddress.description
        dst = tuple.destinationAddress.description
        if tuple.isICMP {
            type = tuple.icmpType
            code = tuple.icmpCode
            icmpID = tuple.sourcePort
        } else if [.tcp, .udp, .sctp].contains(tuple.protocol) {
            sport = tuple.sourcePort
            dport = tuple.destinationPort
        }
        self.packets = packets
        self.bytes = bytes
    }
}

public struct ConntrackRecord: Codable, Sendable, Equatable {
    /// The entry's id (conntrack -o id), stable for its life.
    public var id: UInt32
    /// "ipv4" or "ipv6".
    public var family: String
    /// "tcp", "udp", "icmp", "icmpv6", …
    public var `protocol`: String
    public var protocolNumber: UInt8
    /// TCP only: SYN_SENT, ESTABLISHED, TIME_WAIT, …
    public var state: String?
    /// Seconds before the entry expires.
    public var timeout: UInt64
    public var original: ConntrackTupleRecord
    public var reply: ConntrackTupleRecord
    public var status: [String]
    public var mark: UInt32
    /// The helper following it ("ftp", "tftp"), if any.
    public var helper: String?

    public var isAssured: Bool { status.contains("ASSURED") }

    public init(_ entry: ConnEntry, now: Timestamp) {
        id = entry.id
        family = entry.original.family == .ipv4 ? "ipv4" : "ipv6"
        `protocol` = ConnEntry.protocolName(entry.original.protocol)
        protocolNumber = entry.original.protocol.rawValue
        state = entry.original.protocol == .tcp ? entry.tcpState.description : nil
        timeout = entry.secondsLeft(now: now)
        original = ConntrackTupleRecord(entry.original, packets: entry.packets.original, bytes: entry.bytes.original)
        reply = ConntrackTupleRecord(entry.reply, packets: entry.packets.reply, bytes: entry.bytes.reply)
        status = Self.statusNames.filter { entry.status.contains($0.0) }.map(\.1)
        mark = entry.mark
        helper = entry.helper == .none ? nil : "\(entry.helper)"
    }

    /// Linux's names for the status bits (enum ip_conntrack_status).
    static let statusNames: [(ConnStatus, String)] = [
        (.expected, "EXPECTED"), (.seenReply, "SEEN_REPLY"), (.assured, "ASSURED"),
        (.sourceNAT, "SRC_NAT"), (.destinationNAT, "DST_NAT"), (.sequenceAdjusted, "SEQ_ADJUST"),
    ]
}

/// One expectation, as conntrack -L expect prints it.
public struct ExpectationRecord: Codable, Sendable, Equatable {
    /// Seconds before it expires unused.
    public var timeout: UInt64
    public var family: String
    public var protocolNumber: UInt8
    /// Who may connect (the expected source; any port) to where.
    public var src: String
    public var dst: String
    public var dport: UInt16
    /// The control connection that announced it.
    public var master: ConntrackTupleRecord
    public var helper: String

    public init(_ expectation: ConnExpectation, now: Timestamp) {
        timeout = expectation.secondsLeft(now: now)
        let key = expectation.key
        family = key.family == .ipv4 ? "ipv4" : "ipv6"
        protocolNumber = key.protocol.rawValue
        src = key.family == .ipv4 ? key.source.lowIPv4.description : key.source.description
        dst = key.family == .ipv4 ? key.destination.lowIPv4.description : key.destination.description
        dport = key.destinationPort
        master = ConntrackTupleRecord(expectation.masterTuple, packets: 0, bytes: 0)
        helper = "\(expectation.helper)"
    }
}

extension Conntrack {
    /// Every live entry, oldest first, as records.
    public func records(now: Timestamp) -> [ConntrackRecord] {
        table.livePositions(now: now)
            .sorted { table[$0].id < table[$1].id }
            .map { ConntrackRecord(table[$0], now: now) }
    }

    public func expectationRecords(now: Timestamp) -> [ExpectationRecord] {
        expectations.all.filter { isAlive($0, now: now) }.map { ExpectationRecord($0, now: now) }
    }
}

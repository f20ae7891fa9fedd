// The connection-helper interface: what the engine gives a helper (FTP,
// TFTP) and what a helper gives back. A helper reads the packets of the
// connections a rule gave it (`ct helper set`), in order, after NAT, and
// says what it wants done; the engine does it. Only the engine touches the
// flow table, held packets and devices. The one thing a helper does itself
// is to expect connections, through `ExpectationRegistrar`, because where it
// can expect one decides what it writes (under NAT an FTP helper takes the
// next free port and announces that one), as Linux's helpers call
// nf_ct_expect_related and then mangle the payload (nf_nat_ftp).
//
//   engine                                  helper
//   first packet, after confirm    ──▶      start(…)          events
//   each later packet              ──▶      process(…)        verdict, seq adjustments, events
//   tick, when a deadline passed   ──▶      releaseExpired(…) held bytes to send unchanged
//
// Adding a helper: a type conforming to ConnectionHelper in its own target,
// a case of HelperKind with its nft type name and transport, and one line in
// the engine's HelperRegistry. docs/ARCHITECTURE.md works through TFTP.

import Wire

/// One packet of a helper's connection, as the helper reads it.
public struct HelperPacket {
    public var direction: Direction
    /// TCP: the segment's sequence number in its sender's numbering; 0 for UDP.
    public var sequence: SeqNumber
    /// TCP flags; empty for UDP.
    public var flags: TCPFlags
    /// TCP with ACK: how much of the other direction's stream the packet's
    /// sender has received, in that stream's sender's numbering (the engine
    /// undoes the helper's own length changes). What it acknowledges will
    /// never be needed again, so a helper can free what it kept for it.
    public var acknowledged: SeqNumber?
    /// The transport payload (valid during the call only).
    public var payload: UnsafeRawBufferPointer
    public var now: Timestamp

    public init(direction: Direction, sequence: SeqNumber = SeqNumber(0), flags: TCPFlags = [],
                acknowledged: SeqNumber? = nil, payload: UnsafeRawBufferPointer, now: Timestamp) {
        self.direction = direction
        self.sequence = sequence
        self.flags = flags
        self.acknowledged = acknowledged
        self.payload = payload
        self.now = now
    }
}

/// The connection a helper follows: its entry (read-only) and table position
/// (what an expectation names as its master).
public struct HelperConnection {
    public var entry: ConnEntry
    public var position: Int

    public init(entry: ConnEntry, position: Int) {
        self.entry = entry
        self.position = position
    }
}

/// What the engine does with the packet.
public enum HelperVerdict: Equatable, Sendable {
    /// Forward it as it is.
    case unchanged
    /// Forward it with this payload at this (sender's) sequence number; the
    /// engine's sequence adjustment moves it afterwards.
    case replaced(start: SeqNumber, payload: [UInt8])
    /// Nothing to send now: the helper holds the bytes (to complete a line).
    case held
    /// Drop it: the helper will read it when it is resent in order.
    case outOfOrder
    /// The helper's policy ends the connection: a reset both ways.
    case refused
}

/// An expectation as traces and logs show it.
public struct ExpectationNote: Equatable, Sendable {
    public var source: String
    public var destination: String
    public var destinationPort: UInt16
    /// Where the expected connection goes on to, when NAT moves it ("10.0.1.2:50000").
    public var to: String?

    public init(source: String, destination: String, destinationPort: UInt16, to: String? = nil) {
        self.source = source
        self.destination = destination
        self.destinationPort = destinationPort
        self.to = to
    }
}

/// Something a helper did or refused, counted (`tunwall stats`), logged as
/// one line and traced as one step.
public struct HelperEvent: Sendable {
    public var helper: HelperKind
    /// Index into the helper type's `counters`.
    public var counter: Int
    /// The event's name in traces (docs/trace-schema.md): parsed, expect, rewrite, refuse, …
    public var name: String
    /// The connection, as its sender sees it ("10.0.1.2:40000 → 203.0.113.10:21").
    public var connection: String
    /// What happened (empty: counted only).
    public var text: String
    /// The line read, and what it became (rewrite events).
    public var line: String?
    public var rewritten: String?
    public var expectation: ExpectationNote?

    public init(helper: HelperKind, counter: Int, name: String, connection: String, text: String,
                line: String? = nil, rewritten: String? = nil, expectation: ExpectationNote? = nil) {
        self.helper = helper
        self.counter = counter
        self.name = name
        self.connection = connection
        self.text = text
        self.line = line
        self.rewritten = rewritten
        self.expectation = expectation
    }

    /// One line for the log ("" when there is nothing to say).
    public var message: String { text.isEmpty ? "" : "\(connection): \(text)" }
}

/// What the helper wants done with one packet.
public struct HelperOutcome {
    public var verdict: HelperVerdict
    /// Length changes of the stream: from `at` on, `direction`'s sequence
    /// numbers move by `delta` (IPS_SEQ_ADJUST; the engine records them).
    public var adjustments: [(direction: Direction, at: SeqNumber, delta: Int32)]
    public var events: [HelperEvent]

    public init(verdict: HelperVerdict = .unchanged, adjustments: [(direction: Direction, at: SeqNumber, delta: Int32)] = [],
                events: [HelperEvent] = []) {
        self.verdict = verdict
        self.adjustments = adjustments
        self.events = events
    }
}

/// The helper's window on the expectation table (nf_ct_expect_related,
/// nf_ct_unexpect_related): all it may change of conntrack.
public protocol ExpectationRegistrar {
    /// Expects a connection; a clash with another master's, or a full table, is refused.
    mutating func expect(_ expectation: ConnExpectation, now: Timestamp) -> Result<Void, ExpectationRefusal>
    /// Removes an expectation (the server refused the port it named).
    @discardableResult mutating func unexpect(_ key: ExpectationKey) -> ConnExpectation?
    /// How many expectations one master may have (the helper's max_expected).
    mutating func limitExpectations(perMaster: Int)
}

extension Conntrack: ExpectationRegistrar {
    @discardableResult
    public mutating func unexpect(_ key: ExpectationKey) -> ConnExpectation? { expectations.remove(key) }

    public mutating func limitExpectations(perMaster: Int) { expectations.maximumPerMaster = max(1, perMaster) }
}

/// A helper for one connection. Instances live as long as their connection;
/// the engine calls them from its one thread.
public protocol ConnectionHelper: AnyObject {
    /// What it counts, by `HelperEvent.counter` (lines of `tunwall stats`).
    static var counters: [String] { get }
    /// The counter of connections its expectations let in (RELATED).
    static var relatedCounter: Int { get }

    /// The connection's first packet, after it was confirmed (a TCP SYN, the
    /// first UDP datagram): the packet is forwarded as it is.
    func start(_ packet: HelperPacket, connection: HelperConnection,
               expectations: inout some ExpectationRegistrar) -> [HelperEvent]

    /// Every later packet with or without payload, in both directions.
    func process(_ packet: HelperPacket, connection: HelperConnection,
                 expectations: inout some ExpectationRegistrar) -> HelperOutcome

    /// The bytes held in `direction`, in the sender's numbering [start, end), if any.
    func heldRange(_ direction: Direction) -> (start: SeqNumber, end: SeqNumber)?

    /// When held bytes must go out at the latest (nil: none held).
    var releaseDeadline: Timestamp? { get }

    /// Held bytes whose time is up, per direction, to send unchanged.
    func releaseExpired(now: Timestamp) -> (released: [(Direction, SeqNumber, [UInt8])], events: [HelperEvent])

    /// Bytes of memory the helper holds for its connection now (its object
    /// and the storage it owns), for `tunwall stats`.
    var memoryFootprint: Int { get }
}

extension ConnectionHelper {
    public func heldRange(_ direction: Direction) -> (start: SeqNumber, end: SeqNumber)? { nil }
    public var releaseDeadline: Timestamp? { nil }
    public func releaseExpired(now: Timestamp) -> (released: [(Direction, SeqNumber, [UInt8])], events: [HelperEvent]) {
        ([], [])
    }
}

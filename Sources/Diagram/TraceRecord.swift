// The trace as `tunwall run --trace-json` writes it (docs/trace-schema.md,
// version 1): a header describing the firewall, then one record per packet.
// Only what the diagram and its table show is kept; unknown keys are ignored.

/// A whole trace file.
public struct Trace: Sendable {
    public var header: TraceHeader
    public var packets: [TracePacket]

    public init(header: TraceHeader, packets: [TracePacket]) {
        self.header = header
        self.packets = packets
    }
}

/// The first line: when the firewall started and its interfaces, in order.
public struct TraceHeader: Sendable {
    public var start: String?
    public var interfaces: [TraceInterface]

    public init(start: String?, interfaces: [TraceInterface]) {
        self.start = start
        self.interfaces = interfaces
    }
}

/// One firewall interface and the host on its other end.
public struct TraceInterface: Sendable {
    public var name: String
    /// The lab host behind the interface; nil under `tunwall run`.
    public var host: String?
    /// The firewall's own addresses on it, with prefix length.
    public var addresses: [String]

    public init(name: String, host: String?, addresses: [String]) {
        self.name = name
        self.host = host
        self.addresses = addresses
    }

    /// The lane's name: the host, or the interface when no host is known.
    public var laneName: String { host ?? name }
}

/// How a packet came to the firewall.
public enum PacketOrigin: String, Sendable {
    case received, generated, released
}

/// What became of it.
public enum PacketVerdict: String, Sendable {
    case forward, drop, held, consumed
}

/// A packet as it arrived (`packet`) or as it left (`sent`).
public struct PacketInfo: Sendable {
    public var summary: String
    public var proto: String?
    public var src: String?
    public var dst: String?
    public var sport: Int?
    public var dport: Int?
    /// Bytes of the IP packet.
    public var length: Int?
    /// The payload of a connection with a helper, as text (FTP commands and replies).
    public var text: String?

    public init(summary: String, proto: String? = nil, src: String? = nil, dst: String? = nil,
                sport: Int? = nil, dport: Int? = nil, length: Int? = nil, text: String? = nil) {
        self.summary = summary
        self.proto = proto
        self.src = src
        self.dst = dst
        self.sport = sport
        self.dport = dport
        self.length = length
        self.text = text
    }
}

/// What an FTP `expect` step announces: `src` → `dst`:`dport`, going on to `to`.
public struct TraceExpectation: Sendable {
    public var src: String?
    public var dst: String
    public var dport: Int
    public var to: String?
}

/// One decision taken about a packet. `kind` and `text` are always there; the
/// rest depends on the kind.
public struct TraceStep: Sendable {
    /// The connection helpers' step kinds (docs/trace-schema.md): drawn alike.
    public static let helperKinds: Set<String> = ["ftp", "tftp"]

    public var kind: String
    public var text: String
    /// conntrack: `new`, `established`, `related`, `invalid`, `untracked`.
    public var state: String?
    /// conntrack: the control connection an expectation belongs to.
    public var master: String?
    /// rule: `accept`, `drop`, `reject`.
    public var verdict: String?
    /// rule: `FILE:LINE` (or `FILE:LINE policy`).
    public var location: String?
    /// ftp: `parsed`, `expect`, `rewrite`, `refuse`, `held`, `released`, `related`, ...
    public var event: String?
    /// ftp: the line read, and what it became.
    public var line: String?
    public var rewritten: String?
    public var expectation: TraceExpectation?
    /// drop: the reason's name.
    public var reason: String?

    public init(kind: String, text: String) {
        self.kind = kind
        self.text = text
    }
}

/// One packet line of the trace.
public struct TracePacket: Sendable {
    /// The line of the file it came from (1-based), for messages.
    public var fileLine: Int
    public var n: Int
    public var t: Double
    public var origin: PacketOrigin
    public var inInterface: String?
    public var packet: PacketInfo
    public var steps: [TraceStep]
    public var verdict: PacketVerdict
    public var outInterface: String?
    public var reason: String?
    public var sent: PacketInfo?
}

extension TraceStep {
    /// A step of a connection helper (FTP, TFTP).
    public var isHelper: Bool { Self.helperKinds.contains(kind) }
}

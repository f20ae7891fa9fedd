// The trace as `tunwall run --trace-json` writes it (docs/trace-schema.md,
// version 1), as Swift values: a header line describing the firewall, then one
// line per packet (TracePacket.swift) with its steps (TraceStep.swift).
//
// This is the one model of the format. The engine writes the same lines
// without Foundation (Sources/Engine/TraceRecord.swift, on the packet path);
// Tests/EngineTests/TraceSchema.swift decodes every line the engine writes
// with this model, encodes it again and requires the same JSON value, and
// requires the keys and values listed here (`keys`, `values`) to be the ones
// docs/trace-schema.md lists. Decoding is strict: a key the model does not
// know, or a value outside its list, is an error (TraceCoding.swift).

/// A whole trace file.
public struct Trace: Sendable, Equatable {
    public var header: TraceHeader
    public var packets: [TracePacket]

    public init(header: TraceHeader, packets: [TracePacket]) {
        self.header = header
        self.packets = packets
    }
}

/// One line of a trace file: the header or a packet.
public enum TraceLine: Sendable, Equatable {
    case header(TraceHeader)
    case packet(TracePacket)
}

/// The first line: when the firewall started and its interfaces, in order.
public struct TraceHeader: Sendable, Equatable {
    /// RFC 3339, UTC.
    public var start: String
    public var interfaces: [TraceInterface]

    public static let keys = ["v", "type", "start", "interfaces"]

    public init(start: String, interfaces: [TraceInterface]) {
        self.start = start
        self.interfaces = interfaces
    }
}

/// A lab host on a segment: its name, MAC address and addresses (no prefix length).
public struct TraceSegmentMember: Sendable, Equatable {
    public var host: String
    public var mac: String?
    public var addresses: [String]

    public static let keys = ["host", "mac", "addresses"]

    public init(host: String, mac: String?, addresses: [String]) {
        self.host = host
        self.mac = mac
        self.addresses = addresses
    }
}

/// One firewall interface and the host on its other end.
public struct TraceInterface: Sendable, Equatable {
    public var name: String
    /// The lab host behind the interface; nil (JSON null) under `tunwall run`.
    public var host: String?
    /// The firewall's own addresses on it, with prefix length.
    public var addresses: [String]
    /// On an Ethernet segment: the lab's hosts there (absent from the JSON when empty).
    public var segment: [TraceSegmentMember]

    public static let keys = ["name", "host", "addresses", "segment"]

    public init(name: String, host: String?, addresses: [String], segment: [TraceSegmentMember] = []) {
        self.name = name
        self.host = host
        self.addresses = addresses
        self.segment = segment
    }

    /// The lane's name: the host, or the interface when no host is known.
    public var laneName: String { host ?? name }
}

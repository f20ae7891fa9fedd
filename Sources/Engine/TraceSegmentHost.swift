// A host on a firewall interface's Ethernet segment, as the trace header
// names it (docs/trace-schema.md, an interface's "segment"): what the lab
// knows and the firewall does not, so that a diagram can give each host on
// a segment a lane of its own. `lab up` hands them to `tunwall run` in one
// hidden option, `--segments`, whose text this type reads and writes:
//
//   lan0=client1/a6:23:d7:6b:0a:af/10.0.1.2/fd00:1::2,client2/02:00:00:00:00:02/10.0.1.3;dmz0=...
//
// (interfaces by ";", hosts by ",", a host's name, MAC (may be empty) and
// addresses by "/": none of them contains those characters).

public struct TraceSegmentHost: Sendable, Equatable {
    public var host: String
    public var mac: String?
    /// Without prefix length.
    public var addresses: [String]

    public init(host: String, mac: String?, addresses: [String]) {
        self.host = host
        self.mac = mac
        self.addresses = addresses
    }

    var json: TraceJSON {
        .object([("host", .string(host)), ("mac", mac.map { .string($0) } ?? .null),
                 ("addresses", .array(addresses.map { .string($0) }))])
    }

    /// The `--segments` text for `segments` (interface name → hosts), in name order.
    public static func optionText(_ segments: [String: [TraceSegmentHost]]) -> String {
        segments.keys.sorted().map { name in
            name + "=" + (segments[name] ?? []).map { ([$0.host, $0.mac ?? ""] + $0.addresses).joined(separator: "/") }
                .joined(separator: ",")
        }.joined(separator: ";")
    }

    /// The hosts `optionText` wrote; pieces without a name are left out.
    public static func parseOption(_ text: String) -> [String: [TraceSegmentHost]] {
        var result: [String: [TraceSegmentHost]] = [:]
        for entry in text.split(separator: ";") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            result[String(parts[0])] = parts[1].split(separator: ",").compactMap { member in
                let fields = member.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                guard let host = fields.first, !host.isEmpty else { return nil }
                let mac = fields.count > 1 && !fields[1].isEmpty ? fields[1] : nil
                return TraceSegmentHost(host: host, mac: mac, addresses: Array(fields.dropFirst(2)))
            }
        }
        return result
    }
}

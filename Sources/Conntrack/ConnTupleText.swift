// Tuples as people read them in logs, traces and helper events:
// "10.0.1.2:40000 → 203.0.113.10:21", "[2001:db8::1]:21", addresses held
// IPv4-mapped printed as dotted quads.

import Wire

extension ConnTuple {
    /// "10.0.1.2:40000 → 203.0.113.10:21" ("[2001:db8::1]:40000" for IPv6).
    public var endpoints: String { endpoints(arrow: "→") }

    /// The same with another arrow (traces use ASCII "->").
    public func endpoints(arrow: String) -> String {
        "\(Self.endpoint(sourceAddress, sourcePort)) \(arrow) \(Self.endpoint(destinationAddress, destinationPort))"
    }

    public static func endpoint(_ address: IPAddress, _ port: UInt16) -> String {
        address.isV4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }

    public static func text(_ address: IPv6Address, family: AddressFamily) -> String {
        family == .ipv4 ? address.lowIPv4.description : address.description
    }

    public static func endpoint(_ address: IPv6Address, _ port: UInt16, family: AddressFamily) -> String {
        family == .ipv4 ? "\(text(address, family: family)):\(port)" : "[\(text(address, family: family))]:\(port)"
    }
}

// An address assigned to an interface together with the length of its
// subnet, as `ip addr add 10.0.1.1/24` takes it: unlike a prefix, the host
// bits are the point. "10.0.1.1/24" is the address 10.0.1.1 on 10.0.1.0/24.

public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(address: IPAddress, prefixLength: Int) {
        switch address {
        case .v4: guard (0...32).contains(prefixLength) else { return nil }
        case .v6: guard (0...128).contains(prefixLength) else { return nil }
        }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// "ADDRESS/LENGTH"; a bare address gets /32 or /128.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        let length: Int
        if parts.count == 2 {
            // The prefix parser already knows what a valid length looks like.
            guard let prefix = IPPrefix(text) else { return nil }
            length = prefix.length
        } else {
            length = address.isV4 ? 32 : 128
        }
        self.init(address: address, prefixLength: length)
    }

    /// The subnet: the address with its host bits cleared.
    public var prefix: IPPrefix { IPPrefix(address: address, length: prefixLength)! }

    public var description: String { "\(address)/\(prefixLength)" }
}

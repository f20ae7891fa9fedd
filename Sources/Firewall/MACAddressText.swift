// MAC addresses as configs and topologies write them: "02:00:5e:10:00:01".
// Kept as text (lowercase) because only `ip link ... address` and the TAP
// device read them; a multicast or all-zero address would make a device
// nobody can send to, so it is refused where it is written.

extension ConfigValue {
    /// The address in lowercase, or nil unless it is six hex pairs joined by
    /// ":" naming a unicast address other than 00:00:00:00:00:00.
    package static func macAddress(_ text: String) -> String? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard part.utf8.count == 2, let octet = UInt8(part, radix: 16) else { return nil }
            octets.append(octet)
        }
        guard octets[0] & 1 == 0, octets.contains(where: { $0 != 0 }) else { return nil }
        return octets.map(hexPair).joined(separator: ":")
    }

    /// A locally administered unicast address (first octet xxxxxx10) from
    /// eight bytes of a hash: what the lab gives a host that names none.
    package static func localMAC(fromHash hash: UInt64) -> String {
        var octets = (0..<6).map { UInt8(truncatingIfNeeded: hash >> (8 * UInt64($0))) }
        octets[0] = (octets[0] & 0xfc) | 0x02
        return octets.map(hexPair).joined(separator: ":")
    }

    private static func hexPair(_ octet: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(octet >> 4)], digits[Int(octet & 0xf)]])
    }
}

// The values a configuration file spells as strings, each checked with a
// message that says what is wrong with it:
//
//   "10.0.1.1/33"   → prefix length 33 is out of range 0...32
//   "10.0.1.5/24"   → has host bits set (did you mean "10.0.1.0/24"?)   (for a route's "to")
//   "10.0.1.1"      → needs a prefix length, e.g. "10.0.1.1/24"        (for an interface address)
//   "lan0-uplink-1x"→ is too long for an interface name (16 characters, at most 15)

import Wire

package enum ConfigValue {
    /// A route's "to" and optional "via", checked against each other (the
    /// same for the firewall's routes and the hosts').
    package static func routeTarget(_ object: JSONObjectReader, at path: JSONPath,
                            file: String) throws(ConfigError) -> (IPPrefix, IPAddress?) {
        let destinationText = try object.string("to")
        var gateway: IPAddress?
        if let via = try object.optionalString("via") {
            gateway = try address(via, at: path.key("via"), file: file)
        }
        let destination = try destination(destinationText, via: gateway, at: path.key("to"),
                                          viaPath: path.key("via"), file: file)
        return (destination, gateway)
    }

    package static let nameCharacters = "A-Z a-z 0-9 _ . -"

    package static func isNameCharacter(_ c: Character, allowingDash: Bool) -> Bool {
        guard c.isASCII else { return false }
        return c.isLetter || c.isNumber || c == "_" || c == "." || (allowingDash && c == "-")
    }

    /// A Linux network device name: at most 15 bytes (IFNAMSIZ − 1), and
    /// characters that need no quoting anywhere.
    package static func deviceName(_ name: String) -> String? {
        let valid = "(1 to 15 characters of \(nameCharacters))"
        if name.isEmpty || name == "." || name == ".." || !name.allSatisfy({ isNameCharacter($0, allowingDash: true) }) {
            return "\(quoted(name)) is not a valid interface name \(valid)"
        }
        if name.utf8.count > 15 {
            return "\(quoted(name)) is too long for an interface name (\(name.utf8.count) characters, at most 15)"
        }
        return nil
    }

    /// A network namespace name given in a firewall config (a file name under /run/netns).
    package static func namespaceName(_ name: String) -> String? {
        if name.isEmpty || name == "." || name == ".." || name.utf8.count > 64
            || !name.allSatisfy({ isNameCharacter($0, allowingDash: true) }) {
            return "\(quoted(name)) is not a valid namespace name (1 to 64 characters of \(nameCharacters))"
        }
        return nil
    }

    /// An IP address, v4 or v6.
    package static func address(_ text: String, at path: JSONPath, file: String) throws(ConfigError) -> IPAddress {
        guard let address = IPAddress(text) else {
            throw ConfigError.config(file, path, "\(quoted(text)) is not an IP address")
        }
        return address
    }

    /// "ADDRESS/LENGTH" as `ip addr add` takes it; the length is required.
    package static func interfaceAddress(_ text: String, at path: JSONPath, file: String) throws(ConfigError) -> InterfaceAddress {
        let (address, length) = try addressAndLength(text, at: path, file: file)
        guard let length else {
            let example = address.isV4 ? "\(address)/24" : "\(address)/64"
            throw ConfigError.config(file, path, "\(quoted(text)) needs a prefix length, e.g. \(quoted(example))")
        }
        return InterfaceAddress(address: address, prefixLength: length)!
    }

    /// A route destination: "NETWORK/LENGTH" with no host bits, or a bare
    /// address for a host route. "default" is the caller's business.
    package static func prefix(_ text: String, at path: JSONPath, file: String) throws(ConfigError) -> IPPrefix {
        let (address, length) = try addressAndLength(text, at: path, file: file)
        let prefix = IPPrefix(address: address, length: length ?? (address.isV4 ? 32 : 128))!
        if !sameAddress(prefix, address) {
            throw ConfigError.config(file, path, "\(quoted(text)) has host bits set (did you mean \(quoted(prefix.description))?)")
        }
        return prefix
    }

    private static func sameAddress(_ prefix: IPPrefix, _ address: IPAddress) -> Bool {
        switch (prefix, address) {
        case (.v4(let p), .v4(let a)): return p.network == a
        case (.v6(let p), .v6(let a)): return p.network == a
        default: return false
        }
    }

    private static func addressAndLength(
        _ text: String, at path: JSONPath, file: String
    ) throws(ConfigError) -> (IPAddress, Int?) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let addressText = String(parts[0])
        guard let address = IPAddress(addressText) else {
            if parts.count == 2 {
                throw ConfigError.config(file, path, "\(quoted(text)): \(quoted(addressText)) is not an IP address")
            }
            throw ConfigError.config(file, path, "\(quoted(text)) is not an IP address")
        }
        guard parts.count == 2 else { return (address, nil) }
        let lengthText = String(parts[1])
        let maximum = address.isV4 ? 32 : 128
        // Digits only, no sign, no leading zero (as the Wire prefix parser wants).
        guard !lengthText.isEmpty, lengthText.count <= 3, lengthText.allSatisfy({ $0.isASCII && $0.isNumber }),
              lengthText == "0" || !lengthText.hasPrefix("0"), let length = Int(lengthText) else {
            throw ConfigError.config(file, path, "\(quoted(text)): \(quoted(lengthText)) is not a prefix length")
        }
        guard length <= maximum else {
            throw ConfigError.config(file, path, "\(quoted(text)): prefix length \(length) is out of range 0...\(maximum)")
        }
        return (address, length)
    }

    /// "default" as the family of `via` asks, or a prefix; then `via` must be
    /// of the same family as the destination.
    package static func destination(
        _ text: String, via: IPAddress?, at path: JSONPath, viaPath: JSONPath, file: String
    ) throws(ConfigError) -> IPPrefix {
        if text == "default" {
            switch via {
            case .v4?: return IPPrefix("0.0.0.0/0")!
            case .v6?: return IPPrefix("::/0")!
            case nil:
                throw ConfigError.config(file, path, "\"default\" needs \"via\" to tell IPv4 from IPv6 (or write \"0.0.0.0/0\" or \"::/0\")")
            }
        }
        let prefix = try prefix(text, at: path, file: file)
        if let via, via.isV4 != isV4(prefix) {
            throw ConfigError.config(file, viaPath, "\(via) is \(via.isV4 ? "IPv4" : "IPv6")"
                + " but \"to\" \(prefix) is \(isV4(prefix) ? "IPv4" : "IPv6")")
        }
        return prefix
    }

    package static func isV4(_ prefix: IPPrefix) -> Bool {
        if case .v4 = prefix { return true }
        return false
    }
}

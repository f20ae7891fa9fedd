// FTPEndpoint: an address and TCP port as the FTP peers use them, and the
// four ways FTP writes one on the control channel:
//
//   PORT h1,h2,h3,h4,p1,p2                  RFC 959 §4.1.2 (IPv4 only)
//   227 Entering Passive Mode (h1,...,p2)   RFC 959 §4.1.2, read as RFC 1123 §4.1.2.6 says
//   EPRT |1|132.235.1.2|6275|               RFC 2428 §2 (|2| for IPv6)
//   229 Entering Extended Passive Mode (|||6446|)   RFC 2428 §3
//
// This is deliberately a second, independent reading of these lines: the
// FTP module's parser is what the firewall's helper uses, and these peers
// exist to test that helper from outside, so they must not share its bugs.
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a dual-stack socket
// reports for an IPv4 peer) are kept as the IPv4 address they stand for, so
// that a session on a `::` listener compares and announces plain IPv4.

#if canImport(Glibc)
import Glibc
#endif
import Wire

/// An IP address and TCP port: "10.0.1.2:50000", "[fd00:1::2]:50000".
public struct FTPEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    /// An IPv4-mapped IPv6 address becomes the IPv4 address it maps.
    public init(address: IPAddress, port: UInt16) {
        if case .v6(let v6) = address, let v4 = v6.ipv4Mapped {
            self.address = .v4(v4)
        } else {
            self.address = address
        }
        self.port = port
    }

    public var description: String {
        switch address {
        case .v4(let a): return "\(a):\(port)"
        case .v6(let a): return "[\(a)]:\(port)"
        }
    }

    var family: Int32 { address.isV4 ? AF_INET : AF_INET6 }

    /// Parses "ADDR", "ADDR:PORT", "[V6]", "[V6]:PORT" or a bare IPv6 address
    /// (two colons or more: no port can be told apart). Names are not looked
    /// up: the lab has no resolver, and an address is what the tests mean.
    public static func parse(_ text: String, defaultPort: UInt16) -> FTPEndpoint? {
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
            guard IPv6Address(String(host)) != nil else { return nil }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard let address = IPAddress(String(host)) else { return nil }
        var port = defaultPort
        if let portText {
            guard !portText.isEmpty, portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber),
                  portText.count <= 5, let value = UInt16(portText) else { return nil }
            port = value
        }
        return FTPEndpoint(address: address, port: port)
    }

    // MARK: - PORT and 227: h1,h2,h3,h4,p1,p2

    /// "h1,h2,h3,h4,p1,p2", or nil for an IPv6 address (PORT and 227 cannot name one).
    public var portArgument: String? {
        guard case .v4(let a) = address else { return nil }
        let (h1, h2, h3, h4) = a.octets
        return "\(h1),\(h2),\(h3),\(h4),\(port >> 8),\(port & 0xff)"
    }

    /// Reads PORT's argument: exactly six decimal numbers 0...255 separated
    /// by commas (RFC 959 §4.1.2, "host-port"), nothing around them.
    public static func parsePortArgument(_ text: some StringProtocol) -> FTPEndpoint? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var numbers: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = UInt8(part) else { return nil }
            numbers.append(value)
        }
        let address = IPv4Address(numbers[0], numbers[1], numbers[2], numbers[3])
        return FTPEndpoint(address: .v4(address), port: UInt16(numbers[4]) << 8 | UInt16(numbers[5]))
    }

    /// The endpoint of a 227 reply. RFC 1123 §4.1.2.6: the reply's text is
    /// not standardized beyond the six numbers, so the client "must scan the
    /// reply for the first digit of the host and port numbers" (some servers
    /// leave out the parentheses). The numbers end at the first character
    /// that is neither a digit nor a comma.
    public static func parsePassiveReply(_ text: some StringProtocol) -> FTPEndpoint? {
        let body = text.drop { !($0.isASCII && $0.isNumber) }
        return parsePortArgument(body.prefix { ($0.isASCII && $0.isNumber) || $0 == "," })
    }

    // MARK: - EPRT and 229: |proto|address|port|

    /// "|1|132.235.1.2|6275|" or "|2|fd00:1::2|6275|" (RFC 2428 §2).
    public var eprtArgument: String {
        "|\(address.isV4 ? 1 : 2)|\(address)|\(port)|"
    }

    public enum EPRTError: Error, Equatable, Sendable {
        /// Not |proto|address|port| (501).
        case syntax
        /// A network protocol other than 1 (IPv4) and 2 (IPv6) (522).
        case unsupportedProtocol
    }

    /// Reads EPRT's argument. RFC 2428 §2: the delimiter is the first
    /// character, any printable ASCII character (33...126), "|" recommended;
    /// then the protocol (1 or 2), the address in its family's text form, the
    /// port in decimal, each ended by the delimiter.
    public static func parseEPRTArgument(_ text: some StringProtocol) -> Result<FTPEndpoint, EPRTError> {
        guard let delimiter = text.first, let ascii = delimiter.asciiValue, (33...126).contains(ascii),
              !(delimiter.isNumber || delimiter.isLetter || delimiter == "." || delimiter == ":") else {
            return .failure(.syntax)
        }
        let fields = text.split(separator: delimiter, omittingEmptySubsequences: false)
        // "" before the first delimiter, proto, address, port, "" after the last.
        guard fields.count == 5, fields[0].isEmpty, fields[4].isEmpty else { return .failure(.syntax) }
        guard fields[3].count <= 5, fields[3].allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = UInt16(fields[3]) else { return .failure(.syntax) }
        switch fields[1] {
        case "1":
            guard let address = IPv4Address(String(fields[2])) else { return .failure(.syntax) }
            return .success(FTPEndpoint(address: .v4(address), port: port))
        case "2":
            guard let address = IPv6Address(String(fields[2])) else { return .failure(.syntax) }
            return .success(FTPEndpoint(address: .v6(address), port: port))
        default:
            return .failure(.unsupportedProtocol)
        }
    }

    /// The port of a 229 reply: "(<d><d><d><port><d>)" somewhere in its
    /// text, <d> one delimiter repeated (RFC 2428 §3: the network address is
    /// left out, it is the control connection's).
    public static func parseExtendedPassiveReply(_ text: some StringProtocol) -> UInt16? {
        guard let open = text.firstIndex(of: "(") else { return nil }
        let inside = text[text.index(after: open)...].prefix { $0 != ")" }
        guard inside.count >= 5, let d = inside.first, let ascii = d.asciiValue, (33...126).contains(ascii),
              !(d.isNumber) else { return nil }
        let fields = inside.split(separator: d, omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty, fields[1].isEmpty, fields[2].isEmpty, fields[4].isEmpty,
              (1...5).contains(fields[3].count), fields[3].allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = UInt16(fields[3]), inside.endIndex < text.endIndex else { return nil }
        return port
    }
}

// MARK: - sockaddr

extension FTPEndpoint {
    /// Calls `body` with this endpoint as a sockaddr_in or sockaddr_in6.
    func withSocketAddress<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch address {
        case .v4(let a):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr = in_addr(s_addr: a.value.bigEndian)
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let a):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { a.store(to: $0, at: 0) }
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// The endpoint in a sockaddr_storage that getsockname(2), getpeername(2)
    /// or accept(2) filled in; nil for any family but AF_INET and AF_INET6.
    init?(_ storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let sin = withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in.self) }
            self.init(address: .v4(IPv4Address(UInt32(bigEndian: sin.sin_addr.s_addr))), port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in6.self) }
            let address = withUnsafeBytes(of: sin6.sin6_addr) { IPv6Address(loadingFrom: $0, at: 0) }
            self.init(address: .v6(address), port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }
}

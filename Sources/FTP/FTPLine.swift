// Reading one line of an FTP control connection (RFC 959, RFC 2428, RFC 1123
// §4.1.2.6): what a client's command or a server's reply says about data
// connections. Lines come without their line end (CRLF, or a bare LF).
//
// Client commands: `PORT h1,h2,h3,h4,p1,p2`, `EPRT |1|192.0.2.7|6446|`,
// `EPRT |2|2001:db8::7|6446|` (any delimiter from 33 to 126, the same
// four times), `PASV`, `EPSV`, `EPSV ALL`, `AUTH TLS`, `CCC`; verbs in any case.
// Server replies: a three-digit code, then a space (the last line of a reply)
// or a hyphen (a multi-line reply goes on); `227` is scanned from the first
// digit after the code, as RFC 1123 tells clients to, and `229` needs "(" and
// the same delimiter three times before the port and once after it.
//
// Stricter than Linux where Linux is known to be unsafe (docs/REFERENCE.md): a
// number above 255 in PORT/227, or a port above 65535, is an error here,
// where nf_conntrack_ftp lets it wrap around.
//
// Example: "PORT 10,0,1,2,195,80" gives address 10.0.1.2, port 50000, and the
// byte range of "10,0,1,2,195,80", which a NAT rewrite replaces.

import Conntrack
import Wire

/// A data connection announced on the control connection.
public struct FTPAnnouncement: Equatable, Sendable {
    public enum Kind: Equatable, Sendable, CustomStringConvertible {
        /// Client, active: `PORT`.
        case port
        /// Client, active: `EPRT`.
        case eprt
        /// Server, passive: `227 Entering Passive Mode (…)`.
        case passive
        /// Server, extended passive: `229 Entering Extended Passive Mode (|||port|)`.
        case extendedPassive

        public var description: String {
            switch self {
            case .port: return "PORT"
            case .eprt: return "EPRT"
            case .passive: return "227"
            case .extendedPassive: return "229"
            }
        }
    }

    public var kind: Kind
    /// The announced address, IPv4 held IPv4-mapped as in ConnTuple; nil for
    /// 229, which names only a port (the address is the control connection's).
    public var address: IPv6Address?
    public var family: AddressFamily
    public var port: UInt16
    /// EPRT's and 229's delimiter, kept for the rewritten text.
    public var delimiter: UInt8
    /// The bytes of the line a NAT rewrite replaces: the numbers of PORT and
    /// 227, everything from the first to the last delimiter of EPRT and 229.
    public var argument: Range<Int>

    public init(kind: Kind, address: IPv6Address?, family: AddressFamily, port: UInt16, delimiter: UInt8 = 0,
                argument: Range<Int>) {
        self.kind = kind
        self.address = address
        self.family = family
        self.port = port
        self.delimiter = delimiter
        self.argument = argument
    }

    /// The argument text for another address and port, in this announcement's
    /// own form (Linux's nf_nat_ftp_fmt_cmd: only the numbers change).
    public func argumentText(address: IPv6Address, port: UInt16) -> String {
        let ipv4 = family == .ipv4
        let v4 = address.lowIPv4
        let d = String(UnicodeScalar(delimiter))
        switch kind {
        case .port, .passive:
            let a = v4.value
            return "\(a >> 24),\(a >> 16 & 0xff),\(a >> 8 & 0xff),\(a & 0xff),\(port >> 8),\(port & 0xff)"
        case .eprt:
            let text = ipv4 ? v4.description : address.description
            return "\(d)\(ipv4 ? 1 : 2)\(d)\(text)\(d)\(port)\(d)"
        case .extendedPassive:
            return "\(d)\(d)\(d)\(port)\(d)"
        }
    }
}

/// Why an announcement was not taken.
public enum FTPLineError: Error, Equatable, Sendable {
    /// A number above 255 in PORT/227, or a port above 65535.
    case numberOutOfRange
    /// Not the syntax the RFC gives.
    case malformed
}

/// What a client line is, as far as the helper cares.
public enum FTPCommand: Equatable, Sendable {
    case port(Result<FTPAnnouncement, FTPLineError>)
    case eprt(Result<FTPAnnouncement, FTPLineError>)
    case pasv
    case epsv
    /// `EPSV ALL`: from now on only EPSV (RFC 2428 §3).
    case epsvAll
    /// `AUTH TLS` / `AUTH SSL` (RFC 4217, RFC 2228).
    case auth
    /// `CCC`: clear the command channel (RFC 4217 §6).
    case ccc
    /// Any other command (counted so that replies pair with commands).
    case other
}

/// A reply line of the server.
public struct FTPReply: Equatable, Sendable {
    public var code: Int
    /// "ddd " (or "ddd" alone): the last line of a reply. "ddd-": more follow.
    public var isLast: Bool
}

public enum FTPLine {
    // MARK: Client commands

    public static func command(_ line: ArraySlice<UInt8>) -> FTPCommand {
        let verbEnd = line.firstIndex(where: { $0 == 0x20 }) ?? line.endIndex
        let verb = line[line.startIndex..<verbEnd]
        func argumentStart() -> Int {
            var i = verbEnd
            while i < line.endIndex && line[i] == 0x20 { i += 1 }
            return i
        }
        if equalsIgnoringCase(verb, "PORT") {
            return .port(parseNumbers(line, from: argumentStart(), kind: .port, requireAllText: true))
        }
        if equalsIgnoringCase(verb, "EPRT") { return .eprt(parseEPRT(line, from: argumentStart())) }
        if equalsIgnoringCase(verb, "PASV") { return .pasv }
        if equalsIgnoringCase(verb, "EPSV") {
            let rest = line[argumentStart()...]
            return equalsIgnoringCase(trimmed(rest), "ALL") ? .epsvAll : .epsv
        }
        if equalsIgnoringCase(verb, "AUTH") { return .auth }
        if equalsIgnoringCase(verb, "CCC") { return .ccc }
        return .other
    }

    /// `EPRT <d><proto><d><address><d><port><d>` (RFC 2428 §2).
    static func parseEPRT(_ line: ArraySlice<UInt8>, from start: Int) -> Result<FTPAnnouncement, FTPLineError> {
        let end = trimmedEnd(line)
        guard start < end else { return .failure(.malformed) }
        let d = line[start]
        guard (33...126).contains(d) else { return .failure(.malformed) }
        // Split the argument at the delimiter: "", proto, address, port, "".
        var fields: [Range<Int>] = []
        var fieldStart = start + 1
        for i in (start + 1)..<end where line[i] == d {
            fields.append(fieldStart..<i)
            fieldStart = i + 1
        }
        guard fields.count == 3, fieldStart == end else { return .failure(.malformed) }
        let proto = line[fields[0]]
        let family: AddressFamily
        if proto.elementsEqual([0x31]) { family = .ipv4 } else if proto.elementsEqual([0x32]) { family = .ipv6 } else {
            return .failure(.malformed)
        }
        let addressText = String(decoding: line[fields[1]], as: UTF8.self)
        let address: IPv6Address
        switch family {
        case .ipv4:
            guard let v4 = IPv4Address(addressText) else { return .failure(.malformed) }
            address = ConnTuple.wide(v4)
        case .ipv6:
            guard let v6 = IPv6Address(addressText) else { return .failure(.malformed) }
            address = v6
        }
        let port: UInt16
        switch decimal(line[fields[2]], maximum: 65535) {
        case .success(let value): port = UInt16(value)
        case .failure(let error): return .failure(error)
        }
        return .success(FTPAnnouncement(kind: .eprt, address: address, family: family, port: port, delimiter: d,
                                        argument: start..<end))
    }

    // MARK: Server replies

    /// The reply code of a line that starts with three digits and then a
    /// space, a hyphen or the end of the line; nil for any other line.
    public static func reply(_ line: ArraySlice<UInt8>) -> FTPReply? {
        guard line.count >= 3 else { return nil }
        let s = line.startIndex
        var code = 0
        for i in s..<s + 3 {
            guard isDigit(line[i]) else { return nil }
            code = code * 10 + Int(line[i] - 0x30)
        }
        guard code >= 100 else { return nil }
        if line.count == 3 { return FTPReply(code: code, isLast: true) }
        switch line[s + 3] {
        case 0x20: return FTPReply(code: code, isLast: true)
        case 0x2d: return FTPReply(code: code, isLast: false)
        default: return nil
        }
    }

    /// `227 text (h1,h2,h3,h4,p1,p2) text`: the six numbers start at the first
    /// digit after the code (RFC 1123 §4.1.2.6).
    public static func passive(_ line: ArraySlice<UInt8>) -> Result<FTPAnnouncement, FTPLineError> {
        var i = afterCode(line)
        while i < line.endIndex && !isDigit(line[i]) { i += 1 }
        guard i < line.endIndex else { return .failure(.malformed) }
        return parseNumbers(line, from: i, kind: .passive, requireAllText: false)
    }

    /// `229 text (<d><d><d>port<d>)` (RFC 2428 §3).
    public static func extendedPassive(_ line: ArraySlice<UInt8>) -> Result<FTPAnnouncement, FTPLineError> {
        // A bare "229" (or "229-") has no text at all: nothing to announce.
        guard let open = line[afterCode(line)...].firstIndex(of: 0x28), open + 4 < line.endIndex else {
            return .failure(.malformed)
        }
        let d = line[open + 1]
        guard (33...126).contains(d), line[open + 2] == d, line[open + 3] == d else { return .failure(.malformed) }
        var end = open + 4
        while end < line.endIndex && isDigit(line[end]) { end += 1 }
        guard end < line.endIndex, line[end] == d, end > open + 4 else { return .failure(.malformed) }
        switch decimal(line[(open + 4)..<end], maximum: 65535) {
        case .success(let port):
            return .success(FTPAnnouncement(kind: .extendedPassive, address: nil, family: .ipv4, port: UInt16(port),
                                            delimiter: d, argument: (open + 1)..<(end + 1)))
        case .failure(let error):
            return .failure(error)
        }
    }

    // MARK: Pieces

    /// Where a reply's text starts: after "ddd " or "ddd-", or the end of a
    /// line that is the bare code (a server may answer "229" and nothing else).
    static func afterCode(_ line: ArraySlice<UInt8>) -> Int {
        line.count > 4 ? line.startIndex + 4 : line.endIndex
    }

    /// h1,h2,h3,h4,p1,p2 from `start`: six decimal numbers of at most three
    /// digits, each at most 255. With `requireAllText` (PORT) nothing but
    /// spaces may follow; 227 may have any text after the numbers.
    static func parseNumbers(_ line: ArraySlice<UInt8>, from start: Int, kind: FTPAnnouncement.Kind,
                             requireAllText: Bool) -> Result<FTPAnnouncement, FTPLineError> {
        var numbers: [UInt32] = []
        var i = start
        var outOfRange = false
        while numbers.count < 6 {
            let digitsStart = i
            var value: UInt32 = 0
            while i < line.endIndex, isDigit(line[i]), i - digitsStart < 4 {
                value = value * 10 + UInt32(line[i] - 0x30)
                i += 1
            }
            let digits = i - digitsStart
            guard digits > 0 else { return .failure(.malformed) }
            if digits > 3 || value > 255 { outOfRange = true }
            if digits > 3 { while i < line.endIndex && isDigit(line[i]) { i += 1 } }
            numbers.append(value)
            if numbers.count < 6 {
                guard i < line.endIndex, line[i] == 0x2c else { return .failure(.malformed) }
                i += 1
            }
        }
        let argumentEnd = i
        if requireAllText {
            guard trimmedEnd(line) == argumentEnd else { return .failure(.malformed) }
        } else if i < line.endIndex && isDigit(line[i]) {
            return .failure(.malformed)
        }
        if outOfRange { return .failure(.numberOutOfRange) }
        let v4 = IPv4Address(UInt8(numbers[0]), UInt8(numbers[1]), UInt8(numbers[2]), UInt8(numbers[3]))
        let port = UInt16(numbers[4]) << 8 | UInt16(numbers[5])
        return .success(FTPAnnouncement(kind: kind, address: ConnTuple.wide(v4), family: .ipv4, port: port,
                                        argument: start..<argumentEnd))
    }

    static func decimal(_ digits: ArraySlice<UInt8>, maximum: Int) -> Result<Int, FTPLineError> {
        guard !digits.isEmpty, digits.allSatisfy(isDigit) else { return .failure(.malformed) }
        guard digits.count <= 5 else { return .failure(.numberOutOfRange) }
        let value = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return value <= maximum ? .success(value) : .failure(.numberOutOfRange)
    }

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// The end of the line without trailing spaces.
    static func trimmedEnd(_ line: ArraySlice<UInt8>) -> Int {
        var end = line.endIndex
        while end > line.startIndex && line[end - 1] == 0x20 { end -= 1 }
        return end
    }

    static func trimmed(_ text: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        text[text.startIndex..<trimmedEnd(text)]
    }

    /// ASCII case-insensitive comparison with an upper-case word.
    static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ word: StaticString) -> Bool {
        guard bytes.count == word.utf8CodeUnitCount else { return false }
        return word.withUTF8Buffer { w in
            for (offset, byte) in bytes.enumerated() where upper(byte) != w[offset] { return false }
            return true
        }
    }

    /// True if `bytes` (so far) could still become a line starting with `word`,
    /// or already does; ASCII case-insensitive.
    static func couldStart(_ bytes: ArraySlice<UInt8>, _ word: StaticString) -> Bool {
        word.withUTF8Buffer { w in
            for (offset, byte) in bytes.prefix(w.count).enumerated() where upper(byte) != w[offset] { return false }
            return true
        }
    }

    @inline(__always) static func upper(_ byte: UInt8) -> UInt8 {
        byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte
    }
}

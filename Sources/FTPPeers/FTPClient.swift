// FTPClient: a small FTP client for the lab (`tunwall ftp get|put|ls`, and
// the demo through this API): one transfer per session, anonymous login,
// the data connection set up the way the caller chooses, so that each of
// the four ways FTP announces a data connection can be shown and tested:
//
//   passive  PASV → 227 (h1,h2,h3,h4,p1,p2): we connect to the address in it
//   epsv     EPSV → 229 (|||port|): we connect to that port of the server
//   active   PORT h1,...,p2: the server connects to us
//   eprt     EPRT |1|addr|port| or |2|...: the server connects to us
//
// A 227's address is used as announced, as curl's --no-ftp-skip-pasv-ip and
// ftplib's trust_server_pasv_ipv4_address do: a firewall that forgets to
// rewrite it must make the transfer fail, not be papered over.
//
//   let client = FTPClient(server: FTPEndpoint(address: IPAddress("203.0.113.10")!, port: 21), mode: .active)
//   let result = try client.transfer(.get(remote: "pub/file.bin", localFile: nil))
//   result.data, result.transcript   // ["<- 220 ...", "-> USER anonymous", ...]

#if canImport(Glibc)
import Glibc
#endif
import Wire

/// How the data connection is set up.
public enum FTPDataMode: String, CaseIterable, Sendable, CustomStringConvertible {
    /// PASV (RFC 959), IPv4 only.
    case passive
    /// EPSV (RFC 2428).
    case epsv
    /// PORT (RFC 959), IPv4 only.
    case active
    /// EPRT (RFC 2428).
    case eprt

    /// The command that sets it up: PASV, EPSV, PORT, EPRT.
    public var command: String {
        switch self {
        case .passive: "PASV"
        case .epsv: "EPSV"
        case .active: "PORT"
        case .eprt: "EPRT"
        }
    }

    /// Whether the server connects to us.
    public var isActive: Bool { self == .active || self == .eprt }

    public var description: String { rawValue }
}

/// What one session does after logging in.
public enum FTPClientOperation: Equatable, Sendable {
    /// RETR `remote`, in TYPE I. The bytes go to `localFile` as they arrive
    /// (created or truncated once the server says 1xx), or into the result's
    /// `data` when it is nil.
    case get(remote: String, localFile: String?)
    /// STOR `remote`, in TYPE I, with the bytes of `localFile`.
    case put(remote: String, localFile: String)
    /// STOR `remote`, in TYPE I, with `bytes`.
    case putBytes(remote: String, bytes: [UInt8])
    /// LIST `remote` (NLST when `namesOnly`), in TYPE A (RFC 959 §4.1.3: a
    /// listing is ASCII text); nil lists the working directory. The text,
    /// as the server sent it (CRLF lines), goes into the result's `data`.
    case list(remote: String?, namesOnly: Bool)
}

/// A transfer that went through: 1xx, the data, then 2xx.
public struct FTPTransferResult: Sendable {
    /// The control channel's dialogue in order: "-> PORT 10,0,1,2,195,80",
    /// "<- 200 PORT command successful." (every line of a multi-line reply).
    public var transcript: [String]
    /// Bytes sent (put) or received (get, list) over the data connection.
    public var byteCount: Int
    /// What `get` without a file and `list` received.
    public var data: [UInt8]
    /// The data connection's ends as our socket saw them: ours, and the
    /// server's (for active modes, where the server connected from).
    public var dataLocal: FTPEndpoint
    public var dataRemote: FTPEndpoint
    /// The reply that ended the transfer (226).
    public var finalReply: FTPPeerReply
}

/// A transfer that did not go through: one line saying what failed, and the
/// dialogue up to there (what a demo shows to explain it).
public struct FTPClientError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let transcript: [String]

    public init(_ message: String, transcript: [String]) {
        self.message = message
        self.transcript = transcript
    }

    public var description: String { message }
}

public struct FTPClient: Sendable {
    /// The server's control connection endpoint (usually port 21).
    public var server: FTPEndpoint
    public var mode: FTPDataMode
    /// Seconds any one wait may take: connecting, each reply, each read or
    /// write of data, the server's data connection in active modes.
    public var timeout: Double
    public var user: String
    public var password: String
    /// Called with each transcript line as it happens (a live transcript).
    public var onTranscriptLine: (@Sendable (String) -> Void)?

    public init(server: FTPEndpoint, mode: FTPDataMode, timeout: Double = 15, user: String = "anonymous",
                password: String = "tunwall@example.org", onTranscriptLine: (@Sendable (String) -> Void)? = nil) {
        self.server = server
        self.mode = mode
        self.timeout = timeout
        self.user = user
        self.password = password
        self.onTranscriptLine = onTranscriptLine
    }

    /// Connects, logs in, sets the type, sets up the data connection in
    /// `mode`, runs `operation`, checks 1xx and 226, and says QUIT.
    public func transfer(_ operation: FTPClientOperation) throws(FTPClientError) -> FTPTransferResult {
        let session = FTPClientSession(client: self)
        do {
            return try session.run(operation)
        } catch {
            throw FTPClientError(error.description, transcript: session.transcript)
        }
    }
}

/// Where `tunwall ftp get|put|ls` goes: the server, and the path on it.
public struct FTPLocation: Equatable, Sendable {
    public var server: FTPEndpoint
    /// The path as the URL has it, without the leading "/" (relative to the
    /// login directory, RFC 1738 §3.2.2); empty for none.
    public var path: String

    public init(server: FTPEndpoint, path: String) {
        self.server = server
        self.path = path
    }

    /// "ftp://HOST[:PORT]/PATH", or "HOST[:PORT]" with the path given apart.
    /// HOST is an IPv4 address or an IPv6 address in brackets (a bare IPv6
    /// address is taken whole, without a port). %XX escapes in the path are decoded.
    public static func parse(_ text: String, path: String? = nil) throws(FTPPeerError) -> FTPLocation {
        var rest = Substring(text)
        var urlPath = ""
        if rest.lowercased().hasPrefix("ftp://") {
            rest = rest.dropFirst(6)
            if let slash = rest.firstIndex(of: "/") {
                urlPath = String(rest[rest.index(after: slash)...])
                rest = rest[..<slash]
            }
            if rest.contains("@") { throw FTPPeerError("\(text): user names in the URL are not supported (the login is anonymous)") }
            guard let decoded = percentDecoded(urlPath) else { throw FTPPeerError("\(text): a bad %-escape in the path") }
            urlPath = decoded
        } else if text.contains("://") {
            throw FTPPeerError("\(text): not an ftp:// URL")
        }
        guard let server = FTPEndpoint.parse(String(rest), defaultPort: 21) else {
            throw FTPPeerError("\(text): not an IP address with an optional port (names are not looked up)")
        }
        if path != nil, !urlPath.isEmpty { throw FTPPeerError("\(text): give the path in the URL or apart, not both") }
        return FTPLocation(server: server, path: path ?? urlPath)
    }

    static func percentDecoded(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                  let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

// The control channel's text as the FTP peers read it: command lines (RFC 959
// §4.1, §5.3) and replies, one line or several (RFC 959 §4.2).
//
// (The FTP module's FTPCommand and FTPReply are the firewall helper's view of
// the same lines; these peers read them independently, see FTPEndpoint.swift.)

import Foundation

/// A command line: the verb, upper-cased ("Commands may be in any case",
/// RFC 959 §5.3), and what follows the first space, unchanged (a path may
/// hold spaces of its own).
struct FTPCommandLine: Equatable {
    var verb: String
    var argument: String

    init(_ line: String) {
        if let space = line.firstIndex(of: " ") {
            verb = line[..<space].uppercased()
            argument = String(line[line.index(after: space)...])
        } else {
            verb = line.uppercased()
            argument = ""
        }
    }
}

/// A whole reply: its code and every line of it as it came.
public struct FTPPeerReply: Equatable, Sendable, CustomStringConvertible {
    public var code: Int
    /// The lines as received, without CRLF: "211-Features:", " EPSV", "211 End".
    public var lines: [String]

    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    /// 1yz: positive preliminary (150, 125): another reply follows.
    public var isPreliminary: Bool { (100..<200).contains(code) }
    /// 2yz: positive completion.
    public var isCompletion: Bool { (200..<300).contains(code) }

    /// The last line's text after the code: "Entering Passive Mode (...)".
    public var text: String {
        guard let last = lines.last else { return "" }
        return String(last.dropFirst(4))
    }

    /// The reply's lines joined with " | " (one line for messages).
    public var description: String { lines.joined(separator: " | ") }
}

/// Assembles replies from lines. RFC 959 §4.2: a reply is three digits and a
/// space, then text; a multi-line reply's first line has a hyphen after the
/// code and it ends at the first line that starts with the same code and a
/// space. Lines in between may be anything (even start with other digits).
struct FTPReplyAssembler {
    private var pending: FTPPeerReply?

    enum Failure: Error, Equatable {
        /// A first line that does not start with a three-digit code.
        case notAReply(String)
    }

    /// Adds a line; the reply once its last line is in, nil while it goes on.
    mutating func add(_ line: String) throws(Failure) -> FTPPeerReply? {
        if var reply = pending {
            reply.lines.append(line)
            if Self.code(of: line) == reply.code, line.dropFirst(3).first == " " || line.count == 3 {
                pending = nil
                return reply
            }
            pending = reply
            return nil
        }
        guard let code = Self.code(of: line), (100...599).contains(code) else { throw .notAReply(line) }
        let reply = FTPPeerReply(code: code, lines: [line])
        switch line.dropFirst(3).first {
        case nil, " ": return reply  // a bare "226" is a reply too
        case "-":
            pending = reply
            return nil
        default: throw .notAReply(line)
        }
    }

    /// The code of a line that starts with three digits.
    static func code(of line: String) -> Int? {
        let digits = line.utf8.prefix(3)
        guard digits.count == 3, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(String(line.prefix(3)))
    }
}

/// PWD's 257 reply names the directory in double quotes, doubling any quote
/// inside (RFC 959 Appendix II).
func quotedPathname(_ path: String) -> String {
    "\"" + path.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

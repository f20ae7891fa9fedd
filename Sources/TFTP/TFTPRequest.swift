// A TFTP request, the only packet the TFTP helper reads (RFC 1350 §5; options
// RFC 2347): a read (RRQ, opcode 1) or write (WRQ, opcode 2) request from the
// client to the server's port 69:
//
//    2 bytes   string   1 byte  string  1 byte  [ string  1 byte  string  1 byte ]...
//   | opcode | filename |  0  |  mode  |  0  |  [ option  |  0  |  value |  0  ]
//
// The server answers from a new port of its own (its transfer identifier,
// RFC 1350 §4) to the client's port: that answer is the data "connection"
// the helper expects.
//
// Stricter than Linux: nf_conntrack_tftp reads only the opcode and expects
// an answer for any datagram that starts with 00 01 or 00 02. Here a request
// must be whole (a file name, a mode of netascii, octet or mail in any case,
// every string terminated, option names and values in pairs), so random UDP
// to port 69 opens nothing.
//
// Example: 00 01 "boot.img" 00 "octet" 00 "blksize" 00 "1428" 00 is a read
// of boot.img in octet mode, asking for 1428-byte blocks (RFC 2348).

public struct TFTPRequest: Equatable, Sendable {
    public enum Operation: UInt16, Sendable, CustomStringConvertible {
        case read = 1
        case write = 2

        public var description: String { self == .read ? "RRQ" : "WRQ" }
    }

    public var operation: Operation
    public var filename: String
    /// "netascii", "octet" or "mail", lower-cased.
    public var mode: String
    /// RFC 2347 options in the order given (names lower-cased).
    public var options: [(name: String, value: String)]

    public static func == (lhs: TFTPRequest, rhs: TFTPRequest) -> Bool {
        lhs.operation == rhs.operation && lhs.filename == rhs.filename && lhs.mode == rhs.mode
            && lhs.options.map(\.name) == rhs.options.map(\.name) && lhs.options.map(\.value) == rhs.options.map(\.value)
    }

    /// Why a datagram to a TFTP server is not a request the helper acts on.
    public enum ParseError: Error, Equatable, Sendable {
        /// Shorter than an opcode.
        case truncated
        /// DATA, ACK, ERROR, OACK or an unknown opcode: nothing to expect.
        case notARequest(opcode: UInt16)
        /// A request without its file name, mode, or a terminating zero.
        case malformed
        /// A mode other than netascii, octet or mail.
        case unknownMode
    }

    /// The longest request read: RFC 1350 requests fit one 512-byte packet;
    /// RFC 2347 allows options past that in practice, so allow a generous
    /// bound and refuse anything beyond it.
    public static let maximumLength = 1468

    /// Parses the UDP payload of a datagram to the server.
    public init(parsing payload: UnsafeRawBufferPointer) throws(ParseError) {
        guard payload.count >= 2 else { throw .truncated }
        let opcode = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard let operation = Operation(rawValue: opcode) else { throw .notARequest(opcode: opcode) }
        guard payload.count <= Self.maximumLength else { throw .malformed }
        // The strings after the opcode, each ended by a zero byte.
        var strings: [String] = []
        var start = 2
        for index in 2..<payload.count where payload[index] == 0 {
            strings.append(String(decoding: UnsafeRawBufferPointer(rebasing: payload[start..<index]), as: UTF8.self))
            start = index + 1
        }
        // Everything terminated; a file name, a mode, then name/value pairs.
        guard start == payload.count, strings.count >= 2, strings.count % 2 == 0, !strings[0].isEmpty else {
            throw .malformed
        }
        let mode = strings[1].lowercased()
        guard ["netascii", "octet", "mail"].contains(mode) else { throw .unknownMode }
        self.operation = operation
        filename = strings[0]
        self.mode = mode
        options = stride(from: 2, to: strings.count, by: 2).map { (name: strings[$0].lowercased(), value: strings[$0 + 1]) }
    }

    public init(operation: Operation, filename: String, mode: String = "octet", options: [(name: String, value: String)] = []) {
        self.operation = operation
        self.filename = filename
        self.mode = mode
        self.options = options
    }

    /// The request as it goes on the wire.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = [0, UInt8(operation.rawValue)]
        for string in [filename, mode] + options.flatMap({ [$0.name, $0.value] }) {
            bytes += Array(string.utf8)
            bytes.append(0)
        }
        return bytes
    }
}

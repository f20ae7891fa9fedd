// ICMP for IPv4: a view over a message (`ICMPv4Message`) with access to the
// datagram an error quotes, and the header value (`ICMPv4Header`). RFC 792:
//
//    0                   1                   2                   3
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Type      |     Code      |          Checksum             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  echo: Identifier, Sequence Number; unreachable code 4: unused,|
//   |  Next-Hop MTU (RFC 1191 §4); parameter problem: Pointer        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  errors: Internet Header + 64 bits of Original Data Datagram   |
//
// Example: 03 04 xx xx 00 00 05 14 45 00 ... is "unreachable - need to frag
// (mtu 1300)" quoting the datagram that was too big.
//
// The checksum covers the whole message, no pseudo-header.

public struct ICMPv4Type: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    public static let echoReply = ICMPv4Type(0)
    public static let destinationUnreachable = ICMPv4Type(3)
    public static let sourceQuench = ICMPv4Type(4)
    public static let redirect = ICMPv4Type(5)
    public static let echoRequest = ICMPv4Type(8)
    public static let routerAdvertisement = ICMPv4Type(9)
    public static let routerSolicitation = ICMPv4Type(10)
    public static let timeExceeded = ICMPv4Type(11)
    public static let parameterProblem = ICMPv4Type(12)
    public static let timestampRequest = ICMPv4Type(13)
    public static let timestampReply = ICMPv4Type(14)

    /// Errors quote the datagram that caused them (RFC 1122 §3.2.2).
    public var isError: Bool {
        switch self {
        case .destinationUnreachable, .sourceQuench, .redirect, .timeExceeded, .parameterProblem: return true
        default: return false
        }
    }

    /// nft's names (`icmp type echo-request`).
    public var description: String {
        switch self {
        case .echoReply: return "echo-reply"
        case .destinationUnreachable: return "destination-unreachable"
        case .sourceQuench: return "source-quench"
        case .redirect: return "redirect"
        case .echoRequest: return "echo-request"
        case .routerAdvertisement: return "router-advertisement"
        case .routerSolicitation: return "router-solicitation"
        case .timeExceeded: return "time-exceeded"
        case .parameterProblem: return "parameter-problem"
        case .timestampRequest: return "timestamp-request"
        case .timestampReply: return "timestamp-reply"
        default: return "type-\(rawValue)"
        }
    }
}

/// Codes of destination unreachable (RFC 792, RFC 1812 §5.2.7.1).
public enum ICMPv4UnreachableCode {
    public static let network: UInt8 = 0
    public static let host: UInt8 = 1
    public static let `protocol`: UInt8 = 2
    public static let port: UInt8 = 3
    public static let fragmentationNeeded: UInt8 = 4
    public static let sourceRouteFailed: UInt8 = 5
    public static let networkProhibited: UInt8 = 9
    public static let hostProhibited: UInt8 = 10
    public static let administrativelyProhibited: UInt8 = 13
}

public struct ICMPv4Message: ICMPMessageView {
    public let bytes: UnsafeMutableRawBufferPointer

    public static let headerLength = 8

    public init(validating buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard buffer.count >= Self.headerLength else {
            throw .truncated(.icmpv4, needed: Self.headerLength, available: buffer.count)
        }
        bytes = buffer
    }

    public var type: ICMPv4Type {
        get { ICMPv4Type(bytes.u8(0)) }
        nonmutating set { bytes.setU8(newValue.rawValue, at: 0) }
    }
    /// RFC 1191 §4: Next-Hop MTU of a "fragmentation needed and DF set" (type 3 code 4).
    public var nextHopMTU: UInt16 {
        get { bytes.be16(6) }
        nonmutating set { bytes.setBE16(newValue, at: 6) }
    }
    /// Parameter problem: the offending byte's offset.
    public var pointer: UInt8 { bytes.u8(4) }

    public var isError: Bool { type.isError }

    /// The datagram an error message quotes (header whole, data possibly cut).
    public func quotedPacket() throws(WireError) -> IPv4Packet {
        try IPv4Packet(validatingQuoted: payload)
    }

    public var isChecksumValid: Bool { Checksum.sum(bytes) == 0xffff }

    public func updateChecksum() {
        checksum = 0
        checksum = Checksum.compute(bytes.readOnly)
    }
}

public struct ICMPv4Header: Hashable, Sendable {
    public var type: ICMPv4Type
    public var code: UInt8
    public var restOfHeader: UInt32

    public init(type: ICMPv4Type, code: UInt8, restOfHeader: UInt32 = 0) {
        self.type = type
        self.code = code
        self.restOfHeader = restOfHeader
    }

    public init(_ message: ICMPv4Message) {
        type = message.type
        code = message.code
        restOfHeader = message.restOfHeader
    }

    public static func echoRequest(identifier: UInt16, sequence: UInt16) -> ICMPv4Header {
        ICMPv4Header(type: .echoRequest, code: 0, restOfHeader: UInt32(identifier) << 16 | UInt32(sequence))
    }

    public static func echoReply(identifier: UInt16, sequence: UInt16) -> ICMPv4Header {
        ICMPv4Header(type: .echoReply, code: 0, restOfHeader: UInt32(identifier) << 16 | UInt32(sequence))
    }

    public static func destinationUnreachable(code: UInt8) -> ICMPv4Header {
        ICMPv4Header(type: .destinationUnreachable, code: code)
    }

    public static func fragmentationNeeded(nextHopMTU: UInt16) -> ICMPv4Header {
        ICMPv4Header(type: .destinationUnreachable, code: ICMPv4UnreachableCode.fragmentationNeeded,
                     restOfHeader: UInt32(nextHopMTU))
    }

    /// Code 0: TTL exceeded in transit; 1: fragment reassembly time exceeded.
    public static func timeExceeded(code: UInt8 = 0) -> ICMPv4Header {
        ICMPv4Header(type: .timeExceeded, code: code)
    }

    /// Writes the 8-byte header with a zero checksum.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) {
        emitICMPHeader(type: type.rawValue, code: code, restOfHeader: restOfHeader, into: buffer)
    }
}

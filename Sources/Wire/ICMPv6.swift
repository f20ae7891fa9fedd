// ICMPv6: a view over a message (`ICMPv6Message`) with access to the packet an
// error quotes, and the header value (`ICMPv6Header`). RFC 4443 §2.1:
//
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Type      |     Code      |          Checksum             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  echo: Identifier, Sequence; packet too big: MTU (§3.2);       |
//   |  parameter problem: Pointer (§3.4); otherwise unused           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  errors: as much of the invoking packet as fits in 1280 bytes  |
//
// Example: 02 00 xx xx 00 00 05 14 60 ... is "packet too big, mtu 1300".
//
// Types below 128 are errors (§2.1). The checksum includes the IPv6
// pseudo-header with next header 58 (§2.3).

public struct ICMPv6Type: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    public static let destinationUnreachable = ICMPv6Type(1)
    public static let packetTooBig = ICMPv6Type(2)
    public static let timeExceeded = ICMPv6Type(3)
    public static let parameterProblem = ICMPv6Type(4)
    public static let echoRequest = ICMPv6Type(128)
    public static let echoReply = ICMPv6Type(129)
    public static let multicastListenerQuery = ICMPv6Type(130)
    public static let multicastListenerReport = ICMPv6Type(131)
    public static let multicastListenerDone = ICMPv6Type(132)
    public static let routerSolicitation = ICMPv6Type(133)
    public static let routerAdvertisement = ICMPv6Type(134)
    public static let neighborSolicitation = ICMPv6Type(135)
    public static let neighborAdvertisement = ICMPv6Type(136)
    public static let redirect = ICMPv6Type(137)
    public static let multicastListenerReportV2 = ICMPv6Type(143)

    public var isError: Bool { rawValue < 128 }

    /// nft's names (`icmpv6 type echo-request`).
    public var description: String {
        switch self {
        case .destinationUnreachable: return "destination-unreachable"
        case .packetTooBig: return "packet-too-big"
        case .timeExceeded: return "time-exceeded"
        case .parameterProblem: return "parameter-problem"
        case .echoRequest: return "echo-request"
        case .echoReply: return "echo-reply"
        case .multicastListenerQuery: return "mld-listener-query"
        case .multicastListenerReport: return "mld-listener-report"
        case .multicastListenerDone: return "mld-listener-done"
        case .routerSolicitation: return "nd-router-solicit"
        case .routerAdvertisement: return "nd-router-advert"
        case .neighborSolicitation: return "nd-neighbor-solicit"
        case .neighborAdvertisement: return "nd-neighbor-advert"
        case .redirect: return "nd-redirect"
        case .multicastListenerReportV2: return "mld2-listener-report"
        default: return "type-\(rawValue)"
        }
    }
}

/// Codes of destination unreachable (RFC 4443 §3.1).
public enum ICMPv6UnreachableCode {
    public static let noRoute: UInt8 = 0
    public static let administrativelyProhibited: UInt8 = 1
    public static let beyondScope: UInt8 = 2
    public static let address: UInt8 = 3
    public static let port: UInt8 = 4
    public static let sourcePolicyFailed: UInt8 = 5
    public static let rejectRoute: UInt8 = 6
}

public struct ICMPv6Message: ICMPMessageView {
    public let bytes: UnsafeMutableRawBufferPointer

    public static let headerLength = 8

    public init(validating buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard buffer.count >= Self.headerLength else {
            throw .truncated(.icmpv6, needed: Self.headerLength, available: buffer.count)
        }
        bytes = buffer
    }

    public var type: ICMPv6Type {
        get { ICMPv6Type(bytes.u8(0)) }
        nonmutating set { bytes.setU8(newValue.rawValue, at: 0) }
    }
    /// RFC 4443 §3.2: the MTU of the next-hop link of a Packet Too Big.
    public var mtu: UInt32 {
        get { bytes.be32(4) }
        nonmutating set { bytes.setBE32(newValue, at: 4) }
    }
    /// RFC 4443 §3.4: offset of the erroneous byte of a Parameter Problem.
    public var pointer: UInt32 { bytes.be32(4) }

    public var isError: Bool { type.isError }

    public func quotedPacket() throws(WireError) -> IPv6Packet {
        try IPv6Packet(validatingQuoted: payload)
    }

    public func isChecksumValid(pseudoHeaderSum: UInt16) -> Bool {
        Checksum.sum(bytes, initial: pseudoHeaderSum) == 0xffff
    }

    public func updateChecksum(pseudoHeaderSum: UInt16) {
        checksum = 0
        checksum = Checksum.compute(bytes.readOnly, initial: pseudoHeaderSum)
    }
}

public struct ICMPv6Header: Hashable, Sendable {
    public var type: ICMPv6Type
    public var code: UInt8
    public var restOfHeader: UInt32

    public init(type: ICMPv6Type, code: UInt8, restOfHeader: UInt32 = 0) {
        self.type = type
        self.code = code
        self.restOfHeader = restOfHeader
    }

    public init(_ message: ICMPv6Message) {
        type = message.type
        code = message.code
        restOfHeader = message.restOfHeader
    }

    public static func echoRequest(identifier: UInt16, sequence: UInt16) -> ICMPv6Header {
        ICMPv6Header(type: .echoRequest, code: 0, restOfHeader: UInt32(identifier) << 16 | UInt32(sequence))
    }

    public static func echoReply(identifier: UInt16, sequence: UInt16) -> ICMPv6Header {
        ICMPv6Header(type: .echoReply, code: 0, restOfHeader: UInt32(identifier) << 16 | UInt32(sequence))
    }

    public static func destinationUnreachable(code: UInt8) -> ICMPv6Header {
        ICMPv6Header(type: .destinationUnreachable, code: code)
    }

    public static func packetTooBig(mtu: UInt32) -> ICMPv6Header {
        ICMPv6Header(type: .packetTooBig, code: 0, restOfHeader: mtu)
    }

    /// Code 0: hop limit exceeded in transit; 1: fragment reassembly time exceeded.
    public static func timeExceeded(code: UInt8 = 0) -> ICMPv6Header {
        ICMPv6Header(type: .timeExceeded, code: code)
    }

    public func emit(into buffer: UnsafeMutableRawBufferPointer) {
        emitICMPHeader(type: type.rawValue, code: code, restOfHeader: restOfHeader, into: buffer)
    }
}

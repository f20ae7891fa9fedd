// What the FTP helper did and why: each event is counted (`tunwall stats`)
// and logged as one line, so that every pinhole opened or refused can be
// explained afterwards.
//
// Example log line:
//   ftp: 10.0.1.2:40000 → 203.0.113.10:21: PORT 10.0.1.2:50000 rewritten to 203.0.113.1:50000:
//   expecting 203.0.113.10 → 203.0.113.1:50000, which goes on to 10.0.1.2:50000

import Conntrack
import Wire

/// The helper's counters, by what happened.
public enum FTPCounter: Int, CaseIterable, Sendable, CustomStringConvertible {
    case expectationCreated, rewritten, refusedBounce, refusedLowPort, refusedNumberOutOfRange, refusedMalformed,
         refusedFamily, refusedAfterEPSVAll, refusedUnsolicited, refusedClash, refusedTableFull, refusedUnrewritable,
         closedByReply, encrypted, encryptedDropped, clearText, held, releasedUnfinished, lineTooLong, outOfOrder,
         relatedConnection, epsvAll

    public var description: String {
        switch self {
        case .expectationCreated: return "expectations created"
        case .rewritten: return "announcements rewritten for NAT"
        case .refusedBounce: return "refused: address is not the sender's (FTP bounce)"
        case .refusedLowPort: return "refused: data port below 1024"
        case .refusedNumberOutOfRange: return "refused: number out of range"
        case .refusedMalformed: return "refused: malformed announcement"
        case .refusedFamily: return "refused: address family differs from the connection's"
        case .refusedAfterEPSVAll: return "refused: PORT/EPRT/PASV after EPSV ALL"
        case .refusedUnsolicited: return "refused: 227/229 reply without PASV/EPSV"
        case .refusedClash: return "refused: another connection expects the same"
        case .refusedTableFull: return "refused: expectation table full"
        case .refusedUnrewritable: return "refused: would need a rewrite of bytes already sent"
        case .closedByReply: return "expectations removed: server refused PORT/EPRT"
        case .encrypted: return "control channel encrypted, helper blind"
        case .encryptedDropped: return "encrypted sessions dropped by policy"
        case .clearText: return "control channel back to clear text (CCC)"
        case .held: return "segments held to complete a line"
        case .releasedUnfinished: return "held lines released unchanged (never completed)"
        case .lineTooLong: return "lines too long to be commands"
        case .outOfOrder: return "segments ahead of the stream dropped (resent by TCP)"
        case .relatedConnection: return "data connections let in by an expectation"
        case .epsvAll: return "EPSV ALL seen (only EPSV from then on)"
        }
    }
}

public struct FTPEvent: Sendable {
    public var counter: FTPCounter
    /// One line, for the log (empty: counted only, another event tells it).
    public var message: String

    public init(_ counter: FTPCounter, _ message: String) {
        self.counter = counter
        self.message = message
    }
}

extension ConnTuple {
    /// "10.0.1.2:40000 → 203.0.113.10:21" ("[2001:db8::1]:40000" for IPv6).
    public var endpoints: String {
        "\(Self.endpoint(sourceAddress, sourcePort)) → \(Self.endpoint(destinationAddress, destinationPort))"
    }

    static func endpoint(_ address: IPAddress, _ port: UInt16) -> String {
        address.isV4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }

    static func text(_ address: IPv6Address, family: AddressFamily) -> String {
        family == .ipv4 ? IPv4Address(UInt32(truncatingIfNeeded: address.low)).description : address.description
    }

    static func endpoint(_ address: IPv6Address, _ port: UInt16, family: AddressFamily) -> String {
        family == .ipv4 ? "\(text(address, family: family)):\(port)" : "[\(text(address, family: family))]:\(port)"
    }
}

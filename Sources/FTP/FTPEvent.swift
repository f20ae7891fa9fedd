// What the FTP helper did and why: each event is counted (`tunwall stats`)
// and logged as one line, so that every pinhole opened or refused can be
// explained afterwards.
//
// Example log lines (one announcement):
//   ftp: 10.0.1.2:40000 → 203.0.113.10:21: parsed "PORT 10,0,1,2,195,80"
//   ftp: 10.0.1.2:40000 → 203.0.113.10:21: expect 203.0.113.10:* -> 203.0.113.1:50000 (for 10.0.1.2:50000)
//   ftp: 10.0.1.2:40000 → 203.0.113.10:21: rewrote "PORT 10,0,1,2,195,80" -> "PORT 203,0,113,1,195,80",
//        seq offset +3 from seq 1201

import Conntrack
import Wire

/// The helper's counters, by what happened.
public enum FTPCounter: Int, CaseIterable, Sendable, CustomStringConvertible {
    case parsed, expectationCreated, rewritten, refusedBounce, refusedLowPort, refusedNumberOutOfRange, refusedMalformed,
         refusedFamily, refusedAfterEPSVAll, refusedUnsolicited, refusedClash, refusedTableFull, refusedUnrewritable,
         closedByReply, encrypted, encryptedDropped, clearText, held, releasedUnfinished, lineTooLong, outOfOrder,
         relatedConnection, epsvAll

    public var description: String {
        switch self {
        case .parsed: return "announcements read (PORT, EPRT, 227, 229)"
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

/// An expectation as a trace shows it.
public typealias FTPExpectationNote = ExpectationNote

public struct FTPEvent: Sendable {
    public var counter: FTPCounter
    /// The control connection, as its sender sees it ("10.0.1.2:40000 → 203.0.113.10:21").
    public var connection: String
    /// What happened, for a trace step (empty: counted only).
    public var text: String
    /// The announcement line read, and what it became (rewrite events).
    public var line: String? = nil
    public var rewritten: String? = nil
    public var expectation: FTPExpectationNote? = nil

    public init(_ counter: FTPCounter, connection: String, _ text: String) {
        self.counter = counter
        self.connection = connection
        self.text = text
    }

    /// One line for the log ("" when there is nothing to say).
    public var message: String { text.isEmpty ? "" : "\(connection): \(text)" }

    /// The event's name in traces (docs/trace-schema.md).
    public var name: String {
        switch counter {
        case .parsed: return "parsed"
        case .expectationCreated: return "expect"
        case .rewritten: return "rewrite"
        case .held: return "held"
        case .releasedUnfinished: return "released"
        case .relatedConnection: return "related"
        case .encrypted, .encryptedDropped: return "encrypted"
        case .clearText: return "clear"
        case .closedByReply: return "closed"
        case .outOfOrder: return "out-of-order"
        case .epsvAll: return "epsv-all"
        case .lineTooLong: return "too-long"
        default: return "refuse"
        }
    }
}

extension FTPEvent {
    /// The event as the engine counts, logs and traces every helper's.
    public var helperEvent: HelperEvent {
        HelperEvent(helper: .ftp, counter: counter.rawValue, name: name, connection: connection, text: text,
                    line: line, rewritten: rewritten, expectation: expectation)
    }
}

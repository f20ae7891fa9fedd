// TCP connection states and the transition table of Linux's
// nf_conntrack_proto_tcp.c (tcp_conntracks[2][6][10]), the firewall's guess at
// where the two endpoints are, seen from the middle.
//
// Example: SYN (original) NONE → SYN_SENT; SYN-ACK (reply) → SYN_RECV; ACK
// (original) → ESTABLISHED, and the connection becomes ASSURED.

public enum TCPState: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case none = 0, synSent, synReceived, established, finWait, closeWait, lastAck, timeWait, close, synSent2

    /// The names conntrack prints.
    public var description: String {
        switch self {
        case .none: return "NONE"
        case .synSent: return "SYN_SENT"
        case .synReceived: return "SYN_RECV"
        case .established: return "ESTABLISHED"
        case .finWait: return "FIN_WAIT"
        case .closeWait: return "CLOSE_WAIT"
        case .lastAck: return "LAST_ACK"
        case .timeWait: return "TIME_WAIT"
        case .close: return "CLOSE"
        case .synSent2: return "SYN_SENT2"
        }
    }

    /// tcp_can_early_drop: the closing states, whose end is near anyway.
    var isClosing: Bool {
        switch self {
        case .finWait, .closeWait, .lastAck, .timeWait, .close: return true
        default: return false
        }
    }
}

/// What the table says about a packet: a new state, "ignore" (sIG: could be
/// valid or not; let it through, change nothing) or "invalid" (sIV).
enum TCPTransition: Equatable {
    case to(TCPState)
    case ignore
    case invalid
}

/// The row index of a segment: get_conntrack_index().
enum TCPFlagClass: Int {
    case syn = 0, synAck, fin, ack, rst, none

    @inline(__always)
    init(_ flags: TCPFlags) {
        // The bits (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) as literals: this
        // runs for every TCP packet, and TCPFlags' members are Wire's statics.
        let bits = flags.rawValue
        if bits & 0x04 != 0 { self = .rst }
        else if bits & 0x02 != 0 { self = bits & 0x10 != 0 ? .synAck : .syn }
        else if bits & 0x01 != 0 { self = .fin }
        else if bits & 0x10 != 0 { self = .ack }
        else { self = .none }
    }
}

import Wire

enum TCPStateTable {
    // Columns: sNO sSS sSR sES sFW sCW sLA sTW sCL sS2 (TCPState raw values).
    private static let NO: Int8 = 0, SS: Int8 = 1, SR: Int8 = 2, ES: Int8 = 3, FW: Int8 = 4
    private static let CW: Int8 = 5, LA: Int8 = 6, TW: Int8 = 7, CL: Int8 = 8, S2: Int8 = 9
    private static let IV: Int8 = -1, IG: Int8 = -2

    /// [direction][flag class][old state], transcribed from Linux 6.x, flat
    /// (2 × 6 × 10) so that a lookup is one load.
    private static let table: [Int8] = [
        // ORIGINAL
        SS, SS, IG, IG, IG, IG, IG, SS, SS, S2,   // syn
        IV, IV, SR, IV, IV, IV, IV, IV, IV, SR,   // synack
        IV, IV, FW, FW, LA, LA, LA, TW, CL, IV,   // fin
        ES, IV, ES, ES, CW, CW, TW, TW, CL, IV,   // ack
        IV, CL, CL, CL, CL, CL, CL, CL, CL, CL,   // rst
        IV, IV, IV, IV, IV, IV, IV, IV, IV, IV,   // none
        // REPLY
        IV, S2, IV, IV, IV, IV, IV, SS, IV, S2,   // syn
        IV, SR, IG, IG, IG, IG, IG, IG, IG, SR,   // synack
        IV, IV, FW, FW, LA, LA, LA, TW, CL, IV,   // fin
        IV, IG, SR, ES, CW, CW, TW, TW, CL, IG,   // ack
        IV, CL, CL, CL, CL, CL, CL, CL, CL, CL,   // rst
        IV, IV, IV, IV, IV, IV, IV, IV, IV, IV,   // none
    ]

    static func transition(_ direction: Direction, _ flags: TCPFlagClass, from state: TCPState) -> TCPTransition {
        let value = table[direction.rawValue * 60 + flags.rawValue * 10 + Int(state.rawValue)]
        switch value {
        case IV: return .invalid
        case IG: return .ignore
        default: return .to(TCPState(rawValue: UInt8(value)) ?? .none)
        }
    }

    /// tcp_valid_flags[]: the flag combinations (ignoring ECE, CWR, PSH) a
    /// segment may carry; anything else (SYN+FIN, no flags, ...) is invalid.
    static func hasValidFlags(_ flags: TCPFlags) -> Bool {
        let core = flags.rawValue & (TCPFlags.fin.rawValue | TCPFlags.syn.rawValue | TCPFlags.rst.rawValue
                                     | TCPFlags.ack.rawValue | TCPFlags.urg.rawValue)
        let f = TCPFlags(rawValue: core)
        switch f {
        case [.syn], [.syn, .urg], [.syn, .ack], [.rst], [.rst, .ack], [.fin, .ack], [.fin, .ack, .urg],
             [.ack], [.ack, .urg]:
            return true
        default:
            return false
        }
    }
}

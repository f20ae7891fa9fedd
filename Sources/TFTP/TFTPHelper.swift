// The TFTP helper (Linux's nf_conntrack_tftp + nf_nat_tftp): a read or write
// request from the client to the server creates one expectation for the
// server's answer, which comes from a new port of the server's (RFC 1350 §4)
// back to the client's port. That answer is RELATED to the request's
// connection and, under NAT, translated as its master is (nf_nat_follow_master).
//
//   request (original direction)         expectation (source:* → destination:port, UDP)
//   client:c → server:69  RRQ or WRQ      server:* → client as the server sees it : its port
//
// Example (client 10.0.1.2:40000 behind masquerade as 203.0.113.1:40000,
// server 203.0.113.10): "RRQ boot.img octet" expects 203.0.113.10:* →
// 203.0.113.1:40000, and the server's DATA from port 51234 is let in as
// RELATED and delivered to 10.0.1.2:40000.
//
// As in Linux: the expectation names the reply tuple's addresses and port
// (tftp_help: nf_ct_expect_init(exp, …, &tuple->src.u3, &tuple->dst.u3,
// IPPROTO_UDP, NULL, &tuple->dst.u.udp.port) with tuple the reply
// direction), lives 300 s (tftp_exp_policy) and is one per connection
// (max_expected 1); requests in the reply direction, DATA, ACK, ERROR and
// OACK expect nothing. Stricter than Linux: the request must be whole
// (TFTPRequest).

import Conntrack
import Wire

/// An answer the helper expects, as Conntrack's expectation table takes it.
public struct TFTPExpectation: Sendable {
    public var key: ExpectationKey
    /// Under NAT: where the answer goes on to (the client's own address and
    /// port) and who it seems to come from, as ConnExpectation.translation.
    public var translation: (source: IPv6Address, destination: IPv6Address, destinationPort: UInt16)?
    public var expires: Timestamp
    public var request: TFTPRequest
}

/// What the helper made of one datagram.
public enum TFTPOutcome: Sendable {
    /// A request: expect the server's answer.
    case expect(TFTPExpectation)
    /// Nothing for the helper (the reply direction, or not a request).
    case ignored
    /// Addressed like a request, but not one: nothing is expected.
    case refused(TFTPRequest.ParseError)
}

public enum TFTPHelper {
    /// How long an expectation waits (Linux: tftp_exp_policy.timeout = 5 * 60).
    public static let expectTimeout: Timestamp = 300 * nanosecondsPerSecond
    /// Expectations per connection (Linux: tftp_exp_policy.max_expected = 1).
    public static let maximumExpected = 1

    /// Reads one UDP datagram of a connection the helper follows.
    public static func read(_ payload: UnsafeRawBufferPointer, direction: Direction, entry: ConnEntry,
                            now: Timestamp) -> TFTPOutcome {
        guard direction == .original else { return .ignored }
        let request: TFTPRequest
        do {
            request = try TFTPRequest(parsing: payload)
        } catch {
            if case .notARequest = error { return .ignored }
            return .refused(error)
        }
        let reply = entry.reply
        let key = ExpectationKey(source: reply.source, destination: reply.destination,
                                 destinationPort: reply.destinationPort, protocol: .udp, family: reply.family)
        let original = entry.original
        let translation = entry.isTranslated
            ? (source: original.destination, destination: original.source, destinationPort: original.sourcePort)
            : nil
        return .expect(TFTPExpectation(key: key, translation: translation,
                                       expires: saturatingAdd(now, expectTimeout), request: request))
    }
}

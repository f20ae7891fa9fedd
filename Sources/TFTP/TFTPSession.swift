// The TFTP helper for one connection (client:port → server:69), behind the
// engine's ConnectionHelper interface: each whole request in the original
// direction expects the server's answer (TFTPHelper); nothing is rewritten,
// held or dropped. The request is usually the connection's first datagram,
// so `start` reads it as `process` reads a repeated one (a client whose
// request went unanswered sends it again: the same expectation is renewed).

import Conntrack
import Wire

public final class TFTPSession: ConnectionHelper {
    /// What the TFTP helper counts (`tunwall stats`).
    public enum Counter: Int, CaseIterable, Sendable, CustomStringConvertible {
        case requests, expectationCreated, refusedMalformed, refusedClash, refusedTableFull, relatedConnection

        public var description: String {
            switch self {
            case .requests: return "requests read (RRQ, WRQ)"
            case .expectationCreated: return "expectations created"
            case .refusedMalformed: return "refused: not a whole request"
            case .refusedClash: return "refused: another connection expects the same"
            case .refusedTableFull: return "refused: expectation table full"
            case .relatedConnection: return "transfers let in by an expectation"
            }
        }
    }

    public static let counters = Counter.allCases.map(\.description)
    public static let relatedCounter = Counter.relatedConnection.rawValue

    public init() {}

    /// A TFTP session keeps nothing between packets: its object header only.
    public var memoryFootprint: Int { 16 }

    public func start(_ packet: HelperPacket, connection: HelperConnection,
                      expectations: inout some ExpectationRegistrar) -> [HelperEvent] {
        read(packet, connection, &expectations)
    }

    public func process(_ packet: HelperPacket, connection: HelperConnection,
                        expectations: inout some ExpectationRegistrar) -> HelperOutcome {
        HelperOutcome(events: read(packet, connection, &expectations))
    }

    private func read(_ packet: HelperPacket, _ connection: HelperConnection,
                      _ registrar: inout some ExpectationRegistrar) -> [HelperEvent] {
        let entry = connection.entry
        let sender = entry.tuple(packet.direction).endpoints
        switch TFTPHelper.read(packet.payload, direction: packet.direction, entry: entry, now: packet.now) {
        case .ignored:
            return []
        case .refused(let error):
            return [event(.refusedMalformed, "refuse", sender, "a datagram to the server that is not a whole request (\(error)): nothing expected")]
        case .expect(let wanted):
            let request = wanted.request
            var events = [event(.requests, "parsed", sender, "parsed \(request.operation) \"\(request.filename)\" \(request.mode)",
                                line: "\(request.operation) \(request.filename) \(request.mode)")]
            registrar.limitExpectations(perMaster: TFTPHelper.maximumExpected)
            let expectation = ConnExpectation(key: wanted.key, masterPosition: connection.position, masterID: entry.id,
                                              masterTuple: entry.original, helper: .tftp, expires: wanted.expires,
                                              translation: wanted.translation)
            let family = entry.original.family
            switch registrar.expect(expectation, now: packet.now) {
            case .success:
                let source = ConnTuple.text(wanted.key.source, family: family)
                let destination = ConnTuple.text(wanted.key.destination, family: family)
                let to = wanted.translation.map { ConnTuple.endpoint($0.destination, $0.destinationPort, family: family) }
                var note = event(.expectationCreated, "expect", sender,
                                 "expect \(source):* -> \(ConnTuple.endpoint(wanted.key.destination, wanted.key.destinationPort, family: family)) udp"
                                 + (to.map { " (for \($0))" } ?? ""))
                note.expectation = ExpectationNote(source: source, destination: destination,
                                                   destinationPort: wanted.key.destinationPort, to: to)
                events.append(note)
            case .failure(.clash):
                events.append(event(.refusedClash, "refuse", sender, "another connection expects the same answer: nothing expected"))
            case .failure(.tableFull):
                events.append(event(.refusedTableFull, "refuse", sender, "the expectation table is full: nothing expected"))
            }
            return events
        }
    }

    private func event(_ counter: Counter, _ name: String, _ connection: String, _ text: String,
                       line: String? = nil) -> HelperEvent {
        HelperEvent(helper: .tftp, counter: counter.rawValue, name: name, connection: connection, text: text, line: line)
    }
}

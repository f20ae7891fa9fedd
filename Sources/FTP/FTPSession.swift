// The FTP helper for one control connection (nf_conntrack_ftp + nf_nat_ftp,
// with the differences docs/REFERENCE.md and the README list): it reads both
// directions as streams (ControlStream), pairs each reply with its command,
// and for every announced data connection decides whether to expect it, how
// to rewrite the announcement under NAT, and where the data connection goes.
//
//   client line            server reply           expectation (source → destination:port)
//   PORT / EPRT            200 (4xx/5xx: removed) server → client as the server knows it
//   PASV                   227                    client → server as the client knows it
//   EPSV                   229                    client → server as the client knows it
//   AUTH TLS               234                    none: the channel is encrypted from here
//
// Example (client 10.0.1.2 behind masquerade as 203.0.113.1): "PORT
// 10,0,1,2,195,80" passes as "PORT 203,0,113,1,195,80"; the expectation is
// 203.0.113.10 → 203.0.113.1:50000, and the server's connection to it is
// translated to 10.0.1.2:50000 (nf_nat_follow_master).

import Conntrack
import Wire

public final class FTPSession: ConnectionHelper {
    public let policy: FTPPolicy
    var streams = [ControlStream(), ControlStream()]
    /// Commands waiting for their reply, oldest first (bounded).
    var waiting: [WaitingCommand] = []
    static let waitingCapacity = 32
    /// Inside a multi-line reply ("ddd-" … "ddd "): its code.
    var multiLineCode: Int? = nil
    public private(set) var epsvAll = false
    public private(set) var encrypted = false
    /// Ended by policy (encrypted): every later segment is dropped.
    public private(set) var refused = false

    enum WaitingCommand {
        case port(ExpectationKey?)
        case pasv, epsv, auth, other
    }

    public init(policy: FTPPolicy) {
        self.policy = policy
    }

    /// The SYN or SYN-ACK: where each direction's stream starts.
    public func synchronize(_ direction: Direction, initialSequence: SeqNumber) {
        streams[direction.rawValue].synchronize(initialSequence: initialSequence)
    }

    // MARK: ConnectionHelper

    public static let counters = FTPCounter.allCases.map(\.description)
    public static let relatedCounter = FTPCounter.relatedConnection.rawValue

    /// The SYN that opened the control connection: the client's stream starts after it.
    public func start(_ packet: HelperPacket, connection: HelperConnection,
                      expectations: inout some ExpectationRegistrar) -> [HelperEvent] {
        if packet.flags.contains(.syn) { synchronize(packet.direction, initialSequence: packet.sequence) }
        return []
    }

    public func process(_ packet: HelperPacket, connection: HelperConnection,
                        expectations: inout some ExpectationRegistrar) -> HelperOutcome {
        var events: [FTPEvent] = []
        var outcome = HelperOutcome()
        outcome.verdict = process(packet.direction, sequence: packet.sequence, flags: packet.flags,
                                  acknowledged: packet.acknowledged, payload: packet.payload, connection: connection, registrar: &expectations,
                                  now: packet.now, events: &events, adjustments: &outcome.adjustments)
        outcome.events = events.map(\.helperEvent)
        return outcome
    }

    public func releaseExpired(now: Timestamp) -> (released: [(Direction, SeqNumber, [UInt8])], events: [HelperEvent]) {
        var events: [FTPEvent] = []
        let released = releaseExpired(now: now, events: &events)
        return (released, events.map(\.helperEvent))
    }

    /// The object (a Swift object header of two words, then its fields) and
    /// what its arrays hold: the two streams' lines and records, the waiting commands.
    public var memoryFootprint: Int {
        let object = 16 + MemoryLayout<FTPPolicy>.stride + 2 * MemoryLayout<[Int]>.stride
            + MemoryLayout<Int?>.stride + 3
        return object + streams.reduce(0) { $0 + $1.storageBytes }
            + streams.capacity * MemoryLayout<ControlStream>.stride
            + waiting.capacity * MemoryLayout<WaitingCommand>.stride
    }

    /// The bytes held in `direction`, in the sender's numbering: [start, end).
    public func heldRange(_ direction: Direction) -> (start: SeqNumber, end: SeqNumber)? {
        let stream = streams[direction.rawValue]
        return stream.held ? (stream.lineStart, stream.next) : nil
    }

    /// Reads one segment of the control connection. `events` receives what
    /// was decided, `adjustments` the length changes of the stream.
    func process<R: ExpectationRegistrar>(
        _ direction: Direction, sequence: SeqNumber, flags: TCPFlags, acknowledged: SeqNumber? = nil,
        payload: UnsafeRawBufferPointer,
        connection: HelperConnection, registrar: inout R, now: Timestamp, events: inout [FTPEvent],
        adjustments: inout [(direction: Direction, at: SeqNumber, delta: Int32)]
    ) -> HelperVerdict {
        if refused { return .refused }
        if let acknowledged { streams[direction.opposite.rawValue].acknowledged(acknowledged) }
        if flags.contains(.syn) {
            streams[direction.rawValue].synchronize(initialSequence: sequence)
            return .unchanged
        }
        let entry = connection.entry
        let position = connection.position
        let translated = entry.isTranslated
        let waitingHead = waiting.first
        var decisionEvents: [FTPEvent] = []
        var encryptedNow = false
        var drop = false
        let output = streams[direction.rawValue].process(
            sequence: sequence, payload: payload, fin: flags.contains(.fin) || flags.contains(.rst), now: now,
            holdLimit: policy.holdLimit,
            mayHold: { line in
                guard translated else { return false }
                if direction == .original {
                    return !self.epsvAll && (FTPLine.couldStart(line, "PORT") || FTPLine.couldStart(line, "EPRT"))
                }
                switch waitingHead {
                case .pasv?: return FTPLine.couldStart(line, "227")
                case .epsv?: return FTPLine.couldStart(line, "229")
                default: return false
                }
            },
            handle: { line in
                var decision = LineDecision()
                if direction == .original {
                    decision.replacement = self.command(line, entry: entry, position: position,
                                                        registrar: &registrar, now: now, events: &decisionEvents)
                } else {
                    decision = self.reply(line, entry: entry, position: position, registrar: &registrar, now: now,
                                          events: &decisionEvents)
                    if decision.encryptedAfter {
                        encryptedNow = true
                        if self.policy.encrypted == .drop { drop = true }
                    }
                }
                return decision
            })
        events += decisionEvents
        // A line of another length moves every later sequence number of this
        // direction (the engine's sequence adjustment, IPS_SEQ_ADJUST).
        for (start, delta) in streams[direction.rawValue].adjustments {
            adjustments.append((direction: direction, at: start, delta: delta))
        }
        streams[direction.rawValue].adjustments.removeAll()
        if streams[direction.rawValue].backToClearText {
            streams[direction.rawValue].backToClearText = false
            if streams.allSatisfy({ $0.tls == nil }) { encrypted = false }
            events.append(FTPEvent(.clearText, connection: entry.tuple(direction).endpoints, "clear text again after TLS (CCC): the helper reads this direction again"))
        }
        if encryptedNow {
            encrypted = true
            streams[direction.opposite.rawValue].startTLS()
            if drop {
                refused = true
                events.append(FTPEvent(.encryptedDropped, connection: entry.original.endpoints, "AUTH accepted (234): session dropped by policy (encrypted: drop)"))
                return .refused
            }
        }
        switch output {
        case .unchanged: return .unchanged
        case .replaced(let start, let bytes): return .replaced(start: start, payload: bytes)
        case .held:
            if streams[direction.rawValue].held && streams[direction.rawValue].heldSince == now {
                events.append(FTPEvent(.held, connection: entry.tuple(direction).endpoints, "unfinished line held (\(streams[direction.rawValue].line.count) bytes)"))
            }
            return .held
        case .outOfOrder:
            events.append(FTPEvent(.outOfOrder, connection: entry.tuple(direction).endpoints, "segment at \(sequence) is ahead of the stream (\(streams[direction.rawValue].next)): dropped, TCP resends it"))
            return .outOfOrder
        }
    }

    /// Held bytes whose time is up, per direction: they go out unchanged.
    public func releaseExpired(now: Timestamp, events: inout [FTPEvent]) -> [(Direction, SeqNumber, [UInt8])] {
        var released: [(Direction, SeqNumber, [UInt8])] = []
        for direction in [Direction.original, .reply] {
            let stream = streams[direction.rawValue]
            guard stream.held, now >= saturatingAdd(stream.heldSince, policy.holdNanoseconds),
                  let (start, bytes) = streams[direction.rawValue].release() else { continue }
            events.append(FTPEvent(.releasedUnfinished, connection: "\(direction) direction", "a line never completed within \(policy.holdMilliseconds) ms: its \(bytes.count) held bytes go out unchanged and it is not read as a command"))
            released.append((direction, start, bytes))
        }
        return released
    }

    /// The earliest time held bytes must be released, if any are held.
    public var releaseDeadline: Timestamp? {
        let times = streams.filter(\.held).map { saturatingAdd($0.heldSince, policy.holdNanoseconds) }
        return times.min()
    }

    // MARK: Commands (original direction)

    private func command<R: ExpectationRegistrar>(_ line: StreamLine, entry: ConnEntry, position: Int, registrar: inout R,
                                                   now: Timestamp, events: inout [FTPEvent]) -> [UInt8]? {
        var replacement: [UInt8]? = nil
        var waitingCommand = WaitingCommand.other
        switch FTPLine.command(line.text) {
        case .port(let parsed), .eprt(let parsed):
            switch parsed {
            case .success(let announcement):
                let (text, key) = announce(announcement, in: line, direction: .original, entry: entry,
                                           position: position, registrar: &registrar, now: now, events: &events)
                replacement = text
                waitingCommand = .port(key)
            case .failure(let error):
                refuse(error, line, entry: entry, direction: .original, events: &events)
                waitingCommand = .port(nil)
            }
        case .pasv:
            waitingCommand = .pasv
        case .epsv:
            waitingCommand = .epsv
        case .epsvAll:
            epsvAll = true
            events.append(FTPEvent(.epsvAll, connection: entry.original.endpoints, "EPSV ALL: from now on only EPSV; PORT, EPRT and PASV open nothing"))
        case .auth:
            waitingCommand = .auth
        case .ccc, .other:
            break
        }
        if waiting.count >= Self.waitingCapacity { waiting.removeFirst() }
        waiting.append(waitingCommand)
        return replacement
    }

    // MARK: Replies (reply direction)

    private func reply<R: ExpectationRegistrar>(_ line: StreamLine, entry: ConnEntry, position: Int, registrar: inout R,
                                                 now: Timestamp, events: inout [FTPEvent]) -> LineDecision {
        var decision = LineDecision()
        let parsed = FTPLine.reply(line.text)
        if let code = multiLineCode {
            // Only the last line of a multi-line reply ("ddd " with its code) ends it.
            guard let parsed, parsed.code == code, parsed.isLast else { return decision }
            multiLineCode = nil
        } else {
            guard let parsed else { return decision }
            if !parsed.isLast {
                multiLineCode = parsed.code
                return decision
            }
        }
        guard let code = parsed?.code, code >= 200 else { return decision }   // 1xx: preliminary, more to come
        let command = waiting.isEmpty ? nil : waiting.removeFirst()
        switch (command, code) {
        case (.port(let key?)?, 400...599):
            if registrar.unexpect(key) != nil {
                events.append(FTPEvent(.closedByReply, connection: entry.original.endpoints, "server refused the data port (\(code)): expectation of port \(key.destinationPort) removed"))
            }
        case (.pasv?, 227):
            switch FTPLine.passive(line.text) {
            case .success(let announcement):
                decision.replacement = announce(announcement, in: line, direction: .reply, entry: entry,
                                                position: position, registrar: &registrar, now: now, events: &events).0
            case .failure(let error):
                refuse(error, line, entry: entry, direction: .reply, events: &events)
            }
        case (.epsv?, 229):
            switch FTPLine.extendedPassive(line.text) {
            case .success(var announcement):
                announcement.family = entry.original.family
                announcement.address = entry.reply.source
                decision.replacement = announce(announcement, in: line, direction: .reply, entry: entry,
                                                position: position, registrar: &registrar, now: now, events: &events).0
            case .failure(let error):
                refuse(error, line, entry: entry, direction: .reply, events: &events)
            }
        case (.auth?, 234):
            decision.encryptedAfter = true
            events.append(FTPEvent(.encrypted, connection: entry.original.endpoints, "AUTH accepted (234): control channel encrypted, helper blind until CCC"))
        case (_, 227), (_, 229):
            events.append(FTPEvent(.refusedUnsolicited, connection: entry.original.endpoints, "\(code) reply without a PASV/EPSV waiting for it: ignored, nothing expected"))
        default:
            break
        }
        return decision
    }

    private func refuse(_ error: FTPLineError, _ line: StreamLine, entry: ConnEntry, direction: Direction,
                        events: inout [FTPEvent]) {
        let text = String(decoding: line.text.prefix(80), as: UTF8.self).filter { $0.isASCII && !$0.isNewline }
        switch error {
        case .numberOutOfRange:
            events.append(FTPEvent(.refusedNumberOutOfRange, connection: entry.tuple(direction).endpoints, "\"\(text)\": a number is out of range: nothing expected"))
        case .malformed:
            events.append(FTPEvent(.refusedMalformed, connection: entry.tuple(direction).endpoints, "\"\(text)\": malformed: nothing expected"))
        }
    }
}

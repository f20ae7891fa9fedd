// What the FTP helper does with an announced data connection (PORT, EPRT,
// 227, 229), in the three steps Linux splits between nf_conntrack_ftp and
// nf_nat_ftp:
//
//   policy       may it be expected at all? (family, EPSV ALL, low ports,
//                FTP bounce unless `loose`)                 → refuse(…)
//   expectation  expect it, under NAT on the next free port when another
//                master expects that one (nf_nat_ftp's search upward)
//   rewrite      under NAT, the line's address and port as the peer must
//                see them, if they change                   → new line text
//
// Example: "PORT 10,0,1,2,195,80" from 10.0.1.2 behind masquerade passes the
// policy, expects 203.0.113.10:* → 203.0.113.1:50000 (for 10.0.1.2:50000)
// and becomes "PORT 203,0,113,1,195,80".

import Conntrack
import Wire

extension FTPSession {
    /// Where the data connection is expected to go, and how NAT moves it on.
    struct AnnouncedTarget {
        var destination: IPv6Address
        var translation: (source: IPv6Address, destination: IPv6Address, destinationPort: UInt16)?
    }

    /// Checks an announced data connection against the policy, expects it,
    /// and returns the line's new text when NAT changes the address or port
    /// (and the expectation's key, if one was made).
    func announce(_ announcement: FTPAnnouncement, in line: StreamLine, direction: Direction,
                  entry: ConnEntry, position: Int, registrar: inout some ExpectationRegistrar, now: Timestamp,
                  events: inout [FTPEvent]) -> ([UInt8]?, ExpectationKey?) {
        let sender = entry.tuple(direction)
        let what = "\(announcement.kind) \(ConnTuple.endpoint(announcement.address ?? sender.source, announcement.port, family: announcement.family))"
        var parsed = FTPEvent(.parsed, connection: sender.endpoints, "parsed \"\(String(decoding: line.text, as: UTF8.self))\"")
        parsed.line = String(decoding: line.text, as: UTF8.self)
        events.append(parsed)
        func refused(_ counter: FTPCounter, _ why: String) -> ([UInt8]?, ExpectationKey?) {
            events.append(FTPEvent(counter, connection: sender.endpoints, "\(what): \(why): nothing expected"))
            return (nil, nil)
        }
        let target: AnnouncedTarget
        switch admit(announcement, entry: entry, direction: direction) {
        case .failure(let refusal): return refused(refusal.counter, refusal.why)
        case .success(let admitted): target = admitted
        }
        let key: ExpectationKey
        switch expect(announcement, target, entry: entry, direction: direction, position: position,
                      registrar: &registrar, now: now, events: &events) {
        case .failure(let refusal): return refused(refusal.counter, refusal.why)
        case .success(let made): key = made
        }
        guard target.translation != nil else { return (nil, key) }
        switch rewrite(announcement, in: line, to: target.destination, port: key.destinationPort,
                       sender: sender, events: &events) {
        case .failure(let refusal):
            registrar.unexpect(key)
            events.removeLast()   // the expectation's note: it is withdrawn
            return refused(refusal.counter, refusal.why)
        case .success(let replacement):
            return (replacement, key)
        }
    }

    /// Why an announcement opens nothing: its counter and the words the log says.
    struct Refusal: Error {
        var counter: FTPCounter
        var why: String
    }

    // MARK: Policy

    /// The policy's verdict on an announcement, and where it would lead.
    func admit(_ announcement: FTPAnnouncement, entry: ConnEntry, direction: Direction) -> Result<AnnouncedTarget, Refusal> {
        let sender = entry.tuple(direction)
        let peerView = entry.tuple(direction.opposite)      // how the other side sees the sender
        let family = entry.original.family
        guard announcement.family == family else {
            return .failure(Refusal(counter: .refusedFamily, why: "not the connection's address family"))
        }
        if epsvAll && announcement.kind != .extendedPassive {
            return .failure(Refusal(counter: .refusedAfterEPSVAll, why: "the client said EPSV ALL"))
        }
        guard announcement.port != 0 && (announcement.port >= 1024 || policy.lowPorts) else {
            return .failure(Refusal(counter: .refusedLowPort, why: "data port below 1024 (policy lowPorts: false)"))
        }
        let announced = announcement.address ?? sender.source
        if announced != sender.source {
            // FTP bounce: a data connection to somebody else.
            guard policy.loose else {
                return .failure(Refusal(counter: .refusedBounce,
                                        why: "the address is not the sender's own \(ConnTuple.text(sender.source, family: family)) (FTP bounce; policy loose: false)"))
            }
            return .success(AnnouncedTarget(destination: announced, translation: nil))
        }
        let translation = entry.isTranslated
            ? (source: sender.destination, destination: sender.source, destinationPort: announcement.port) : nil
        return .success(AnnouncedTarget(destination: peerView.destination, translation: translation))
    }

    // MARK: Expectation

    /// Expects the data connection; under NAT the port moves up while another
    /// master expects it already, as nf_nat_ftp searches.
    func expect(_ announcement: FTPAnnouncement, _ target: AnnouncedTarget, entry: ConnEntry, direction: Direction,
                position: Int, registrar: inout some ExpectationRegistrar, now: Timestamp,
                events: inout [FTPEvent]) -> Result<ExpectationKey, Refusal> {
        let sender = entry.tuple(direction)
        let peerView = entry.tuple(direction.opposite)
        let family = entry.original.family
        var key = ExpectationKey(source: peerView.source, destination: target.destination,
                                 destinationPort: announcement.port, protocol: .tcp, family: family)
        let expires = saturatingAdd(now, policy.expectNanoseconds)
        registrar.limitExpectations(perMaster: policy.maxExpected)
        while true {
            let expectation = ConnExpectation(key: key, masterPosition: position, masterID: entry.id,
                                              masterTuple: entry.original, helper: .ftp, expires: expires,
                                              translation: target.translation)
            switch registrar.expect(expectation, now: now) {
            case .success:
                break
            case .failure(.clash) where target.translation != nil && key.destinationPort < 65535:
                key.destinationPort += 1
                continue
            case .failure(.clash):
                return .failure(Refusal(counter: .refusedClash, why: "another control connection expects the same data connection"))
            case .failure(.tableFull):
                return .failure(Refusal(counter: .refusedTableFull, why: "the expectation table is full"))
            }
            break
        }
        var note = FTPEvent(.expectationCreated, connection: sender.endpoints, "")
        // Where the data connection goes on to, when NAT moves it elsewhere than it is expected.
        let toText = target.translation.flatMap { to in
            to.destination == key.destination && to.destinationPort == key.destinationPort
                ? nil : ConnTuple.endpoint(to.destination, to.destinationPort, family: family)
        }
        note.expectation = FTPExpectationNote(source: ConnTuple.text(key.source, family: family),
                                              destination: ConnTuple.text(key.destination, family: family),
                                              destinationPort: key.destinationPort, to: toText)
        note.text = "expect \(ConnTuple.text(key.source, family: family)):* -> \(ConnTuple.endpoint(key.destination, key.destinationPort, family: family))"
            + (toText.map { " (for \($0))" } ?? "")
        events.append(note)
        return .success(key)
    }

    // MARK: Rewrite

    /// The line with the address and port the peer must see (nf_nat_ftp's
    /// mangle), or nil when neither changes. A line part of which already
    /// left unchanged cannot be rewritten: refused.
    func rewrite(_ announcement: FTPAnnouncement, in line: StreamLine, to address: IPv6Address, port: UInt16,
                 sender: ConnTuple, events: inout [FTPEvent]) -> Result<[UInt8]?, Refusal> {
        let addressChanges = announcement.address != nil && address != announcement.address
        guard addressChanges || port != announcement.port else { return .success(nil) }
        guard line.canRewrite else {
            return .failure(Refusal(counter: .refusedUnrewritable,
                                    why: "NAT needs it rewritten but part of the line already left unchanged"))
        }
        let text = announcement.argumentText(address: address, port: port)
        var bytes = Array(line.text[line.text.startIndex..<announcement.argument.lowerBound])
        bytes += Array(text.utf8)
        bytes += Array(line.text[announcement.argument.upperBound...])
        let before = String(decoding: line.text, as: UTF8.self)
        let after = String(decoding: bytes, as: UTF8.self)
        let delta = bytes.count - line.text.count
        var rewrite = FTPEvent(.rewritten, connection: sender.endpoints,
                               "rewrote \"\(before)\" -> \"\(after)\", seq offset \(delta >= 0 ? "+" : "")\(delta) from seq \(line.start)")
        rewrite.line = before
        rewrite.rewritten = after
        events.append(rewrite)
        return .success(bytes)
    }
}

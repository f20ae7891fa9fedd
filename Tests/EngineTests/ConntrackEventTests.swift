// conntrack -E: NEW when a connection is confirmed, UPDATE when its state or
// status changes, DESTROY when it leaves the table, in conntrack-tools'
// format; nothing is collected while nobody listens.

@testable import Conntrack
@testable import Engine
import Testing
import Wire

@Suite struct ConntrackEventTests {
    @Test func newUpdateDestroy() throws {
        let h = try Harness()
        h.send(h.tcp(.syn, seq: 1), on: h.lan)
        #expect(h.engine.conntrack.takeEvents(now: h.now).isEmpty, "off while nobody listens")
        h.engine.conntrack.setEventsEnabled(true)
        h.send(Packet.udp(client4, 5000, server4, 53), on: h.lan)
        h.send(h.tcp([.syn, .ack], from: false, seq: 9, ack: 2), on: h.wan)
        h.send(h.tcp(.ack, seq: 2, ack: 10), on: h.lan)
        h.send(h.tcp(.ack, seq: 2, ack: 10), on: h.lan)   // no change: no event
        let lines = h.engine.conntrack.takeEvents(now: h.now).map(\.line)
        #expect(lines == [
            "    [NEW] udp      17 30 src=10.0.1.2 dst=203.0.113.10 sport=5000 dport=53 [UNREPLIED] src=203.0.113.10 dst=10.0.1.2 sport=53 dport=5000",
            " [UPDATE] tcp      6 60 SYN_RECV src=10.0.1.2 dst=203.0.113.10 sport=40000 dport=80 src=203.0.113.10 dst=10.0.1.2 sport=80 dport=40000",
            " [UPDATE] tcp      6 432000 ESTABLISHED src=10.0.1.2 dst=203.0.113.10 sport=40000 dport=80 src=203.0.113.10 dst=10.0.1.2 sport=80 dport=40000 [ASSURED]",
        ])
        h.advance(seconds: 31)
        h.engine.tick(now: h.now)
        let destroyed = h.engine.conntrack.takeEvents(now: h.now).map(\.line)
        #expect(destroyed == ["[DESTROY] udp      17 src=10.0.1.2 dst=203.0.113.10 sport=5000 dport=53 packets=1 bytes=28 [UNREPLIED] src=203.0.113.10 dst=10.0.1.2 sport=53 dport=5000 packets=0 bytes=0"])
        h.engine.conntrack.setEventsEnabled(false)
        h.send(Packet.udp(client4, 5001, server4, 53), on: h.lan)
        #expect(h.engine.conntrack.takeEvents(now: h.now).isEmpty)
    }
}

// Window tracking's pieces on their own: sequence comparisons across the
// wrap (Linux's before()/after()), and what it costs each table entry.

@testable import Conntrack
import Testing
import Wire

@Suite struct TCPWindowUnitTests {
    @Test func serialComparisonsWrap() {
        #expect(before(0xffff_fff0, 0x10) && after(0x10, 0xffff_fff0))
        #expect(!before(5, 5) && !after(5, 5))
        #expect(after(0x8000_0000 &- 1, 0) && before(0x8000_0001, 0))
    }

    /// The flow table is one flat array of entries: window tracking adds
    /// Linux's struct ip_ct_tcp (both sides and the last segment, 60 bytes
    /// here, as in Linux) to each; an entry was 176 bytes before it.
    @Test func entriesStaySmall() {
        #expect(MemoryLayout<TCPTracking>.stride <= 60)
        #expect(MemoryLayout<ConnEntry>.stride <= 224)
    }

    /// A segment that may pick a connection up is refused when tcp_loose is off.
    @Test func looseOffRefusesPickup() {
        var timeouts = ConntrackTimeouts.linux
        timeouts.tcpLoose = false
        var conntrack = Conntrack(capacity: 16, timeouts: timeouts)
        var packet = TrackedPacket(tuple: ConnTuple(source: .v4(IPv4Address(10, 0, 1, 2)), destination: .v4(IPv4Address(203, 0, 113, 10)),
                                                    sourcePort: 40000, destinationPort: 80, protocol: .tcp), length: 40)
        packet.tcpFlags = .ack
        #expect(conntrack.track(packet, now: 1).invalidReason == .tcpNotNew)
        packet.tcpFlags = .syn
        #expect(conntrack.track(packet, now: 1).state == .new)
    }
}

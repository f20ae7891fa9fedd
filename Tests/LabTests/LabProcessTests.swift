// LabProcess reads /proc/PID/net/{tcp,udp}{,6} to see a program listen in its
// namespace: the local address's port in hex, TCP state 0A (LISTEN), a bound
// UDP socket in 07 (CLOSE).

@testable import Lab
import Testing

@Suite struct LabProcessTests {
    @Test func listeningSocketsInProcNet() {
        let tcp = "   1: 0A00010A:0015 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0"
        #expect(LabProcess.isListening(Substring(tcp), port: 21, udp: false))
        #expect(!LabProcess.isListening(Substring(tcp), port: 22, udp: false))
        #expect(!LabProcess.isListening(Substring(tcp), port: 21, udp: true), "state 0A is not a UDP socket's")
        let established = "   2: 0A00010A:0015 0200010A:9C40 01 00000000:00000000 00:00000000 00000000     0        0 12346 1"
        #expect(!LabProcess.isListening(Substring(established), port: 21, udp: false), "an established connection from port 21")
        let udp6 = "  3: 00000000000000000000000000000000:1B5F 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000"
        #expect(LabProcess.isListening(Substring(udp6), port: 7007, udp: true))
        #expect(!LabProcess.isListening("  sl  local_address rem_address   st tx_queue", port: 0, udp: false), "the header line")
    }
}

// How another project tests its assumptions about a firewall with tunwall,
// through the public API only (no @testable): a NAT router with the FTP helper,
// a client behind it announcing an active-mode data port, and the checks a
// test suite would make. Copy this file to start.

import EngineTesting
import Testing
import Wire

@Suite struct ExampleTests {
    let client = IPv4Address(10, 0, 1, 2), server = IPv4Address(203, 0, 113, 10), publicAddress = IPv4Address(203, 0, 113, 1)

    func firewall() throws -> VirtualFirewall {
        try VirtualFirewall(interfaces: [
            .init(name: "lan0", addresses: ["10.0.1.1/24"]),
            .init(name: "wan0", addresses: ["203.0.113.1/24"]),
        ], ruleset: """
            table inet filter {
                ct helper ftp-standard { type "ftp" protocol tcp; }
                chain pre { type filter hook prerouting priority filter; tcp dport 21 ct helper set "ftp-standard"; }
                chain forward {
                    type filter hook forward priority filter; policy drop;
                    ct state established,related accept
                    iifname "lan0" ct state new accept
                }
            }
            table inet nat {
                chain post { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
            }
            """)
    }

    @Test func outboundConnectionsAreMasqueraded() throws {
        let fw = try firewall()
        let out = fw.send(.tcp(client, 40000, server, 80, flags: .syn, sequenceNumber: SeqNumber(1)), on: "lan0")
        #expect(out.interface == "wan0")
        #expect(out.summary.hasPrefix("IP 203.0.113.1.40000 > 203.0.113.10.80: Flags [S]"))
        #expect(out.isWellFormed)
        // Unsolicited inbound traffic is dropped by the policy.
        let inbound = fw.send(.tcp(server, 5555, client, 22, flags: .syn), on: "wan0")
        #expect(inbound.interface == nil)
    }

    @Test func activeFTPThroughTheHelper() throws {
        let fw = try firewall()
        fw.send(.tcp(client, 40000, server, 21, flags: .syn, sequenceNumber: SeqNumber(100)), on: "lan0")
        fw.send(.tcp(server, 21, publicAddress, 40000, flags: [.syn, .ack], sequenceNumber: SeqNumber(500),
                     acknowledgmentNumber: SeqNumber(101)), on: "wan0")
        fw.send(.tcp(client, 40000, server, 21, flags: .ack, sequenceNumber: SeqNumber(101), acknowledgmentNumber: SeqNumber(501)),
                on: "lan0")
        let port = fw.send(.tcp(client, 40000, server, 21, flags: [.ack, .psh], sequenceNumber: SeqNumber(101),
                                acknowledgmentNumber: SeqNumber(501), payload: Array("PORT 10,0,1,2,195,80\r\n".utf8)), on: "lan0")
        #expect(port.payloadText == "PORT 203,0,113,1,195,80\r\n", "the helper rewrote the address")
        #expect(fw.expectations.count == 1)
        // The server's data connection reaches the client.
        let data = fw.send(.tcp(server, 20, publicAddress, 50000, flags: .syn, sequenceNumber: SeqNumber(9)), on: "wan0")
        #expect(data.interface == "lan0")
        #expect(data.summary.hasPrefix("IP 203.0.113.10.20 > 10.0.1.2.50000: Flags [S]"))
        #expect(fw.connections.contains { $0.contains("helper=ftp") })
    }

    /// The clock only goes forward, and odd steps never trap (they used to:
    /// Timestamp(-1e9), Timestamp(.nan), an overflow past 2^64 ns).
    @Test func clockStepsThatMakeNoSenseAreHarmless() throws {
        let fw = try firewall()
        let start = fw.now
        fw.advance(seconds: -5)
        fw.advance(seconds: .nan)
        #expect(fw.now == start)
        fw.advance(seconds: 2)
        #expect(fw.now == start + 2_000_000_000)
        fw.advance(seconds: 1e30)
        #expect(fw.now == .max)
        fw.advance(seconds: 1)
        #expect(fw.now == .max)
    }

    /// A TAP interface: the firewall answers ARP for its own address, on the test's clock.
    @Test func tapInterfacesAnswerARP() throws {
        let firewall = try VirtualFirewall(interfaces: [
            .init(name: "lan0", addresses: ["10.0.1.1/24"], mode: .tap, mac: MACAddress("02:00:00:00:01:01")),
            .init(name: "wan0", addresses: ["203.0.113.1/24"], mode: .tap),
        ])
        let host = MACAddress("02:00:00:00:01:02")!
        var frame = [UInt8](repeating: 0, count: EthernetHeader.length + ARPMessage.length)
        frame.withUnsafeMutableBytes { bytes in
            EthernetHeader(destination: .broadcast, source: host, type: EtherType.arp).store(to: bytes)
            ARPMessage(operation: ARPMessage.request, senderMAC: host, senderIP: client, targetMAC: .zero,
                       targetIP: IPv4Address(10, 0, 1, 1)).store(to: UnsafeMutableRawBufferPointer(rebasing: bytes[14...]))
        }
        let out = firewall.send(frame, on: "lan0")
        #expect(out.generated.count == 1 && out.generated.first?.interface == "lan0")
        let reply = out.generated.first.map { Array($0.bytes.dropFirst(EthernetHeader.length)) } ?? []
        #expect(reply.withUnsafeBytes { ARPMessage($0) }?.senderMAC == MACAddress("02:00:00:00:01:01"))
        #expect(firewall.neighbours.map(\.description) == ["10.0.1.2 dev lan0 lladdr 02:00:00:00:01:02 STALE"])
    }
}

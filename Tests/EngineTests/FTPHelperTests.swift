// The FTP helper through the engine: expectations for PORT, EPRT, 227 and
// 229, rewriting under masquerade and port forwarding, the data connection
// found RELATED and translated like its master, over IPv4 and IPv6.

@testable import Conntrack
@testable import Engine
import FTP
import Rules
import Testing
import Wire

@Suite struct FTPHelperTests {
    @Test func helperIsAttachedOnlyByRule() throws {
        let s = try FTPScenario(FTPRules.helperOnly)
        s.connect()
        let line = s.h.engine.conntrack.listing(now: s.h.now).first ?? ""
        #expect(line.contains("helper=ftp use=1"), "conntrack -L names the helper: \(line)")
        // Without the rule, no helper and no expectation.
        let plain = try FTPScenario(FTPRules.noHelper)
        plain.connect()
        plain.clientSends("PORT 10,0,1,2,195,80\r\n")
        #expect(plain.expectations.isEmpty)
        #expect(!(plain.h.engine.conntrack.listing(now: plain.h.now).first ?? "").contains("helper="))
    }

    @Test func activeWithoutNATExpectsTheServer() throws {
        let s = try FTPScenario(FTPRules.helperOnly)
        s.connect()
        let out = s.clientSends("PORT 10,0,1,2,195,80\r\n")
        #expect(out.verdict == .forward(s.h.wan))
        #expect(FTPScenario.text(out.bytes) == "PORT 10,0,1,2,195,80\r\n", "nothing to rewrite without NAT")
        #expect(s.expectations == ["300 proto=6 src=203.0.113.10 dst=10.0.1.2 sport=0 dport=50000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=10.0.1.2 master-dst=203.0.113.10 sport=40000 dport=21 class=0 helper=ftp"])
        s.serverSends("200 PORT command successful\r\n")
        // The server's data connection from port 20 is RELATED and let in by the forward chain.
        let data = Packet.tcp(server4, 20, client4, 50000, flags: .syn, sequenceNumber: SeqNumber(77))
        #expect(s.h.send(data, on: s.h.wan).verdict == .forward(s.h.lan))
        #expect(s.expectations.isEmpty, "an expectation is used once")
        let entry = try #require(s.h.entry(ConnTuple(source: .v4(server4), destination: .v4(client4), sourcePort: 20,
                                                     destinationPort: 50000, protocol: .tcp)))
        #expect(entry.status.contains(.expected))
        // A second connection to the same port is new, and the policy drops it.
        let again = Packet.tcp(server4, 21, client4, 50000, flags: .syn, sequenceNumber: SeqNumber(99))
        #expect(s.h.send(again, on: s.h.wan).verdict == .drop(.ruleDrop))
    }

    @Test func activeBehindMasqueradeIsRewritten() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let out = s.clientSends("PORT 10,0,1,2,195,80\r\n")
        #expect(FTPScenario.text(out.bytes) == "PORT 203,0,113,1,195,80\r\n")
        #expect(FTPScenario.isWellFormed(out.bytes))
        #expect(s.expectations.first?.contains("src=203.0.113.10 dst=203.0.113.1 sport=0 dport=50000") == true,
                "\(s.expectations)")
        // The server answers; its ack counts the three bytes more, the client sees its own numbering.
        let reply = s.h.send(s.serverPacket([.ack, .psh], "200 OK\r\n").withAcknowledgment(s.clientSeq + 3), on: s.h.wan)
        s.serverSeq += 8
        #expect(try Packet(parsing: reply.bytes).tcpAcknowledgment == SeqNumber(s.clientSeq))
        // Later client segments move by +3.
        let list = s.clientSends("LIST\r\n")
        #expect(FTPScenario.seq(list.bytes) == s.clientSeq - 6 + 3)
        // The data connection to the public address reaches the client, from the server's port 20.
        let data = Packet.tcp(server4, 20, IPv4Address(203, 0, 113, 1), 50000, flags: .syn, sequenceNumber: SeqNumber(7))
        let (verdict, bytes) = s.h.send(data, on: s.h.wan)
        #expect(verdict == .forward(s.h.lan))
        #expect(PacketSummary.line(for: bytes).hasPrefix("IP 203.0.113.10.20 > 10.0.1.2.50000: Flags [S]"))
        #expect(FTPScenario.isWellFormed(bytes))
        let synAck = Packet.tcp(client4, 50000, server4, 20, flags: [.syn, .ack], sequenceNumber: SeqNumber(1),
                                acknowledgmentNumber: SeqNumber(8))
        let back = s.h.send(synAck, on: s.h.lan)
        #expect(back.verdict == .forward(s.h.wan))
        #expect(PacketSummary.line(for: back.bytes).hasPrefix("IP 203.0.113.1.50000 > 203.0.113.10.20: Flags [S.]"))
    }

    @Test func eprtBehindMasqueradeIPv6() throws {
        let s = try FTPScenario(FTPRules.masquerade, ipv6: true)
        s.connect()
        let out = s.clientSends("EPRT |2|fd00:1::2|50000|\r\n")
        #expect(FTPScenario.text(out.bytes) == "EPRT |2|2001:db8:1::1|50000|\r\n")
        #expect(FTPScenario.isWellFormed(out.bytes))
        let data = Packet.tcp(server6, 20, IPv6Address("2001:db8:1::1")!, 50000, flags: .syn, sequenceNumber: SeqNumber(7))
        let (verdict, bytes) = s.h.send(data, on: s.h.wan)
        #expect(verdict == .forward(s.h.lan))
        #expect(PacketSummary.line(for: bytes).hasPrefix("IP6 2001:db8:1::10.20 > fd00:1::2.50000: Flags [S]"))
    }

    @Test func eprtIPv4AnyDelimiterAndCase() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let out = s.clientSends("eprt !1!10.0.1.2!50001!\n")
        #expect(FTPScenario.text(out.bytes) == "eprt !1!203.0.113.1!50001!\n")
        #expect(s.expectations.first?.contains("dport=50001") == true)
    }

    @Test func passiveBehindMasquerade() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        s.clientSends("PASV\r\n")
        let reply = s.serverSends("227 Entering Passive Mode (203,0,113,10,117,48).\r\n")
        #expect(FTPScenario.text(reply.bytes) == "227 Entering Passive Mode (203,0,113,10,117,48).\r\n")
        #expect(s.expectations.first?.contains("src=10.0.1.2 dst=203.0.113.10 sport=0 dport=30000") == true, "\(s.expectations)")
        let data = Packet.tcp(client4, 45000, server4, 30000, flags: .syn, sequenceNumber: SeqNumber(3))
        let (verdict, bytes) = s.h.send(data, on: s.h.lan)
        #expect(verdict == .forward(s.h.wan))
        #expect(PacketSummary.line(for: bytes).hasPrefix("IP 203.0.113.1.45000 > 203.0.113.10.30000: Flags [S]"))
    }

    @Test func epsvBehindMasqueradeIPv6() throws {
        let s = try FTPScenario(FTPRules.masquerade, ipv6: true)
        s.connect()
        s.clientSends("EPSV\r\n")
        s.serverSends("229 Entering Extended Passive Mode (|||30001|)\r\n")
        #expect(s.expectations.first?.contains("src=fd00:1::2 dst=2001:db8:1::10 sport=0 dport=30001") == true, "\(s.expectations)")
        let data = Packet.tcp(client6, 45000, server6, 30001, flags: .syn, sequenceNumber: SeqNumber(3))
        let (verdict, bytes) = s.h.send(data, on: s.h.lan)
        #expect(verdict == .forward(s.h.wan))
        #expect(PacketSummary.line(for: bytes).hasPrefix("IP6 2001:db8:1::1.45000 > 2001:db8:1::10.30001: Flags [S]"))
    }

    @Test func passiveServerBehindPortForwarding() throws {
        for ipv6 in [false, true] {
            let s = try FTPScenario(FTPRules.portForward, ipv6: ipv6, reversed: true)
            s.connect()
            let inside = ipv6 ? "fd00:1::2" : "10.0.1.2"
            #expect(s.replyTuple?.sourceAddress.description == inside, "the control connection reaches the DMZ server")
            if ipv6 {
                s.clientSends("EPSV\r\n")
                let out = s.serverSends("229 Extended Passive (|||30002|)\r\n")
                #expect(FTPScenario.text(out.bytes) == "229 Extended Passive (|||30002|)\r\n")
            } else {
                s.clientSends("PASV\r\n")
                let out = s.serverSends("227 Entering Passive Mode (10,0,1,2,117,50)\r\n")
                #expect(FTPScenario.text(out.bytes) == "227 Entering Passive Mode (203,0,113,1,117,50)\r\n")
                #expect(FTPScenario.isWellFormed(out.bytes))
            }
            // The client connects to the public address; the connection reaches the server.
            let data = Packet.tcp(s.client, 46000, s.server, 30002, flags: .syn, sequenceNumber: SeqNumber(3))
            let (verdict, bytes) = s.h.send(data, on: s.h.wan)
            #expect(verdict == .forward(s.h.lan), "ipv6 \(ipv6)")
            let to = ipv6 ? "fd00:1::2.30002" : "10.0.1.2.30002"
            #expect(PacketSummary.line(for: bytes).contains("> \(to): Flags [S]"), "\(PacketSummary.line(for: bytes))")
        }
    }

    @Test func activeServerBehindPortForwardingComesFromThePublicAddress() throws {
        let s = try FTPScenario(FTPRules.portForward, reversed: true)
        s.connect()
        s.clientSends("PORT 203,0,113,10,195,90\r\n")
        #expect(s.expectations.first?.contains("src=10.0.1.2 dst=203.0.113.10 sport=0 dport=50010") == true, "\(s.expectations)")
        let data = Packet.tcp(client4, 20, server4, 50010, flags: .syn, sequenceNumber: SeqNumber(3))
        let (verdict, bytes) = s.h.send(data, on: s.h.lan)
        #expect(verdict == .forward(s.h.wan))
        #expect(PacketSummary.line(for: bytes).hasPrefix("IP 203.0.113.1.20 > 203.0.113.10.50010: Flags [S]"))
    }
}

extension Packet {
    func withAcknowledgment(_ ack: UInt32) -> Packet {
        var copy = self
        if case .tcp(var tcp) = copy.transport {
            tcp.acknowledgmentNumber = SeqNumber(ack)
            copy.transport = .tcp(tcp)
        }
        return copy
    }

    var tcpAcknowledgment: SeqNumber? {
        if case .tcp(let tcp) = transport { return tcp.acknowledgmentNumber }
        return nil
    }
}

// Hostile FTP control traffic opens no pinhole: FTP bounce, privileged data
// ports, numbers out of range, commands that only look like they start a line
// (NAT Slipstreaming), replies nobody asked for, EPSV ALL, too many
// expectations, expectations outliving their master, connections from the
// wrong host or to the wrong port, an encrypted channel, and random bytes.

@testable import Conntrack
@testable import Engine
import FTP
import Rules
import Testing
import Wire
import TestSeeds

@Suite struct FTPAttackTests {
    @Test func ftpBounceToAThirdAddressOpensNothing() throws {
        let s = try FTPScenario(FTPRules.helperOnly)
        s.connect()
        let out = s.clientSends("PORT 198,51,100,7,195,80\r\n")
        #expect(out.verdict == .forward(s.h.wan), "the command passes (the server will refuse it)")
        #expect(s.expectations.isEmpty)
        #expect(s.h.engine.statistics.ftpCount(.refusedBounce) == 1)
        #expect(s.log.contains { $0.contains("FTP bounce") })
        s.serverSends("500 Illegal PORT command.\r\n")
        // A passive reply that points the client elsewhere is refused the same way.
        s.clientSends("PASV\r\n")
        s.serverSends("227 Entering Passive Mode (10,0,1,99,117,48)\r\n")
        #expect(s.expectations.isEmpty)
        #expect(s.h.engine.statistics.ftpCount(.refusedBounce) == 2)
    }

    @Test func looseAllowsAThirdAddress() throws {
        var policy = FTPPolicy()
        policy.loose = true
        let s = try FTPScenario(FTPRules.helperOnly, policy: policy)
        s.connect()
        s.clientSends("PORT 10,0,1,3,195,80\r\n")
        #expect(s.expectations.first?.contains("src=203.0.113.10 dst=10.0.1.3 sport=0 dport=50000") == true, "\(s.expectations)")
    }

    @Test func privilegedPortsAndNumbersOutOfRange() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        for line in ["PORT 10,0,1,2,0,22\r\n", "EPRT |1|10.0.1.2|22|\r\n", "PORT 10,0,1,2,0,0\r\n"] {
            let out = s.clientSends(line)
            #expect(FTPScenario.text(out.bytes) == line, "refused commands pass unchanged")
        }
        #expect(s.h.engine.statistics.ftpCount(.refusedLowPort) == 3)
        for line in ["PORT 10,0,1,2,266,80\r\n", "PORT 10,0,1,258,195,80\r\n", "PORT 10,0,1,2,195,1000\r\n",
                     "EPRT |1|10.0.1.2|70000|\r\n"] {
            s.clientSends(line)
        }
        #expect(s.h.engine.statistics.ftpCount(.refusedNumberOutOfRange) == 4)
        for line in ["PORT 10,0,1,2,195\r\n", "PORT 10,0,1,2,195,80,1\r\n", "PORT a,b,c,d,e,f\r\n",
                     "EPRT |3|10.0.1.2|50000|\r\n", "EPRT |1|10.0.1.2|50000\r\n", "EPRT |1|10.0.1.2:50000|\r\n",
                     "EPRT |2|10.0.1.2|50000|\r\n", "PORT  \r\n"] {
            s.clientSends(line)
        }
        #expect(s.expectations.isEmpty)
        // With lowPorts the policy lets port 22 through.
        var policy = FTPPolicy()
        policy.lowPorts = true
        let lenient = try FTPScenario(FTPRules.masquerade, policy: policy)
        lenient.connect()
        lenient.clientSends("PORT 10,0,1,2,0,22\r\n")
        #expect(lenient.expectations.first?.contains("dport=22") == true)
    }

    @Test func commandInTheMiddleOfALineOpensNothing() throws {
        // NAT Slipstreaming: the attacker arranges for a segment to start with
        // "PORT …" while, in the stream, it continues a line.
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let padding = "STOR " + String(repeating: "A", count: 40)
        #expect(s.clientSends(padding).verdict == .forward(s.h.wan))
        let trick = s.clientSends("PORT 10,0,1,2,195,80\r\n")
        #expect(FTPScenario.text(trick.bytes) == "PORT 10,0,1,2,195,80\r\n", "not rewritten: not a command")
        #expect(s.expectations.isEmpty)
        // The same in the reply direction, after a PASV.
        s.clientSends("PASV\r\n")
        s.serverSends("150 nothing to see ")
        s.serverSends("227 Entering Passive Mode (203,0,113,10,117,48)\r\n")
        #expect(s.expectations.isEmpty)
        // A line too long to be a command is never read as one, whatever it ends with.
        let long = String(repeating: " ", count: 600) + "\r\n"
        s.clientSends("NOOP" + long)
        #expect(s.expectations.isEmpty)
    }

    @Test func unsolicitedPassiveReplyOpensNothing() throws {
        let s = try FTPScenario(FTPRules.helperOnly)
        s.connect()
        s.serverSends("220 Welcome\r\n")
        s.serverSends("227 Entering Passive Mode (203,0,113,10,117,48)\r\n")
        s.serverSends("229 Entering Extended Passive Mode (|||30000|)\r\n")
        #expect(s.expectations.isEmpty)
        #expect(s.h.engine.statistics.ftpCount(.refusedUnsolicited) == 2)
        // A 229 to a PASV is not the answer either.
        s.clientSends("PASV\r\n")
        s.serverSends("229 Entering Extended Passive Mode (|||30000|)\r\n")
        #expect(s.expectations.isEmpty)
    }

    @Test func multiLineRepliesAreReadByTheirLastLine() throws {
        let s = try FTPScenario(FTPRules.helperOnly)
        s.connect()
        s.clientSends("PASV\r\n")
        s.serverSends("227-Here it comes\r\n229 (|||30000|)\r\n227 Entering Passive Mode (203,0,113,10,117,49)\r\n")
        #expect(s.expectations.count == 1)
        #expect(s.expectations.first?.contains("dport=30001") == true)
    }

    @Test func epsvAllForbidsTheOthers() throws {
        let s = try FTPScenario(FTPRules.helperOnly)
        s.connect()
        s.clientSends("EPSV ALL\r\n")
        s.serverSends("200 EPSV ALL ok\r\n")
        s.clientSends("PORT 10,0,1,2,195,80\r\n")
        #expect(s.expectations.isEmpty)
        #expect(s.h.engine.statistics.ftpCount(.refusedAfterEPSVAll) == 1)
        s.serverSends("500 no\r\n")
        s.clientSends("EPSV\r\n")
        s.serverSends("229 Entering Extended Passive Mode (|||30000|)\r\n")
        #expect(s.expectations.count == 1)
    }

    @Test func oneExpectationPerControlConnectionByDefault() throws {
        let s = try FTPScenario(FTPRules.helperOnly)
        s.connect()
        s.clientSends("PORT 10,0,1,2,195,80\r\n")
        s.clientSends("PORT 10,0,1,2,195,81\r\n")
        #expect(s.expectations.count == 1)
        #expect(s.expectations.first?.contains("dport=50001") == true, "the newer one replaces the older")
        var policy = FTPPolicy()
        policy.maxExpected = 3
        let more = try FTPScenario(FTPRules.helperOnly, policy: policy)
        more.connect()
        for port in 0..<4 { more.clientSends("PORT 10,0,1,2,195,\(80 + port)\r\n") }
        #expect(more.expectations.count == 3)
    }

    @Test func onlyTheExpectedHostAndPortGetIn() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        s.clientSends("PORT 10,0,1,2,195,80\r\n")
        let publicAddress = IPv4Address(203, 0, 113, 1)
        // Another host, the announced port: not related, and nothing is listening on the firewall.
        let other = Packet.tcp(IPv4Address(203, 0, 113, 99), 20, publicAddress, 50000, flags: .syn, sequenceNumber: SeqNumber(1))
        #expect(s.h.send(other, on: s.h.wan).verdict != .forward(s.h.lan))
        // The server, another port.
        let wrongPort = Packet.tcp(server4, 20, publicAddress, 50001, flags: .syn, sequenceNumber: SeqNumber(1))
        #expect(s.h.send(wrongPort, on: s.h.wan).verdict != .forward(s.h.lan))
        #expect(s.expectations.count == 1, "the expectation still waits for the server")
        // UDP to the announced port does not match a TCP expectation.
        let udp = Packet.udp(server4, 20, publicAddress, 50000)
        #expect(s.h.send(udp, on: s.h.wan).verdict != .forward(s.h.lan))
        let right = Packet.tcp(server4, 20, publicAddress, 50000, flags: .syn, sequenceNumber: SeqNumber(1))
        #expect(s.h.send(right, on: s.h.wan).verdict == .forward(s.h.lan))
    }

    @Test func expectationsEndWithTheirMasterAndTheirTime() throws {
        let s = try FTPScenario(FTPRules.helperOnly)
        s.connect()
        s.clientSends("PORT 10,0,1,2,195,80\r\n")
        #expect(s.expectations.count == 1)
        // The server acknowledges the line: with data unacknowledged the
        // control connection itself would expire after 300 s
        // (nf_conntrack_tcp_timeout_unacknowledged), as in Linux.
        s.h.send(s.serverPacket(.ack), on: s.serverSide)
        s.h.advance(seconds: 301)
        #expect(s.expectations.isEmpty, "300 s, as Linux's FTP helper")
        s.clientSends("PORT 10,0,1,2,195,81\r\n")
        #expect(s.expectations.count == 1)
        // The control connection is reset: CLOSE lasts 10 s, then the master is gone.
        s.h.send(s.clientPacket(.rst), on: s.h.lan)
        s.h.advance(seconds: 11)
        #expect(s.expectations.isEmpty)
        let data = Packet.tcp(server4, 20, client4, 50001, flags: .syn, sequenceNumber: SeqNumber(1))
        #expect(s.h.send(data, on: s.h.wan).verdict == .drop(.ruleDrop))
        s.h.engine.tick(now: s.h.now)
        #expect(s.h.engine.conntrack.expectations.isEmpty, "purged")
        #expect(s.h.engine.helpers.isEmpty)
    }

    @Test func clashingExpectationsUnderNATTakeTheNextPort() throws {
        let a = try FTPScenario(FTPRules.masquerade)
        a.connect()
        a.clientSends("PORT 10,0,1,2,195,80\r\n")
        // A second client behind the same NAT announces the same port to the same server.
        let b = a.h
        let other = IPv4Address(10, 0, 1, 3)
        b.send(Packet.tcp(other, 40001, server4, 21, flags: .syn, sequenceNumber: SeqNumber(10)), on: b.lan)
        b.send(Packet.tcp(server4, 21, IPv4Address(203, 0, 113, 1), 40001, flags: [.syn, .ack], sequenceNumber: SeqNumber(20),
                          acknowledgmentNumber: SeqNumber(11)), on: b.wan)
        b.send(Packet.tcp(other, 40001, server4, 21, flags: .ack, sequenceNumber: SeqNumber(11), acknowledgmentNumber: SeqNumber(21)), on: b.lan)
        let out = b.send(Packet.tcp(other, 40001, server4, 21, flags: [.ack, .psh], sequenceNumber: SeqNumber(11),
                                    acknowledgmentNumber: SeqNumber(21), payload: Array("PORT 10,0,1,3,195,80\r\n".utf8)), on: b.lan)
        #expect(FTPScenario.text(out.bytes) == "PORT 203,0,113,1,195,81\r\n")
        #expect(a.expectations.count == 2)
        let data = Packet.tcp(server4, 20, IPv4Address(203, 0, 113, 1), 50001, flags: .syn, sequenceNumber: SeqNumber(1))
        let (verdict, bytes) = b.send(data, on: b.wan)
        #expect(verdict == .forward(b.lan))
        #expect(PacketSummary.line(for: bytes).hasPrefix("IP 203.0.113.10.20 > 10.0.1.3.50000: Flags [S]"))
    }

    @Test func encryptedControlChannelLeavesTheHelperBlind() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        s.clientSends("AUTH TLS\r\n")
        s.serverSends("234 Proceed with negotiation.\r\n")
        #expect(s.h.engine.statistics.ftpCount(.encrypted) == 1)
        // TLS records (handshake, application data) pass unread, even if they hold "PORT".
        var record: [UInt8] = [22, 3, 1, 0, 30]
        record += Array("\nPORT 10,0,1,2,195,80\r\n".utf8)
        record += [UInt8](repeating: 0, count: 30 - 23)
        let out = s.h.send(s.clientPacket([.ack, .psh], record), on: s.h.lan)
        s.clientSeq += UInt32(record.count)
        #expect(out.verdict == .forward(s.h.wan))
        #expect(try Packet(parsing: out.bytes).payload == record)
        #expect(s.expectations.isEmpty)
        // CCC: after the records, clear text again; the helper reads it.
        s.clientSends("PORT 10,0,1,2,195,80\r\n")
        #expect(s.expectations.count == 1)
        #expect(s.h.engine.statistics.ftpCount(.clearText) == 1)
    }

    @Test func encryptedSessionsCanBeDroppedByPolicy() throws {
        var policy = FTPPolicy()
        policy.encrypted = .drop
        let s = try FTPScenario(FTPRules.masquerade, policy: policy)
        s.connect()
        s.clientSends("AUTH TLS\r\n")
        let reply = s.serverSends("234 Proceed with negotiation.\r\n")
        #expect(reply.verdict == .drop(.helperPolicy))
        let resets = s.h.generated()
        #expect(resets.count == 2, "a reset to each end")
        #expect(resets.allSatisfy { PacketSummary.line(for: $0.bytes).contains("Flags [R]") })
        #expect(resets.contains { $0.interface == s.h.lan } && resets.contains { $0.interface == s.h.wan })
        #expect(s.clientSends("NOOP\r\n").verdict == .drop(.helperPolicy))
    }

    @Test func randomBytesNeverTrapAndOpenOnlyWhatTheRulesAllow() throws {
        var generator = SeededGenerator(seed: testSeed(0x4654_5021))
        let pieces = ["PORT 10,0,1,2,195,80", "EPRT |1|10.0.1.2|50000|", "PASV", "EPSV", "EPSV ALL", "AUTH TLS",
                      "227 (203,0,113,10,117,48)", "229 (|||30000|)", "234 go", "PORT 999,1,1,1,1,1", "\r\n", "\n",
                      "\r", " ", "PO", "RT", "200 ok", "500 no", "PORT 10,0,1,2,0,21", "\u{0}", "EPRT |2|::1|1|"]
        for round in 0..<200 {
            let s = try FTPScenario(round % 2 == 0 ? FTPRules.masquerade : FTPRules.helperOnly)
            s.connect()
            for _ in 0..<20 {
                var text = ""
                for _ in 0..<Int.random(in: 1...4, using: &generator) { text += pieces.randomElement(using: &generator)! }
                if Bool.random(using: &generator) {
                    s.clientSends(text)
                } else {
                    s.serverSends(text)
                }
                if Int.random(in: 0..<10, using: &generator) == 0 {
                    s.h.now += 2 * nanosecondsPerSecond
                    s.h.engine.tick(now: s.h.now)
                    _ = s.h.generated()
                }
            }
            for line in s.expectations {
                // Whatever was said, an expectation names one of the two peers and an unprivileged port.
                let fields = line.split(separator: " ")
                let dport = fields.first { $0.hasPrefix("dport=") }.map { Int($0.dropFirst(6)) ?? 0 } ?? 0
                #expect(dport >= 1024, "\(line)")
                #expect(line.contains("src=203.0.113.10 ") || line.contains("src=10.0.1.2 "), "\(line)")
            }
        }
    }
}

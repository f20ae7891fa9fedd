// The TFTP helper through the engine: a read request through masquerade
// expects the server's answer from a new port, which comes in RELATED and is
// translated back to the client; without the helper, or for anybody else,
// the answer is dropped by the forward policy. IPv4 and IPv6.

@testable import Conntrack
@testable import Engine
import Rules
import TFTP
import Foundation
import Testing
import Wire

@Suite struct TFTPHelperTests {
    static func rules(helper: Bool) -> String {
        """
        table inet filter {
            ct helper tftp-standard { type "tftp" protocol udp; }
            chain pre { type filter hook prerouting priority filter; \(helper ? "udp dport 69 ct helper set \"tftp-standard\";" : "") }
            chain forward {
                type filter hook forward priority filter; policy drop;
                ct state established,related accept
                iifname "lan0" udp dport 69 ct state new accept
            }
        }
        table inet nat {
            chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
        }
        """
    }

    func harness(helper: Bool = true) throws -> Harness {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse(Self.rules(helper: helper), file: "tftp.nft"))
        return h
    }

    static let request = TFTPRequest(operation: .read, filename: "boot.img", mode: "octet").encoded

    @Test func readRequestBehindMasqueradeLetsTheAnswerIn() throws {
        let h = try harness()
        let out = h.send(Packet.udp(client4, 40000, server4, 69, payload: Self.request), on: h.lan)
        #expect(out.verdict == .forward(h.wan))
        #expect(Array(out.bytes[12..<16]) == [203, 0, 113, 1], "masqueraded")
        let expectations = h.engine.conntrack.expectationListing(now: h.now)
        #expect(expectations.count == 1)
        #expect(expectations.first?.contains("proto=17 src=203.0.113.10 dst=203.0.113.1 sport=0 dport=40000") == true,
                "\(expectations)")
        #expect(expectations.first?.hasSuffix("helper=tftp") == true, "\(expectations)")
        #expect(h.engine.conntrack.listing(now: h.now).first?.contains("helper=tftp") == true)
        // The server answers from its own new port (RFC 1350 §4): RELATED, back to the client.
        let data = Packet.udp(server4, 51234, IPv4Address(203, 0, 113, 1), 40000, payload: [0, 3, 0, 1] + [UInt8](repeating: 7, count: 512))
        let answer = h.send(data, on: h.wan)
        #expect(answer.verdict == .forward(h.lan))
        #expect(PacketSummary.line(for: answer.bytes).hasPrefix("IP 203.0.113.10.51234 > 10.0.1.2.40000: UDP"))
        #expect(h.engine.conntrack.expectationListing(now: h.now).isEmpty, "used once")
        #expect(h.engine.statistics.tftpCount(.requests) == 1)
        #expect(h.engine.statistics.tftpCount(.expectationCreated) == 1)
        #expect(h.engine.statistics.tftpCount(.relatedConnection) == 1)
        #expect(h.engine.statisticsReport(now: h.now).contains("tftp helper (expectations now: 0)"))
        // The client's ACK goes to the new port: the reply direction of the RELATED entry.
        let ack = h.send(Packet.udp(client4, 40000, server4, 51234, payload: [0, 4, 0, 1]), on: h.lan)
        #expect(ack.verdict == .forward(h.wan))
        #expect(h.engine.takeLog().contains { $0.hasPrefix("tftp: 10.0.1.2:40000 → 203.0.113.10:69: expect 203.0.113.10:* -> 203.0.113.1:40000 udp (for 10.0.1.2:40000)") })
    }

    @Test func ipv6WriteRequest() throws {
        let h = try harness()
        let request = TFTPRequest(operation: .write, filename: "up.bin", mode: "netascii").encoded
        #expect(h.send(Packet.udp(client6, 40000, server6, 69, payload: request), on: h.lan).verdict == .forward(h.wan))
        let publicAddress = IPv6Address("2001:db8:1::1")!
        let answer = h.send(Packet.udp(server6, 50000, publicAddress, 40000, payload: [0, 4, 0, 0]), on: h.wan)
        #expect(answer.verdict == .forward(h.lan))
        #expect(PacketSummary.line(for: answer.bytes).hasPrefix("IP6 2001:db8:1::10.50000 > fd00:1::2.40000: UDP"))
    }

    /// Without the helper, the same answer is for the firewall's own address
    /// and port, where nothing listens (Linux: the input hook, then a port
    /// unreachable); and with it, a third host, another port, or a
    /// non-request opens nothing.
    @Test func nothingElseGetsIn() throws {
        let plain = try harness(helper: false)
        plain.send(Packet.udp(client4, 40000, server4, 69, payload: Self.request), on: plain.lan)
        let refused = plain.send(Packet.udp(server4, 51234, IPv4Address(203, 0, 113, 1), 40000, payload: [0, 3, 0, 1]), on: plain.wan)
        #expect(refused.verdict == .drop(.localNoService))

        let h = try harness()
        h.send(Packet.udp(client4, 40000, server4, 69, payload: [0, 1, 0x41]), on: h.lan)   // opcode and one byte
        #expect(h.engine.conntrack.expectationListing(now: h.now).isEmpty, "not a whole request")
        #expect(h.engine.statistics.tftpCount(.refusedMalformed) == 1)
        h.send(Packet.udp(client4, 40000, server4, 69, payload: Self.request), on: h.lan)
        let other = h.send(Packet.udp(IPv4Address(203, 0, 113, 99), 51234, IPv4Address(203, 0, 113, 1), 40000,
                                      payload: [0, 3, 0, 1]), on: h.wan)
        #expect(other.verdict == .drop(.localNoService), "another host")
        let port = h.send(Packet.udp(server4, 51234, IPv4Address(203, 0, 113, 1), 40001, payload: [0, 3, 0, 1]), on: h.wan)
        #expect(port.verdict == .drop(.localNoService), "another port")
        #expect(h.engine.conntrack.expectationListing(now: h.now).count == 1)
    }

    /// Traced like FTP: the request's steps are of kind "tftp" (parsed,
    /// expect with its expectation), the answer is related to its master,
    /// and every line follows docs/trace-schema.md.
    @Test func tracedAndFollowingTheSchema() throws {
        let h = try harness()
        h.engine.tracing = true
        h.send(Packet.udp(client4, 40000, server4, 69, payload: Self.request), on: h.lan)
        h.send(Packet.udp(server4, 51234, IPv4Address(203, 0, 113, 1), 40000, payload: [0, 3, 0, 1]), on: h.wan)
        let records = h.engine.takeTraces()
        let tftp = records.flatMap(\.steps).filter { $0.kind == "tftp" }
        #expect(tftp.map(\.text).contains("parsed RRQ \"boot.img\" octet"), "\(tftp.map(\.text))")
        #expect(tftp.contains { $0.text == "expect 203.0.113.10:* -> 203.0.113.1:40000 udp (for 10.0.1.2:40000)" })
        #expect(tftp.contains { $0.text.hasPrefix("transfer RELATED to 10.0.1.2:40000 → 203.0.113.10:69") })
        let schema = try TraceSchema.fromDocs()
        try schema.selfCheck()
        for (index, record) in records.enumerated() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(record.jsonLine.utf8)) as? [String: Any])
            try schema.check(object, line: index + 1, version: TraceRecord.schemaVersion)
        }
    }

    /// A request sent again (no answer came) renews the one expectation.
    @Test func repeatedRequestRenewsItsExpectation() throws {
        let h = try harness()
        h.send(Packet.udp(client4, 40000, server4, 69, payload: Self.request), on: h.lan)
        h.advance(seconds: 5)
        h.send(Packet.udp(client4, 40000, server4, 69, payload: Self.request), on: h.lan)
        let listing = h.engine.conntrack.expectationListing(now: h.now)
        #expect(listing.count == 1)
        #expect(listing.first?.hasPrefix("300 ") == true, "renewed: \(listing)")
        #expect(h.engine.statistics.tftpCount(.expectationCreated) == 2)
    }
}

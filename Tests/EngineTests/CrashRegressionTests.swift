// Three inputs that used to stop the firewall process (issue 19), kept as
// regression tests at the engine tier: a bare "229" reply, a helper rewrite
// that pushes a 64 KB super-segment past the IP length field, and IPv6 SNAT
// to a whole /64. Each also checks what should happen instead of the trap.

@testable import Conntrack
@testable import Engine
import FTP
import Rules
import Testing
import Wire

@Suite struct CrashRegressionTests {
    // MARK: 1. A bare 229

    /// `EPSV` answered by "229" alone (and by a multi-line "229-x" / "229"):
    /// nothing is announced, nothing is expected, the line passes unchanged,
    /// and the control connection goes on.
    @Test(arguments: ["229\r\n", "229-x\r\n229\r\n", "229 \r\n", "229-\r\n229 \r\n"])
    func bareExtendedPassiveReply(reply: String) throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        s.clientSends("EPSV\r\n")
        let out = s.serverSends(reply)
        #expect(out.verdict == .forward(s.h.lan))
        #expect(FTPScenario.text(out.bytes) == reply)
        #expect(s.expectations.isEmpty)
        // The session still works: the next EPSV and a real 229 open a pinhole.
        s.clientSends("EPSV\r\n")
        let good = s.serverSends("229 Entering Extended Passive Mode (|||50001|)\r\n")
        #expect(good.verdict == .forward(s.h.lan))
        #expect(s.expectations.count == 1, "\(s.expectations)")
    }

    /// The same for every reply and command that names a code or a verb and
    /// nothing after it.
    @Test(arguments: ["227\r\n", "227-\r\n227\r\n", "227 (\r\n", "229 (\r\n", "229 (|||\r\n", "229 (|||5\r\n"])
    func truncatedPassiveReplies(reply: String) throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        s.clientSends(reply.hasPrefix("227") ? "PASV\r\n" : "EPSV\r\n")
        let out = s.serverSends(reply)
        #expect(out.verdict == .forward(s.h.lan))
        #expect(s.expectations.isEmpty)
    }

    @Test(arguments: ["PORT\r\n", "PORT \r\n", "PORT 10,0,1,2,195\r\n", "EPRT\r\n", "EPRT |\r\n", "EPRT ||\r\n",
                      "EPRT |1|\r\n", "EPRT |1|10.0.1.2|\r\n", "EPSV \r\n", "AUTH\r\n", "P\r\n", "\r\n", "\n"])
    func truncatedCommands(command: String) throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let out = s.clientSends(command)
        #expect(out.verdict == .forward(s.h.wan))
        #expect(s.expectations.isEmpty)
    }

    // MARK: 2. A rewrite past 64 KB

    /// A 65,525-byte TSO super-segment (NEEDS_CSUM, GSO TCPv4, gso_size 1400)
    /// on a masqueraded control connection, NOOP filler ending in twelve PORT
    /// lines, grows by 3 bytes a line to 65,561: more than IPv4's total
    /// length can say. It leaves as two super-packets, each a legal IP packet
    /// with the same virtio header, numbered back to back, whose payloads
    /// together are the rewritten stream.
    @Test func rewritePastTheIPv4LengthIsSplit() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let portLines = (0..<12).map { "PORT 10,0,1,2,195,\(80 + $0)\r\n" }.joined()
        let headers = 40
        let fillerLength = 65_525 - headers - portLines.utf8.count
        var filler = String(repeating: "NOOP\r\n", count: fillerLength / 6 - 1)
        filler += "NOOP" + String(repeating: " ", count: fillerLength - filler.utf8.count - 6) + "\r\n"
        let payload = Array((filler + portLines).utf8)
        try #require(payload.count + headers == 65_525)
        var bytes = s.clientPacket([.ack, .psh], payload).encoded()
        let source = IPv4Address(10, 0, 1, 2), destination = IPv4Address(203, 0, 113, 10)
        let partial = Checksum.pseudoHeaderSum(source: source, destination: destination, protocol: .tcp, length: 0)
        bytes[36] = UInt8(partial >> 8)
        bytes[37] = UInt8(partial & 0xff)
        let gso = VirtioNetHeader(flags: .needsChecksum, gsoType: .tcpv4, headerLength: 40, gsoSize: 1400,
                                  checksumStart: 20, checksumOffset: 16)
        let first = s.h.send(bytes, on: s.h.lan, virtio: gso)
        #expect(first.verdict == .forward(s.h.wan))
        #expect(s.h.buffer.virtio == gso)
        let rest = s.h.generated()
        try #require(rest.count == 1, "one more super-packet carries what did not fit")
        #expect(rest[0].interface == s.h.wan)
        var stream: [UInt8] = []
        var nextSeq = s.clientSeq
        for piece in [first.bytes, rest[0].bytes] {
            let length = Int(piece[2]) << 8 | Int(piece[3])
            #expect(length == piece.count && length <= 65_535)
            let packet = try Packet(parsing: piece)
            #expect(packet.tcpSequence == SeqNumber(nextSeq), "numbered back to back")
            nextSeq &+= UInt32(packet.payload.count)
            stream += packet.payload
        }
        let expected = payload.count + 12 * 3
        #expect(stream.count == expected)
        let text = String(decoding: stream, as: UTF8.self)
        #expect(text.hasSuffix((0..<12).map { "PORT 203,0,113,1,195,\(80 + $0)\r\n" }.joined()))
        #expect(!text.contains("10,0,1,2"))
        // Later segments are shifted by the 36 bytes the rewrite added.
        s.clientSeq &+= UInt32(payload.count)
        let next = s.clientSends("NOOP\r\n")
        #expect(FTPScenario.seq(next.bytes) == s.clientSeq - 6 + 36)
    }

    // MARK: 3. IPv6 SNAT to a /64

    static func snatHarness(_ to: String) throws -> Harness {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse("""
            table ip6 nat {
                chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" snat to \(to); }
            }
            """, file: "snat.nft"))
        return h
    }

    /// `snat to 2001:db8:1::/64`: every new connection gets an address of the
    /// prefix, chosen across all 64 bits, the same one for the same client
    /// and server, and not always the first.
    @Test func snatToAWholeSlash64() throws {
        let h = try Self.snatHarness("2001:db8:1::/64")
        var picked: Set<IPv6Address> = []
        for host in UInt16(2)...41 {
            let client = IPv6Address(0xfd00, 1, 0, 0, 0, 0, 0, host)
            let out = h.send(Packet.udp(client, 40000, server6, 53), on: h.lan)
            #expect(out.verdict == .forward(h.wan))
            let source = try Packet(parsing: out.bytes).sourceV6
            #expect(source.high == 0x2001_0db8_0001_0000, "inside the prefix: \(source)")
            picked.insert(source)
            // The same client and server again (a new port): the same address.
            let again = h.send(Packet.udp(client, 40001, server6, 53), on: h.lan)
            #expect(try Packet(parsing: again.bytes).sourceV6 == source)
        }
        #expect(picked.count == 40, "forty clients, forty addresses of 2^64")
        #expect(picked.contains { $0.low >> 63 == 1 } && picked.contains { $0.low >> 63 == 0 }, "both halves of the /64")
    }

    /// Ranges wider than 64 bits, and the whole address space, pick inside
    /// them and across their upper half too.
    @Test(arguments: ["2001:db8::/32", "::/0", "2001:db8:1::1-2001:db8:1::2", "2001:db8:1::5-2001:db8:2::4"])
    func snatToWideRanges(to: String) throws {
        let h = try Self.snatHarness(to)
        let target = try #require(Self.range(to))
        var highs: Set<UInt64> = []
        for host in UInt16(2)...33 {
            let out = h.send(Packet.udp(IPv6Address(0xfd00, 1, 0, 0, 0, 0, 0, host), 40000, server6, 53), on: h.lan)
            #expect(out.verdict == .forward(h.wan))
            let source = try Packet(parsing: out.bytes).sourceV6
            #expect(target.contains(source), "\(source) in \(to)")
            highs.insert(source.high)
        }
        if target.upperBound.high - target.lowerBound.high > 1 { #expect(highs.count > 16) }
    }

    static func range(_ text: String) -> ClosedRange<IPv6Address>? {
        if let dash = text.firstIndex(of: "-") {
            guard let low = IPv6Address(String(text[..<dash])),
                  let high = IPv6Address(String(text[text.index(after: dash)...])) else { return nil }
            return low...high
        }
        guard let prefix = IPv6Prefix(text) else { return nil }
        return prefix.network...prefix.lastAddress
    }
}

extension Packet {
    var tcpSequence: SeqNumber? {
        if case .tcp(let tcp) = transport { return tcp.sequenceNumber }
        return nil
    }

    var sourceV6: IPv6Address {
        if case .v6(let header) = network { return header.source }
        return .any
    }
}

// Rules that see layer 2 where nft does: `ether saddr`/`daddr`/`type` read
// the Ethernet header a packet came in with on a TAP interface, `meta
// iiftype` the input's type (ether for TAP, 65534 for TUN), and `log`
// writes MAC=dst:src:type as nf_log does. On a TUN interface, where there
// is no MAC header, an ether match fails either way (nft's implicit
// `meta iiftype ether` and the kernel's NFT_BREAK).

import Conntrack
@testable import Engine
import Rules
import Testing
import Wire

@Suite struct LinkRuleTests {
    static let rules = """
        table inet filter {
            chain forward {
                type filter hook forward priority filter; policy accept;
                ether saddr 02:00:00:00:01:66 drop
                ether daddr != 02:00:00:00:01:01 drop
                udp dport 53 ether type ip log prefix "dns4: "
                udp dport 54 meta iiftype ether drop
                udp dport 55 meta iiftype 65534 drop
                udp dport 56 ether saddr != 02:00:00:00:01:66 drop
            }
        }
        """

    @Test func etherMatchesOnTAP() throws {
        let h = try tapHarness()
        h.engine.replaceRuleset(try Ruleset.parse(Self.rules, file: "test.nft"))
        h.serverAsks()
        let banned = MACAddress("02:00:00:00:01:66")!
        let packet = Packet.udp(client4, 5000, server4, 80, payload: [1]).encoded()
        #expect(h.send(ethernet(lanMAC, banned, EtherType.ipv4, packet), on: h.lan).verdict == .drop(.ruleDrop))
        #expect(h.fromClient(Packet.udp(client4, 5000, server4, 80, payload: [1])).verdict == .forward(h.wan))
        // A broadcast frame is for the firewall too, but not for `ether daddr != …:01:01`.
        #expect(h.send(ethernet(.broadcast, clientMAC, EtherType.ipv4, packet), on: h.lan).verdict == .drop(.ruleDrop))
        #expect(h.fromClient(Packet.udp(client4, 5001, server4, 54, payload: [1])).verdict == .drop(.ruleDrop))
        #expect(h.fromClient(Packet.udp(client4, 5001, server4, 55, payload: [1])).verdict == .forward(h.wan))
        #expect(h.fromClient(Packet.udp(client4, 5001, server4, 56, payload: [1])).verdict == .drop(.ruleDrop))

        _ = h.engine.takeLog()
        #expect(h.fromClient(Packet.udp(client4, 5002, server4, 53, payload: [1])).verdict == .forward(h.wan))
        let log = h.engine.takeLog()
        #expect(log.count == 1)
        #expect(log.first?.hasPrefix("dns4: IN=lan0 OUT=wan0 MAC=02:00:00:00:01:01:02:00:00:00:01:02:08:00 SRC=10.0.1.2 ") == true,
                "\(log)")
    }

    @Test func etherMatchesNothingOnTUN() throws {
        let h = try Harness()
        h.engine.replaceRuleset(try Ruleset.parse(Self.rules, file: "test.nft"))
        // No MAC header: neither `ether daddr != …` nor `ether saddr != …` matches; iiftype is 65534.
        #expect(h.send(Packet.udp(client4, 5000, server4, 80, payload: [1]), on: h.lan).verdict == .forward(h.wan))
        #expect(h.send(Packet.udp(client4, 5000, server4, 56, payload: [1]), on: h.lan).verdict == .forward(h.wan))
        #expect(h.send(Packet.udp(client4, 5000, server4, 54, payload: [1]), on: h.lan).verdict == .forward(h.wan))
        #expect(h.send(Packet.udp(client4, 5000, server4, 55, payload: [1]), on: h.lan).verdict == .drop(.ruleDrop))
        _ = h.engine.takeLog()
        // `ether type ip` needs a MAC header: no log line on TUN.
        h.send(Packet.udp(client4, 5000, server4, 53, payload: [1]), on: h.lan)
        #expect(h.engine.takeLog().isEmpty)
    }
}

// Segments in topologies (issue 16): a firewall TAP interface and hosts on
// one Ethernet segment, read from JSON and built from Swift values; every
// mistake refused with the key path (and, by `lab check`, its line and
// column); hosts' MAC addresses stable whatever the lab is called; the lab's
// firewall config puts the TAP device in the segment's namespace.

import Foundation
import Testing
import Wire
import Firewall
import TestSupport
@testable import Lab

/// A LAN segment of two clients and a server on a TUN link, written so that
/// each case below can change one small piece of text.
let segmentTopology = """
{
  "segments": [{"name": "lan"}],
  "firewall": {
    "interfaces": [
      {"name": "lan0", "mode": "tap", "segment": "lan", "addresses": ["10.0.1.1/24", "fd00:1::1/64"]},
      {"name": "wan0", "host": "server", "addresses": ["203.0.113.1/24"]}
    ]
  },
  "hosts": [
    {"name": "client1", "interfaces": [{"segment": "lan", "addresses": ["10.0.1.2/24", "fd00:1::2/64"]}],
     "routes": [{"to": "default", "via": "10.0.1.1"}]},
    {"name": "client2", "interfaces": [{"segment": "lan", "mac": "02:00:00:00:00:02", "addresses": ["10.0.1.3/24"]}],
     "routes": [{"to": "default", "via": "10.0.1.1"}]},
    {"name": "server", "interfaces": [{"device": "wan0", "addresses": ["203.0.113.10/24"]}],
     "routes": [{"to": "default", "via": "203.0.113.1"}]}
  ]
}
"""

let segmentMistakes: [Mistake] = [
    Mistake(#""mode": "tap", "#, "",
            #"lab.json: firewall.interfaces[0].segment: interface "lan0" is TUN, a point-to-point link with one host at its other end; only "mode": "tap" (Ethernet) can join segment "lan""#),
    Mistake(#""mode": "tap", "#, #""mode": "tun", "#,
            #"lab.json: firewall.interfaces[0].segment: interface "lan0" is TUN, a point-to-point link with one host at its other end; only "mode": "tap" (Ethernet) can join segment "lan""#),
    Mistake(#""mode": "tap", "#, #""mode": "ethernet", "#,
            #"lab.json: firewall.interfaces[0].mode: "ethernet" is not a mode: "tun" (IP packets) or "tap" (Ethernet frames)"#),
    Mistake(#""segment": "lan", "addresses": ["10.0.1.1/24""#, #""segment": "lna", "addresses": ["10.0.1.1/24""#,
            #"lab.json: firewall.interfaces[0].segment: no segment named "lna" in "segments" (did you mean "lan"?)"#),
    Mistake(#"{"segment": "lan", "mac""#, #"{"segment": "lam", "mac""#,
            #"lab.json: hosts[1].interfaces[0].segment: no segment named "lam" in "segments" (did you mean "lan"?)"#),
    Mistake(#""segment": "lan", "addresses": ["10.0.1.1/24""#, #""host": "client1", "segment": "lan", "addresses": ["10.0.1.1/24""#,
            #"lab.json: firewall.interfaces[0].segment: an interface connects to a "host" or to a "segment", not both"#),
    Mistake(#""segment": "lan", "addresses": ["10.0.1.1/24""#, #""addresses": ["10.0.1.1/24""#,
            #"lab.json: firewall.interfaces[0]: missing key "host" (or "segment")"#),
    Mistake(#""segments": [{"name": "lan"}]"#, #""segments": [{"name": "lan"}, {"name": "dmz"}]"#,
            #"lab.json: segments[1]: segment "dmz" has no hosts (a host joins it with an interface {"segment": "dmz", ...})"#),
    Mistake(#""segments": [{"name": "lan"}]"#, #""segments": [{"name": "lan"}, {"name": "lan"}]"#,
            #"lab.json: segments[1].name: duplicate segment "lan""#),
    Mistake(#""segments": [{"name": "lan"}]"#, #""segments": [{"name": "lan"}, {"name": "server"}]"#,
            #"lab.json: segments[1].name: "server" is also a host's name (each has a namespace tw-LAB-NAME)"#),
    Mistake(#""segments": [{"name": "lan"}]"#, #""segments": [{"name": "my-lan"}]"#,
            #"lab.json: segments[0].name: "my-lan" is not a valid segment name (1 to 12 characters of A-Z a-z 0-9 _ .; no "-", which separates lab and host in namespace names)"#),
    Mistake(#""mac": "02:00:00:00:00:02""#, #""mac": "01:00:5e:00:00:02""#,
            #"lab.json: hosts[1].interfaces[0].mac: "01:00:5e:00:00:02" is not a unicast MAC address (six hex pairs with ":", such as "02:00:00:00:00:01")"#),
    Mistake(#""mac": "02:00:00:00:00:02""#, #""mac": "\#(Topology.derivedMAC(segment: "lan", host: "client1"))""#,
            #"lab.json: hosts[1].interfaces[0].mac: MAC address \#(Topology.derivedMAC(segment: "lan", host: "client1")) of host "client2" on "lan" is already host "client1" on "lan"'s"#),
    Mistake(#""mode": "tap", "#, #""mode": "tap", "mac": "02:00:00:00:00:02", "#,
            #"lab.json: hosts[1].interfaces[0].mac: MAC address 02:00:00:00:00:02 of host "client2" on "lan" is already firewall interface "lan0"'s"#),
    Mistake(#""host": "server", "addresses""#, #""host": "server", "mac": "02:00:00:00:00:09", "addresses""#,
            #"lab.json: firewall.interfaces[1].mac: a MAC belongs to a "tap" interface; this one is "tun" (add "mode": "tap")"#),
    Mistake(#"{"device": "wan0", "#, #"{"device": "wan0", "mac": "02:00:00:00:00:09", "#,
            #"lab.json: hosts[2].interfaces[0].mac: only an interface on a "segment" has a MAC address of its own (the firewall's device is the host's interface)"#),
    Mistake(#""addresses": ["10.0.1.3/24"]"#, #""addresses": ["10.0.1.2/24"]"#,
            #"lab.json: hosts[1].interfaces[0].addresses[0]: 10.0.1.2 is already host "client1"'s address on segment "lan""#),
    Mistake(#""addresses": ["10.0.1.3/24"]"#, #""addresses": ["10.0.1.1/24"]"#,
            #"lab.json: hosts[1].interfaces[0].addresses[0]: 10.0.1.1 is the firewall's own address on "lan0""#),
    Mistake(#"[{"segment": "lan", "addresses": ["10.0.1.2/24", "fd00:1::2/64"]}]"#,
            #"[{"segment": "lan", "addresses": ["10.0.1.2/24"]}, {"segment": "lan", "device": "eth1"}]"#,
            #"lab.json: hosts[0].interfaces[1].segment: the host is already on segment "lan" (one interface per segment)"#),
    Mistake(#"{"name": "lan0", "mode""#, #"{"name": "br-lan", "mode""#,
            #"lab.json: firewall.interfaces[0].name: "br-lan" is the name of a device the lab makes in segment "lan"'s namespace (its bridge br-lan, v-HOST for each host)"#),
    Mistake(#""segment": "lan", "addresses": ["10.0.1.1/24", "fd00:1::1/64"]}"#,
            #""segment": "lan", "addresses": ["10.0.1.1/24", "fd00:1::1/64"]}, {"name": "lan1", "mode": "tap", "segment": "lan"}"#,
            #"lab.json: firewall.interfaces[1].segment: firewall interface "lan0" is already on segment "lan" (one firewall interface per segment)"#),
    Mistake(#""mac": "02:00:00:00:00:02""#, #""mac": "\#(MACAddress.derived(from: "lan0"))""#,
            #"lab.json: hosts[1].interfaces[0].mac: MAC address \#(MACAddress.derived(from: "lan0")) of host "client2" on "lan" is already firewall interface "lan0"'s"#),
    Mistake(#""segments": [{"name": "lan"}]"#, #""segments": [{"name": "lan", "mtu": 9000}]"#,
            #"lab.json: segments[0]: unknown key "mtu" (expected "name")"#),
]

@Suite struct SegmentTopologyTests {
    @Test func segmentTopologyLoads() throws {
        let topology = try Topology.parse(data: Array(segmentTopology.utf8), file: "lab.json")
        #expect(topology.segments == [SegmentSpec(name: "lan")])
        let lan0 = try #require(topology.firewall.interface(named: "lan0"))
        #expect(lan0.mode == .tap && lan0.segment == "lan" && lan0.host == nil)
        #expect(topology.firewall.interface(named: "wan0")?.mode == .tun)
        #expect(topology.members(ofSegment: "lan").map(\.host.name) == ["client1", "client2"])
        let client1 = try #require(topology.host(named: "client1")?.interfaces.first)
        #expect(client1.device == "lan", "a segment interface is named for its segment unless it says otherwise")
        #expect(client1.mac == Topology.derivedMAC(segment: "lan", host: "client1"))
        #expect(topology.host(named: "client2")?.interfaces.first?.mac?.description == "02:00:00:00:00:02")
        #expect(topology.host(named: "client1")?.routes.first?.device == "lan")
        #expect(topology.mtu(of: client1) == 1500)
    }

    @Test(arguments: segmentMistakes)
    func segmentMistakeIsRefused(_ mistake: Mistake) throws {
        let data = try mistake.apply(to: segmentTopology)
        #expect(throws: ConfigError(mistake.message)) { try Topology.parse(data: data, file: "lab.json") }
    }

    /// `lab check` shows where: the TUN interface's "segment" key, by line and column.
    @Test func aTUNInterfaceOnASegmentIsPlaced() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("segment-\(getpid()).json").path
        defer { unlink(file) }
        try Data(segmentTopology.replacingOccurrences(of: #""mode": "tap", "#, with: "").utf8).write(to: URL(fileURLWithPath: file))
        do {
            _ = try Topology.load(path: file)
            Issue.record("a TUN interface on a segment was accepted")
        } catch {
            #expect(error.located().hasPrefix("\(file):5:35: firewall.interfaces[0].segment: interface \"lan0\" is TUN"),
                    "\(error.located())")
        }
    }

    /// Locally administered unicast, the same for the same names whatever the
    /// lab, different for different hosts.
    @Test func derivedMACsAreStableAndLocal() throws {
        let a = Topology.derivedMAC(segment: "lan", host: "client1")
        #expect(a == Topology.derivedMAC(segment: "lan", host: "client1"))
        #expect(a != Topology.derivedMAC(segment: "lan", host: "client2"))
        #expect(a != Topology.derivedMAC(segment: "dmz", host: "client1"))
        #expect((a.value >> 40) & 0x03 == 0x02, "locally administered, unicast: \(a)")
        #expect(a != MACAddress.derived(from: "lan0"), "not the firewall's own on the segment")
    }

    /// The firewall's TAP device goes to the segment's namespace, where the lab puts it on the bridge.
    @Test func labConfigPutsTheTAPDeviceInTheSegmentsNamespace() throws {
        let topology = try Topology.parse(data: Array(segmentTopology.utf8), file: "lab.json")
        let config = Lab.firewallConfig(for: topology, lab: "t1")
        #expect(config.interfaces.map(\.namespace) == ["tw-t1-lan", "tw-t1-server"])
        #expect(config.interfaces.allSatisfy { $0.segment == nil && $0.host == nil })
        let written = try FirewallConfig.parse(data: config.jsonData(), file: "firewall.json")
        #expect(written.interfaces.map(\.mode) == [.tap, .tun], "the mode survives into the firewall's own config")
    }

    /// Swift values: `Topology.segmented` builds the same as a file.
    @Test func segmentedTopologyFromSwiftValues() throws {
        let topology = try Topology.segmented(
            segments: [.init(name: "lan", interface: "lan0", firewall: ["10.0.1.1/24"],
                             hosts: [.init(name: "client1", addresses: ["10.0.1.2/24"]),
                                     .init(name: "client2", addresses: ["10.0.1.3/24"], mac: "02:00:00:00:00:02")])],
            links: [.init(interface: "wan0", firewall: ["203.0.113.1/24"], host: "server", addresses: ["203.0.113.10/24"])])
        #expect(topology.segments.map(\.name) == ["lan"])
        #expect(topology.firewall.interface(named: "lan0")?.mode == .tap)
        #expect(topology.members(ofSegment: "lan").map(\.interface.mac)
                == [Topology.derivedMAC(segment: "lan", host: "client1"), MACAddress("02:00:00:00:00:02")])
        #expect(topology.host(named: "client2")?.routes.map(\.gateway) == [IPAddress("10.0.1.1")!])
        #expect(throws: LabError.self) {
            try Topology.segmented(segments: [.init(name: "lan", interface: "lan0", firewall: ["10.0.1.1/24"], hosts: [])])
        }
    }

    /// The repository's segment topologies are valid.
    @Test(arguments: ["lan", "dmz"])
    func repositoryTopologyLoads(_ name: String) throws {
        let topology = try Topology.load(path: repository.appendingPathComponent("Topologies/\(name).json").path)
        #expect(topology.segments.count == 1)
        #expect(topology.firewall.interfaces.filter { $0.segment != nil }.allSatisfy { $0.mode == .tap })
    }
}

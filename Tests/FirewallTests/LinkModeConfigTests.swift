// An interface's "mode" ("tun" or "tap") and a TAP interface's "mac" in a
// firewall config: read, written back, refused with the place and the
// reason; the default MAC is the same for the same name every run.

import Engine
import Firewall
import Foundation
import Testing
import Wire

@Suite struct LinkModeConfigTests {
    static func config(_ keys: String) -> String {
        """
        {"interfaces": [
          {"name": "lan0", "addresses": ["10.0.1.1/24"]},
          {"name": "wan0", "addresses": ["203.0.113.1/24"]\(keys)}
        ]}
        """
    }

    @Test func tapWithAndWithoutAMAC() throws {
        let config = try FirewallConfig.parse(data: Array(Self.config(#", "mode": "tap", "mac": "02:00:00:00:02:01""#).utf8),
                                              file: "fw.json")
        let wan = try #require(config.interface(named: "wan0"))
        #expect(wan.mode == .tap && wan.mac == MACAddress("02:00:00:00:02:01"))
        #expect(config.interface(named: "lan0")?.mode == .tun, "tun is the default")
        #expect(config.engineConfiguration.interfaces[1].effectiveHardwareAddress == MACAddress("02:00:00:00:02:01"))
        let again = try FirewallConfig.parse(data: config.jsonData(), file: "fw.json")
        #expect(again == config)

        let derived = try FirewallConfig.parse(data: Array(Self.config(#", "mode": "tap""#).utf8), file: "fw.json")
        let mac = derived.engineConfiguration.interfaces[1].effectiveHardwareAddress
        #expect(mac == MACAddress.derived(from: "wan0"))
        #expect(mac.value >> 40 == 0x02, "locally administered, unicast")
        #expect(MACAddress.derived(from: "wan0") != MACAddress.derived(from: "lan0"))
    }

    @Test(arguments: [
        (#", "mode": "ethernet""#, #"fw.json: interfaces[1].mode: "ethernet" is not a mode"#),
        (#", "mode": "tap", "mac": "02:00:00:00:02""#, #"interfaces[1].mac: "02:00:00:00:02" is not a MAC address"#),
        (#", "mode": "tap", "mac": "01:00:5e:00:00:01""#, "interfaces[1].mac: 01:00:5e:00:00:01 is multicast or zero"),
        (#", "mac": "02:00:00:00:02:01""#, #"interfaces[1].mac: a MAC belongs to a "tap" interface"#),
        (#", "mode": 1"#, "interfaces[1].mode: expected a string"),
    ] as [(String, String)])
    func badValuesNameThePlace(keys: String, message: String) throws {
        do {
            _ = try FirewallConfig.parse(data: Array(Self.config(keys).utf8), file: "fw.json")
            Issue.record("accepted: \(keys)")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func theFileAndLineAreNamed() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-mode-\(getpid()).json").path
        try Data(Self.config(#", "mode": "tapp""#).utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try FirewallConfig.load(path: path)
            Issue.record("accepted")
        } catch {
            #expect(error.located().hasPrefix("\(path):3:61: interfaces[1].mode:"), "\(error.located())")
        }
    }
}

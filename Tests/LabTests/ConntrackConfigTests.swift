// The firewall config's TCP tracking switches, named after Linux's sysctls
// (net.netfilter.nf_conntrack_tcp_loose, nf_conntrack_tcp_be_liberal): read
// into the engine's configuration, written back by jsonData, and refused
// with the file and key path when wrong.

import Conntrack
import Engine
import Firewall
import Testing

@Suite struct ConntrackConfigTests {
    static func document(_ conntrack: String) -> [UInt8] {
        Array("""
            {"interfaces": [{"name": "lan0", "addresses": ["10.0.1.1/24"]}, {"name": "wan0", "addresses": ["203.0.113.1/24"]}],
             "conntrack": \(conntrack)}
            """.utf8)
    }

    @Test func linuxDefaultsWhenLeftOut() throws {
        let config = try FirewallConfig.parse(data: Self.document(#"{"max": 1000}"#), file: "fw.json")
        #expect(config.tcpLoose && !config.tcpBeLiberal)
        #expect(config.engineConfiguration.timeouts.tcpLoose && !config.engineConfiguration.timeouts.tcpBeLiberal)
        #expect(config.engineConfiguration.conntrackCapacity == 1000)
    }

    @Test func switchesReachTheEngineAndRoundTrip() throws {
        let config = try FirewallConfig.parse(data: Self.document(#"{"tcp_loose": false, "tcp_be_liberal": true}"#),
                                              file: "fw.json")
        #expect(!config.tcpLoose && config.tcpBeLiberal && config.conntrackMax == nil)
        let timeouts = config.engineConfiguration.timeouts
        #expect(!timeouts.tcpLoose && timeouts.tcpBeLiberal)
        #expect(config.engineConfiguration.conntrackCapacity == 65_536)
        #expect(try FirewallConfig.parse(data: config.jsonData(), file: "fw.json") == config)
    }

    @Test(arguments: [
        (#"{"tcp_loose": 1}"#, "fw.json: conntrack.tcp_loose: expected true or false, found the number 1"),
        (#"{"tcp_be_liberal": "yes"}"#, #"fw.json: conntrack.tcp_be_liberal: expected true or false, found the string "yes""#),
        (#"{"tcp_liberal": true}"#, #"fw.json: conntrack: unknown key "tcp_liberal" (expected "max", "tcp_loose", "tcp_be_liberal")"#),
    ])
    func badValuesAreRefused(_ conntrack: String, _ message: String) {
        #expect(throws: ConfigError(message)) { try FirewallConfig.parse(data: Self.document(conntrack), file: "fw.json") }
    }
}

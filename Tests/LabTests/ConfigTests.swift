// Topology and firewall config parsing: Topologies/basic.json loads as
// written, and every kind of mistake is refused with a message that names the
// file, the key path and what is wrong.

import Foundation
import Testing
import Wire
import FTP
import Firewall
import TestSupport
@testable import Lab

let basicTopologyPath = repository.appendingPathComponent("Topologies/basic.json").path

/// A topology shaped like basic.json, written so that each case below can
/// change one small piece of text.
let baseTopology = """
{
  "description": "test",
  "firewall": {
    "interfaces": [
      {"name": "lan0", "host": "client", "addresses": ["10.0.1.1/24", "fd00:1::1/64"]},
      {"name": "wan0", "host": "server", "addresses": ["203.0.113.1/24", "2001:db8:1::1/64"], "mtu": 1500}
    ],
    "ruleset": null
  },
  "hosts": [
    {"name": "client", "interfaces": [{"device": "lan0", "addresses": ["10.0.1.2/24", "fd00:1::2/64"]}],
     "routes": [{"to": "default", "via": "10.0.1.1"}, {"to": "default", "via": "fd00:1::1"}]},
    {"name": "server", "interfaces": [{"device": "wan0", "addresses": ["203.0.113.10/24", "2001:db8:1::10/64"]}],
     "routes": [{"to": "default", "via": "203.0.113.1"}, {"to": "default", "via": "2001:db8:1::1"}]}
  ]
}
"""

let baseFirewall = """
{
  "interfaces": [
    {"name": "lan0", "addresses": ["10.0.1.1/24", "fd00:1::1/64"], "mtu": 1500, "namespace": "tw-x-client"},
    {"name": "wan0", "addresses": ["203.0.113.1/24", "2001:db8:1::1/64"]}
  ],
  "routes": [ {"to": "198.51.100.0/24", "via": "203.0.113.254", "interface": "wan0"} ],
  "ruleset": "rules/basic.nft",
  "conntrack": {"max": 262144}, "ftp": {"loose": false, "max_expected": 2, "encrypted": "allow"}
}
"""

/// One mistake: replace `old` by `new` in the base document, expect `message`.
struct Mistake: CustomTestStringConvertible, Sendable {
    let old: String
    let new: String
    let message: String

    init(_ old: String, _ new: String, _ message: String) {
        self.old = old
        self.new = new
        self.message = message
    }

    var testDescription: String { message }

    func apply(to base: String) throws -> [UInt8] {
        try #require(base.contains(old), "the base document has no \(old)")
        return Array(base.replacingOccurrences(of: old, with: new).utf8)
    }
}

let topologyMistakes: [Mistake] = [
    Mistake(#""description": "test","#, #""description": "test",,"#,
            "lab.json: invalid JSON at line 2, column 25: Invalid value around character 26."),
    Mistake(#""ruleset": null"#, #""ruleset": nul"#,
            "lab.json: invalid JSON at line 8, column 19: Invalid value around character 283."),
    Mistake(#""test","#, #""test""#,
            "lab.json: invalid JSON at line 3, column 3: Invalid value around character 28."),
    Mistake(#""addresses": ["10.0.1.1/24""#, #""adresses": ["10.0.1.1/24""#,
            #"lab.json: firewall.interfaces[0]: unknown key "adresses" (did you mean "addresses"?)"#),
    Mistake(#""description": "test","#, #""description": "test", "colour": "blue","#,
            #"lab.json: unknown key "colour" (expected "description", "segments", "firewall", "hosts")"#),
    Mistake(#""host": "client", "#, #""host": "client", "namespace": "x", "#,
            #"lab.json: firewall.interfaces[0]: unknown key "namespace" (in a topology, name the "host"; the lab picks the namespaces)"#),
    Mistake(#"{"name": "wan0", "#, "{",
            #"lab.json: firewall.interfaces[1]: missing key "name""#),
    Mistake(#""to": "default", "via": "203.0.113.1""#, #""to": "default", "via": "203.0.113.x""#,
            #"lab.json: hosts[1].routes[0].via: "203.0.113.x" is not an IP address"#),
    Mistake(#""10.0.1.1/24""#, #""10.0.1.x/24""#,
            #"lab.json: firewall.interfaces[0].addresses[0]: "10.0.1.x/24": "10.0.1.x" is not an IP address"#),
    Mistake(#""10.0.1.1/24""#, #""10.0.1.1/33""#,
            #"lab.json: firewall.interfaces[0].addresses[0]: "10.0.1.1/33": prefix length 33 is out of range 0...32"#),
    Mistake(#""fd00:1::1/64""#, #""fd00:1::1/064""#,
            #"lab.json: firewall.interfaces[0].addresses[1]: "fd00:1::1/064": "064" is not a prefix length"#),
    Mistake(#""10.0.1.2/24""#, #""10.0.1.2""#,
            #"lab.json: hosts[0].interfaces[0].addresses[0]: "10.0.1.2" needs a prefix length, e.g. "10.0.1.2/24""#),
    Mistake(#""mtu": 1500"#, #""mtu": 70000"#,
            "lab.json: firewall.interfaces[1].mtu: 70000 is out of range 576...65535"),
    Mistake(#""mtu": 1500"#, #""mtu": 1000"#,
            "lab.json: firewall.interfaces[1].mtu: 1000 is below 1280, the minimum for IPv6 (the interface has IPv6 addresses)"),
    Mistake(#""mtu": 1500"#, #""mtu": "1500""#,
            #"lab.json: firewall.interfaces[1].mtu: expected an integer, found the string "1500""#),
    Mistake(#""mtu": 1500"#, #""mtu": 1500.5"#,
            "lab.json: firewall.interfaces[1].mtu: expected an integer, found the number 1500.5"),
    Mistake(#"{"name": "server", "#, #"{"name": "client", "#,
            #"lab.json: hosts[1].name: duplicate host "client""#),
    Mistake(#""host": "client""#, #""host": "clinet""#,
            #"lab.json: firewall.interfaces[0].host: no host named "clinet" in "hosts" (did you mean "client"?)"#),
    Mistake(#"{"name": "lan0", "#, #"{"name": "lan0-uplink-0001", "#,
            #"lab.json: firewall.interfaces[0].name: "lan0-uplink-0001" is too long for an interface name (16 characters, at most 15)"#),
    Mistake(#"{"name": "lan0", "#, #"{"name": "lan 0", "#,
            #"lab.json: firewall.interfaces[0].name: "lan 0" is not a valid interface name (1 to 15 characters of A-Z a-z 0-9 _ . -)"#),
    Mistake(#"{"name": "lan0", "#, #"{"name": true, "#,
            "lab.json: firewall.interfaces[0].name: expected a string, found true"),
    Mistake(#"{"to": "default", "via": "fd00:1::1"}"#, #"{"to": "default", "via": "fd00:9::1"}"#,
            "lab.json: hosts[0].routes[1].via: fd00:9::1 is not on the subnet of any of the host's interfaces"),
    Mistake(#"{"to": "default", "via": "fd00:1::1"}"#, #"{"to": "0.0.0.0/0", "via": "fd00:1::1"}"#,
            #"lab.json: hosts[0].routes[1].via: fd00:1::1 is IPv6 but "to" 0.0.0.0/0 is IPv4"#),
    Mistake(#"{"to": "default", "via": "10.0.1.1"}"#, #"{"to": "default", "device": "lan0"}"#,
            #"lab.json: hosts[0].routes[0].to: "default" needs "via" to tell IPv4 from IPv6 (or write "0.0.0.0/0" or "::/0")"#),
    Mistake(#"{"to": "default", "via": "10.0.1.1"}"#, #"{"to": "10.0.1.5/24", "via": "10.0.1.1"}"#,
            #"lab.json: hosts[0].routes[0].to: "10.0.1.5/24" has host bits set (did you mean "10.0.1.0/24"?)"#),
    Mistake(#"{"to": "default", "via": "10.0.1.1"}"#, #"{"to": "10.9.0.0/16"}"#,
            #"lab.json: hosts[0].routes[0]: a route needs "via", "device" or both"#),
    Mistake(#"{"name": "client", "#, #"{"name": "ftp-client", "#,
            #"lab.json: hosts[0].name: "ftp-client" is not a valid host name (1 to 12 characters of A-Z a-z 0-9 _ .; no "-", which separates lab and host in namespace names)"#),
    Mistake(#"{"name": "server", "#, #"{"name": "fw", "#,
            #"lab.json: hosts[1].name: "fw" is reserved for the firewall's namespace"#),
    Mistake(#"{"device": "lan0", "#, #"{"device": "lan9", "#,
            #"lab.json: hosts[0].interfaces[0].device: no firewall interface named "lan9" (did you mean "lan0"?)"#),
    Mistake(#"{"device": "lan0", "#, #"{"device": "wan0", "#,
            #"lab.json: hosts[0].interfaces[0].device: firewall interface "wan0" belongs to host "server""#),
    Mistake(#""10.0.1.2/24""#, #""10.0.1.1/24""#,
            #"lab.json: hosts[0].interfaces[0].addresses[0]: 10.0.1.1 is the firewall's own address on "lan0""#),
    Mistake(#""mtu": 1500}"#, #""mtu": 1500}, {"name": "dmz0", "host": "server", "addresses": ["10.0.2.1/24"]}"#,
            #"lab.json: firewall.interfaces[2]: host "server" has no interface with "device": "dmz0""#),
    Mistake(#""ruleset": null"#, #""ruleset": 7"#,
            "lab.json: firewall.ruleset: expected a string, found the number 7"),
    Mistake(#""interfaces": [{"device": "wan0""#, #""interfaces": {"device": "wan0""#,
            "lab.json: invalid JSON at line 13, column 111: Invalid value around character 613."),
    Mistake(#"{"device": "lan0", "addresses": ["10.0.1.2/24", "fd00:1::2/64"]}"#, "",
            #"lab.json: hosts[0].interfaces: a host needs at least one interface"#),
]

let firewallMistakes: [Mistake] = [
    Mistake(#""loose": false"#, #""loose": "no""#,
            #"fw.json: ftp.loose: expected true or false, found the string "no""#),
    Mistake(#""max_expected": 2"#, #""max_expected": 0"#,
            "fw.json: ftp.max_expected: 0 is out of range 1...64"),
    Mistake(#""encrypted": "allow""#, #""encrypted": "block""#,
            #"fw.json: ftp.encrypted: expected "allow" or "drop", found "block""#),
    Mistake(#""max_expected": 2"#, #""max_expected": 2, "hold_ms": 5"#,
            "fw.json: ftp.hold_ms: 5 is out of range 10...60000"),
    Mistake(#""interface": "wan0""#, #""interface": "wan1""#,
            #"fw.json: routes[0].interface: no interface named "wan1" (did you mean "wan0"?)"#),
    Mistake(#""via": "203.0.113.254", "interface": "wan0""#, #""via": "198.51.100.1""#,
            #"fw.json: routes[0].via: 198.51.100.1 is not on the subnet of any interface; add "interface""#),
    Mistake(#""namespace": "tw-x-client""#, #""host": "client""#,
            #"fw.json: interfaces[0]: unknown key "host" ("host" belongs in a topology; a firewall config names the "namespace")"#),
    Mistake(#""namespace": "tw-x-client""#, #""namespace": "a/b""#,
            #"fw.json: interfaces[0].namespace: "a/b" is not a valid namespace name (1 to 64 characters of A-Z a-z 0-9 _ . -)"#),
    Mistake(#""max": 262144"#, #""max": 0"#,
            "fw.json: conntrack.max: 0 is out of range 1...1073741824"),
    Mistake(#""max": 262144"#, #""maxx": 262144"#,
            #"fw.json: conntrack: unknown key "maxx" (did you mean "max"?)"#),
    Mistake(#"{"name": "wan0""#, #"{"name": "lan0""#,
            #"fw.json: interfaces[1].name: duplicate interface "lan0""#),
    Mistake(#""203.0.113.1/24""#, #""10.0.1.1/16""#,
            #"fw.json: interfaces[1].addresses[0]: 10.0.1.1 is already an address of interface "lan0""#),
    Mistake(#""interface": "wan0""#, #""interface": 'wan0'"#,
            "fw.json: invalid JSON at line 6, column 78: Invalid value around character 285."),
    Mistake(#"{"to": "198.51.100.0/24", "via": "203.0.113.254", "interface": "wan0"}"#, #"{"to": "198.51.100.0/24"}"#,
            #"fw.json: routes[0]: a route needs "via", "interface" or both"#),
    Mistake(#""ruleset": "rules/basic.nft""#, #""ruleset": """#,
            #"fw.json: ruleset: empty path (leave "ruleset" out or set it to null)"#),
]

@Suite struct ConfigTests {
    @Test func basicTopologyLoads() throws {
        let topology = try Topology.load(path: basicTopologyPath)
        #expect(topology.description == "client 10.0.1.2 — firewall — server 203.0.113.10, dual-stack")
        #expect(topology.firewall.interfaces == [
            InterfaceSpec(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!, InterfaceAddress("fd00:1::1/64")!],
                          mtu: 1500, host: "client"),
            InterfaceSpec(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!, InterfaceAddress("2001:db8:1::1/64")!],
                          mtu: 1500, host: "server"),
        ])
        #expect(topology.firewall.routes.isEmpty)
        #expect(topology.firewall.rulesetPath == nil)
        #expect(topology.firewall.conntrackMax == nil)
        #expect(topology.hosts.map(\.name) == ["client", "server"])
        let client = try #require(topology.host(named: "client"))
        #expect(client.interfaces == [HostInterfaceSpec(device: "lan0", addresses: [
            InterfaceAddress("10.0.1.2/24")!, InterfaceAddress("fd00:1::2/64")!])])
        #expect(client.routes == [
            HostRouteSpec(destination: IPPrefix("0.0.0.0/0")!, gateway: IPAddress("10.0.1.1")!, device: "lan0"),
            HostRouteSpec(destination: IPPrefix("::/0")!, gateway: IPAddress("fd00:1::1")!, device: "lan0"),
        ])
        let server = try #require(topology.host(named: "server"))
        #expect(server.routes.map(\.destination.description) == ["0.0.0.0/0", "::/0"])
        #expect(server.routes.map(\.device) == ["wan0", "wan0"])
    }

    /// A topology's interfaces carry impairments in netem's words
    /// (Topologies/impaired-wan.json), and the lab hands them to `tunwall run`.
    @Test func impairedTopologyLoadsAndPassesItsImpairmentsOn() throws {
        let topology = try Topology.load(path: repository.appendingPathComponent("Topologies/impaired-wan.json").path)
        let wan = try #require(topology.firewall.interface(named: "wan0"))
        #expect(wan.impair[.out]?.description == "delay 40ms 5ms distribution normal loss 1% rate 20mbit")
        #expect(wan.impair[.in]?.delay == 40_000_000)
        let config = Lab.firewallConfig(for: topology, lab: "imp")
        let written = try FirewallConfig.parse(data: config.jsonData(), file: "firewall.json")
        #expect(written.interface(named: "wan0")?.impair == wan.impair)
        let mistake = try Mistake(#""mtu": 1500"#, #""mtu": 1500, "impair": {"out": "delay 5ms jitter 1ms"}"#, "")
            .apply(to: baseTopology)
        #expect(throws: ConfigError(#"lab.json: firewall.interfaces[1].impair.out: unknown word "jitter"; expected one of: delay, distribution, loss, duplicate, reorder, gap, corrupt, rate, limit, seed"#)) {
            try Topology.parse(data: mistake, file: "lab.json")
        }
    }

    @Test(arguments: topologyMistakes)
    func topologyMistakeIsRefused(_ mistake: Mistake) throws {
        let data = try mistake.apply(to: baseTopology)
        #expect(throws: ConfigError(mistake.message)) { try Topology.parse(data: data, file: "lab.json") }
    }

    @Test(arguments: firewallMistakes)
    func firewallMistakeIsRefused(_ mistake: Mistake) throws {
        let data = try mistake.apply(to: baseFirewall)
        #expect(throws: ConfigError(mistake.message)) { try FirewallConfig.parse(data: data, file: "fw.json") }
    }

    /// Each mistake below is the only thing wrong with its document: the
    /// base documents parse, and into exactly what they say.
    @Test func baseDocumentsAreValid() throws {
        let topology = try Topology.parse(data: Array(baseTopology.utf8), file: "lab.json")
        #expect(topology.description == "test")
        #expect(topology.firewall.interfaces == [
            InterfaceSpec(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!, InterfaceAddress("fd00:1::1/64")!],
                          mtu: 1500, host: "client"),
            InterfaceSpec(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!, InterfaceAddress("2001:db8:1::1/64")!],
                          mtu: 1500, host: "server"),
        ])
        #expect(topology.firewall.rulesetPath == nil)
        #expect(topology.hosts == [
            HostSpec(name: "client",
                     interfaces: [HostInterfaceSpec(device: "lan0", addresses: [InterfaceAddress("10.0.1.2/24")!,
                                                                                InterfaceAddress("fd00:1::2/64")!])],
                     routes: [HostRouteSpec(destination: IPPrefix("0.0.0.0/0")!, gateway: IPAddress("10.0.1.1")!, device: "lan0"),
                              HostRouteSpec(destination: IPPrefix("::/0")!, gateway: IPAddress("fd00:1::1")!, device: "lan0")]),
            HostSpec(name: "server",
                     interfaces: [HostInterfaceSpec(device: "wan0", addresses: [InterfaceAddress("203.0.113.10/24")!,
                                                                                InterfaceAddress("2001:db8:1::10/64")!])],
                     routes: [HostRouteSpec(destination: IPPrefix("0.0.0.0/0")!, gateway: IPAddress("203.0.113.1")!, device: "wan0"),
                              HostRouteSpec(destination: IPPrefix("::/0")!, gateway: IPAddress("2001:db8:1::1")!, device: "wan0")]),
        ])
        // firewallConfigFields reads the firewall document field by field; here: that it is whole.
        let firewall = try FirewallConfig.parse(data: Array(baseFirewall.utf8), file: "fw.json")
        #expect(firewall.interfaces.map(\.name) == ["lan0", "wan0"])
        #expect(firewall.interfaces.map(\.addresses) == topology.firewall.interfaces.map(\.addresses))
        #expect(firewall.routes.count == 1 && firewall.rulesetPath == "rules/basic.nft")
        #expect(firewall.conntrackMax == 262144 && firewall.ftp.maxExpected == 2)
    }

    @Test func wholeDocumentMistakes() {
        #expect(throws: ConfigError("x.json: expected a JSON object at the top level, found an array")) {
            try Topology.parse(data: Array("[1, 2]".utf8), file: "x.json")
        }
        #expect(throws: ConfigError("x.json: invalid JSON: Unexpected end of file during JSON parse.")) {
            try Topology.parse(data: [], file: "x.json")
        }
        #expect(throws: ConfigError(#"x.json: missing key "hosts""#)) {
            try Topology.parse(data: Array(#"{"firewall": {"interfaces": [{"name": "a", "host": "h"}]}}"#.utf8), file: "x.json")
        }
        #expect(throws: ConfigError("x.json: interfaces: expected an array, found an object")) {
            try FirewallConfig.parse(data: Array(#"{"interfaces": {}}"#.utf8), file: "x.json")
        }
        #expect(throws: ConfigError("x.json: interfaces: a firewall needs at least one interface")) {
            try FirewallConfig.parse(data: Array(#"{"interfaces": []}"#.utf8), file: "x.json")
        }
        #expect(throws: ConfigError("/nonexistent/lab.json: No such file or directory")) {
            try Topology.load(path: "/nonexistent/lab.json")
        }
    }

    @Test func firewallConfigFields() throws {
        let config = try FirewallConfig.parse(data: Array(baseFirewall.utf8), file: "Topologies/fw.json")
        #expect(config.interfaces[0].namespace == "tw-x-client")
        #expect(config.interfaces[1].mtu == FirewallConfig.defaultMTU)
        #expect(config.interfaces[1].namespace == nil)
        #expect(config.routes == [RouteSpec(destination: IPPrefix("198.51.100.0/24")!,
                                            gateway: IPAddress("203.0.113.254")!, interface: "wan0")])
        // Relative to the directory of the JSON file.
        #expect(config.rulesetPath == "Topologies/rules/basic.nft")
        #expect(config.conntrackMax == 262144)
        // The FTP helper's policy: what is given, and the safe defaults for the rest.
        #expect(config.ftp.maxExpected == 2 && !config.ftp.loose && config.ftp.encrypted == .allow)
        #expect(config.ftp.holdBytes == 512 && !config.ftp.lowPorts && config.ftp.expectTimeoutSeconds == 300)
        let bare = try FirewallConfig.parse(data: Array(baseFirewall.replacingOccurrences(
            of: #", "ftp": {"loose": false, "max_expected": 2, "encrypted": "allow"}"#, with: "").utf8), file: "fw.json")
        #expect(bare.ftp == .default)
    }

    @Test func routeInterfaceFollowsTheGatewaysSubnet() throws {
        let text = baseFirewall.replacingOccurrences(of: #", "interface": "wan0""#, with: "")
            .replacingOccurrences(of: #""ruleset": "rules/basic.nft""#, with: #""ruleset": "/etc/tunwall/basic.nft""#)
        let config = try FirewallConfig.parse(data: Array(text.utf8), file: "fw.json")
        #expect(config.routes[0].interface == nil)
        #expect(config.outgoingInterface(for: config.routes[0]) == "wan0")
        #expect(config.rulesetPath == "/etc/tunwall/basic.nft")
    }

    @Test func jsonDataRoundTrips() throws {
        let config = try FirewallConfig.parse(data: Array(baseFirewall.utf8), file: "fw.json")
        let data = config.jsonData()
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""ruleset" : "rules/basic.nft""#))  // no escaped slashes
        #expect(try FirewallConfig.parse(data: data, file: "again.json") == config)
    }

    @Test func labFirewallConfigNamesTheHostNamespaces() throws {
        let topology = try Topology.load(path: basicTopologyPath)
        let config = Lab.firewallConfig(for: topology, lab: "basic")
        #expect(config.interfaces.map(\.namespace) == ["tw-basic-client", "tw-basic-server"])
        #expect(config.interfaces.allSatisfy { $0.host == nil })
        // What `tunwall run` will read back.
        let reread = try FirewallConfig.parse(data: config.jsonData(), file: "firewall.json")
        #expect(reread == config)
    }

    @Test func rulesetBecomesAbsoluteInTheLabConfig() throws {
        let text = baseTopology.replacingOccurrences(of: #""ruleset": null"#, with: #""ruleset": "basic.nft""#)
        let topology = try Topology.parse(data: Array(text.utf8), file: "Topologies/lab.json")
        #expect(topology.firewall.rulesetPath == "Topologies/basic.nft")
        let config = Lab.firewallConfig(for: topology, lab: "x")
        #expect(config.rulesetPath == FileManager.default.currentDirectoryPath + "/Topologies/basic.nft")
    }

    @Test func suggestions() {
        #expect(editDistance("adresses", "addresses") == 1)
        #expect(editDistance("nmae", "name") == 1)
        #expect(closestMatch(to: "rulset", among: ["interfaces", "routes", "ruleset", "conntrack"]) == "ruleset")
        #expect(closestMatch(to: "colour", among: ["description", "firewall", "hosts"]) == nil)
    }

    /// `lab check` places a key path's error at its line and column; strings
    /// holding brackets, commas and escaped quotes are skipped whole.
    @Test func keyPathsHaveALineAndColumn() {
        let text = Array("""
            {"a": "x,]}\\"", "b": [1, {"c": [true,
              "é", {"d": null}]}],
             "e": {}}
            """.utf8)
        func place(_ path: JSONPath) -> String? { jsonLocation(of: path, in: text).map { "\($0.line):\($0.column)" } }
        #expect(place(JSONPath.root.key("a")) == "1:7")
        #expect(place(JSONPath.root.key("b").index(1).key("c").index(1)) == "2:3")
        #expect(place(JSONPath.root.key("b").index(1).key("c").index(2).key("d")) == "2:14", "columns count characters")
        #expect(place(JSONPath.root.key("e")) == "3:7")
        #expect(place(JSONPath.root.key("e").key("missing")) == "3:7", "a missing key: its object")
        #expect(place(JSONPath.root.key("b").index(7)) == "1:22", "past the end: the array")
        #expect(jsonLocation(of: JSONPath.root.key("a"), in: Array("{\"a\"".utf8)) == nil, "cut short: no guess")
        let error = ConfigError.config("/nonexistent.json", JSONPath.root.key("a"), "bad")
        #expect(error.located() == "/nonexistent.json: a: bad", "an unreadable file keeps the message")
    }
}

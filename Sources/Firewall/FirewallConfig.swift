// FirewallConfig: what `tunwall run CONFIG.json` reads: the TUN interfaces
// with their addresses, MTU and the namespace each is moved into, static
// routes, the ruleset file and the conntrack table size. Example:
//
//   {
//     "interfaces": [
//       {"name": "lan0", "addresses": ["10.0.1.1/24", "fd00:1::1/64"], "mtu": 1500, "namespace": "tw-basic-client"},
//       {"name": "wan0", "addresses": ["203.0.113.1/24", "2001:db8:1::1/64"]}
//     ],
//     "routes": [ {"to": "198.51.100.0/24", "via": "203.0.113.254", "interface": "wan0"} ],
//     "ruleset": "rules/basic.nft",
//     "conntrack": {"max": 262144, "tcp_loose": true, "tcp_be_liberal": false},
//     "ftp": {"loose": false, "max_expected": 1, "low_ports": false, "encrypted": "allow",
//             "hold_bytes": 512, "hold_ms": 1000, "expect_timeout": 300}
//   }
//
// "mtu" defaults to 1500 (576...65535, at least 1280 with IPv6 addresses);
// "conntrack"'s keys are each optional: "max" entries (65536), and the TCP
// switches named after Linux's sysctls net.netfilter.nf_conntrack_tcp_loose
// (pick up connections mid-stream) and _tcp_be_liberal (do not call
// out-of-window segments invalid), with Linux's defaults;
// "routes", "ruleset", "conntrack" and "ftp" (the FTP helper's policy,
// FTPPolicy.swift; every key optional, the defaults shown) are optional; a route's "interface" may
// be left out when "via" lies on a connected subnet; "to" may be "default"
// (0.0.0.0/0 or ::/0 by the family of "via"). An interface's "impair" gives
// each direction ("in": packets that came in by it, "out": packets leaving by
// it) impairments in tc-netem's words, as `tunwall impair` takes them
// (Engine's ImpairmentWords.swift); words that do not parse are an error
// naming the interface and the direction. The ruleset path is relative to
// the directory of the JSON file. An interface's "mode" is "tun" (the
// default: IP packets) or "tap" (Ethernet frames, with ARP and ND:
// Engine's LinkStage.swift), and a TAP interface's "mac" ("02:00:00:00:00:01",
// unicast) is the firewall's MAC on it; without one, a locally administered
// MAC made from the interface's name, the same every run. Inside a topology the same object names each
// interface's "host" instead of a "namespace" (Topology.swift).

import Conntrack
import Engine
import FTP
import Foundation
import Wire

public struct InterfaceSpec: Equatable, Sendable {
    /// The TUN device's name, at most 15 characters.
    public var name: String
    public var addresses: [InterfaceAddress]
    public var mtu: Int
    /// The network namespace the device is moved into; nil leaves it in the firewall's.
    public var namespace: String?
    /// In a topology: the host whose namespace receives the device.
    public var host: String?
    /// In a topology: the segment (a bridge in a namespace of its own) the
    /// device joins instead of a host; only a TAP device can (Topology.swift).
    public var segment: String?
    /// `"impair": {"in": WORDS, "out": WORDS}`: what the firewall starts with.
    public var impair: [ImpairmentDirection: Impairment] = [:]
    /// `"mode": "tun" | "tap"`.
    public var mode: LinkMode = .tun
    /// `"mac"`: the firewall's MAC on a TAP interface (nil: derived from the name).
    public var mac: MACAddress?

    public init(name: String, addresses: [InterfaceAddress], mtu: Int = FirewallConfig.defaultMTU,
                namespace: String? = nil, host: String? = nil) {
        self.name = name
        self.addresses = addresses
        self.mtu = mtu
        self.namespace = namespace
        self.host = host
    }

    /// What the engine needs of it (the namespace and host are the lab's business).
    public var engineInterface: InterfaceConfiguration {
        InterfaceConfiguration(name: name, addresses: addresses, mtu: mtu, mode: mode, hardwareAddress: mac)
    }
}

/// A firewall route is the engine's own route value: destination, gateway,
/// and the interface as written (nil when the gateway's connected subnet
/// decides; see `FirewallConfig.outgoingInterface(for:)`).
public typealias RouteSpec = RouteConfiguration

public struct FirewallConfig: Equatable, Sendable {
    public var interfaces: [InterfaceSpec]
    public var routes: [RouteSpec]
    /// Resolved against the JSON file's directory when loaded.
    public var rulesetPath: String?
    public var conntrackMax: Int?
    /// nf_conntrack_tcp_loose (`"conntrack": {"tcp_loose": …}`).
    public var tcpLoose = true
    /// nf_conntrack_tcp_be_liberal (`"conntrack": {"tcp_be_liberal": …}`).
    public var tcpBeLiberal = false
    /// The FTP helper's policy (`"ftp": {…}`); the safe defaults when left out.
    public var ftp: FTPPolicy = .default
    /// `"workers": N`: worker threads, each with a queue of every device and
    /// a conntrack shard (issue 17); nil: one per CPU. `--workers` and
    /// TUNWALL_WORKERS override it.
    public var workers: Int?
    public static let workersRange = 1...255

    public static let defaultMTU = 1500
    public static let mtuRange = 576...65535
    public static let minimumIPv6MTU = 1280
    public static let conntrackMaxRange = 1...(1 << 30)

    public init(interfaces: [InterfaceSpec], routes: [RouteSpec] = [], rulesetPath: String? = nil,
                conntrackMax: Int? = nil) {
        self.interfaces = interfaces
        self.routes = routes
        self.rulesetPath = rulesetPath
        self.conntrackMax = conntrackMax
    }

    public static func load(path: String) throws(ConfigError) -> FirewallConfig {
        try parse(data: ConfigError.read(path), file: path)
    }

    /// `file` names the document in messages and anchors a relative ruleset path.
    public static func parse(data: Data, file: String) throws(ConfigError) -> FirewallConfig {
        try parse(parseJSONDocument(data, file: file), at: .root, file: file, dialect: .standalone)
    }

    public static func parse(data: [UInt8], file: String) throws(ConfigError) -> FirewallConfig {
        try parse(data: Data(data), file: file)
    }

    /// What the engine is built from; 65,536 conntrack entries unless "conntrack" says otherwise.
    public var engineConfiguration: EngineConfiguration {
        var timeouts = ConntrackTimeouts.linux
        timeouts.tcpLoose = tcpLoose
        timeouts.tcpBeLiberal = tcpBeLiberal
        return EngineConfiguration(interfaces: interfaces.map(\.engineInterface), routes: routes,
                                   conntrackCapacity: conntrackMax ?? 65_536, timeouts: timeouts, ftp: ftp)
    }

    public func interface(named name: String) -> InterfaceSpec? {
        interfaces.first { $0.name == name }
    }

    /// The route's interface as written, else the first interface with an
    /// address whose subnet holds the gateway.
    public func outgoingInterface(for route: RouteSpec) -> String? {
        if let name = route.interface { return name }
        guard let gateway = route.gateway else { return nil }
        return interfaces.first { $0.addresses.contains { $0.prefix.contains(gateway) } }?.name
    }

    /// The standalone form that `tunwall run` reads back with `load(path:)`:
    /// pretty-printed with sorted keys; "host" is left out (it only means
    /// something inside a topology; set "namespace" instead).
    public func jsonData() -> Data {
        var object: [String: Any] = [:]
        object["interfaces"] = interfaces.map { interface -> [String: Any] in
            var entry: [String: Any] = [
                "name": interface.name,
                "addresses": interface.addresses.map(\.description),
                "mtu": interface.mtu,
            ]
            if let namespace = interface.namespace { entry["namespace"] = namespace }
            if interface.mode != .tun { entry["mode"] = interface.mode.rawValue }
            if let mac = interface.mac { entry["mac"] = mac.description }
            if !interface.impair.isEmpty {
                entry["impair"] = Dictionary(uniqueKeysWithValues: interface.impair.map { ($0.key.rawValue, $0.value.description) })
            }
            return entry
        }
        object["routes"] = routes.map { route -> [String: Any] in
            var entry: [String: Any] = ["to": route.destination.description]
            if let gateway = route.gateway { entry["via"] = gateway.description }
            if let interface = route.interface { entry["interface"] = interface }
            return entry
        }
        if let rulesetPath { object["ruleset"] = rulesetPath }
        var conntrack: [String: Any] = [:]
        if let conntrackMax { conntrack["max"] = conntrackMax }
        if !tcpLoose { conntrack["tcp_loose"] = false }
        if tcpBeLiberal { conntrack["tcp_be_liberal"] = true }
        if !conntrack.isEmpty { object["conntrack"] = conntrack }
        if let workers { object["workers"] = workers }
        if ftp != .default {
            object["ftp"] = ["loose": ftp.loose, "max_expected": ftp.maxExpected, "low_ports": ftp.lowPorts,
                             "encrypted": ftp.encrypted.rawValue, "hold_bytes": ftp.holdBytes,
                             "hold_ms": ftp.holdMilliseconds, "expect_timeout": ftp.expectTimeoutSeconds]
        }
        // Only strings, numbers, arrays and dictionaries: serialization cannot fail.
        var data = (try? JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// A standalone config names namespaces; a topology's firewall names hosts.
    package enum Dialect {
        case standalone
        case topology
    }

    package static func parse(_ value: JSONValue, at path: JSONPath, file: String, dialect: Dialect) throws(ConfigError) -> FirewallConfig {
        let object = try JSONObjectReader(value, at: path, file: file,
                                          allowedKeys: ["interfaces", "routes", "ruleset", "conntrack", "ftp", "workers"])
        var interfaces: [InterfaceSpec] = []
        let interfaceValues = try object.array("interfaces")
        if interfaceValues.isEmpty {
            throw object.error("interfaces", "a firewall needs at least one interface")
        }
        for (index, element) in interfaceValues.enumerated() {
            let interface = try parseInterface(element, at: path.key("interfaces").index(index), file: file, dialect: dialect)
            if interfaces.contains(where: { $0.name == interface.name }) {
                throw ConfigError.config(file, path.key("interfaces").index(index).key("name"),
                                      "duplicate interface \(quoted(interface.name))")
            }
            for (addressIndex, address) in interface.addresses.enumerated() {
                if let other = interfaces.first(where: { $0.addresses.contains { $0.address == address.address } }) {
                    throw ConfigError.config(file, path.key("interfaces").index(index).key("addresses").index(addressIndex),
                                          "\(address.address) is already an address of interface \(quoted(other.name))")
                }
            }
            interfaces.append(interface)
        }
        var config = FirewallConfig(interfaces: interfaces)
        for (index, element) in (try object.optionalArray("routes") ?? []).enumerated() {
            config.routes.append(try parseRoute(element, at: path.key("routes").index(index), file: file, config: config))
        }
        if let ruleset = try object.optionalString("ruleset") {
            if ruleset.isEmpty { throw object.error("ruleset", "empty path (leave \"ruleset\" out or set it to null)") }
            config.rulesetPath = resolve(ruleset, relativeTo: file)
        }
        if let conntrack = object.optional("conntrack") {
            let reader = try JSONObjectReader(conntrack, at: path.key("conntrack"), file: file,
                                              allowedKeys: ["max", "tcp_loose", "tcp_be_liberal"])
            config.conntrackMax = try reader.optionalInteger("max", in: conntrackMaxRange)
            config.tcpLoose = try reader.optionalBool("tcp_loose") ?? true
            config.tcpBeLiberal = try reader.optionalBool("tcp_be_liberal") ?? false
        }
        config.workers = try object.optionalInteger("workers", in: workersRange)
        if let ftp = object.optional("ftp") {
            config.ftp = try parseFTPPolicy(ftp, at: path.key("ftp"), file: file)
        }
        return config
    }

    /// `"ftp": {"loose": false, "max_expected": 1, "low_ports": false, "encrypted": "allow",
    /// "hold_bytes": 512, "hold_ms": 1000, "expect_timeout": 300}`, every key optional.
    static func parseFTPPolicy(_ value: JSONValue, at path: JSONPath, file: String) throws(ConfigError) -> FTPPolicy {
        let reader = try JSONObjectReader(value, at: path, file: file,
                                          allowedKeys: ["loose", "max_expected", "low_ports", "encrypted", "hold_bytes",
                                                        "hold_ms", "expect_timeout"])
        var policy = FTPPolicy()
        if let loose = try reader.optionalBool("loose") { policy.loose = loose }
        if let maximum = try reader.optionalInteger("max_expected", in: FTPPolicy.maxExpectedRange) { policy.maxExpected = maximum }
        if let low = try reader.optionalBool("low_ports") { policy.lowPorts = low }
        if let text = try reader.optionalString("encrypted") {
            guard let encrypted = FTPPolicy.Encrypted(rawValue: text) else {
                throw reader.error("encrypted", "expected \"allow\" or \"drop\", found \(quoted(text))")
            }
            policy.encrypted = encrypted
        }
        if let bytes = try reader.optionalInteger("hold_bytes", in: FTPPolicy.holdBytesRange) { policy.holdBytes = bytes }
        if let ms = try reader.optionalInteger("hold_ms", in: FTPPolicy.holdMillisecondsRange) { policy.holdMilliseconds = ms }
        if let seconds = try reader.optionalInteger("expect_timeout", in: FTPPolicy.expectTimeoutRange) {
            policy.expectTimeoutSeconds = seconds
        }
        return policy
    }

    private static func parseInterface(
        _ value: JSONValue, at path: JSONPath, file: String, dialect: Dialect
    ) throws(ConfigError) -> InterfaceSpec {
        let object: JSONObjectReader
        switch dialect {
        case .standalone:
            object = try JSONObjectReader(value, at: path, file: file,
                                          allowedKeys: ["name", "addresses", "mtu", "namespace", "impair", "mode", "mac"],
                                          hints: ["host": "\"host\" belongs in a topology; a firewall config names the \"namespace\"",
                                                  "segment": "\"segment\" belongs in a topology; a firewall config names the \"namespace\""])
        case .topology:
            object = try JSONObjectReader(value, at: path, file: file,
                                          allowedKeys: ["name", "host", "segment", "addresses", "mtu", "impair", "mode", "mac"],
                                          hints: ["namespace": "in a topology, name the \"host\"; the lab picks the namespaces"])
        }
        let name = try object.string("name")
        if let problem = ConfigValue.deviceName(name) { throw object.error("name", problem) }
        var addresses: [InterfaceAddress] = []
        if object.optional("addresses") != nil {
            for (text, addressPath) in try object.strings("addresses") {
                let address = try ConfigValue.interfaceAddress(text, at: addressPath, file: file)
                if addresses.contains(where: { $0.address == address.address }) {
                    throw ConfigError.config(file, addressPath, "duplicate address \(address.address)")
                }
                addresses.append(address)
            }
        }
        let mtu = try object.optionalInteger("mtu", in: mtuRange) ?? defaultMTU
        if mtu < minimumIPv6MTU, addresses.contains(where: { $0.address.isV6 }) {
            throw object.error("mtu", "\(mtu) is below \(minimumIPv6MTU), the minimum for IPv6 (the interface has IPv6 addresses)")
        }
        var interface = InterfaceSpec(name: name, addresses: addresses, mtu: mtu)
        if let impair = object.optional("impair") {
            interface.impair = try parseImpair(impair, at: path.key("impair"), file: file)
        }
        if let mode = try object.optionalString("mode") {
            guard let parsed = LinkMode(rawValue: mode) else {
                throw object.error("mode", "\"\(mode)\" is not a mode: \"tun\" (IP packets) or \"tap\" (Ethernet frames)")
            }
            interface.mode = parsed
        }
        if let text = try object.optionalString("mac") {
            guard let mac = MACAddress(text) else {
                throw object.error("mac", "\"\(text)\" is not a MAC address (six hex pairs: 02:00:00:00:00:01)")
            }
            guard !mac.isMulticast, mac != .zero else {
                throw object.error("mac", "\(mac) is multicast or zero; the firewall's MAC must be unicast")
            }
            guard interface.mode == .tap else {
                throw object.error("mac", "a MAC belongs to a \"tap\" interface; this one is \"tun\" (add \"mode\": \"tap\")")
            }
            interface.mac = mac
        }
        switch dialect {
        case .standalone:
            if let namespace = try object.optionalString("namespace") {
                if let problem = ConfigValue.namespaceName(namespace) { throw object.error("namespace", problem) }
                interface.namespace = namespace
            }
        case .topology:
            // One or the other: a host at the end of a point-to-point link, or a segment shared by hosts.
            interface.host = try object.optionalString("host")
            interface.segment = try object.optionalString("segment")
            if interface.host != nil && interface.segment != nil {
                throw object.error("segment", "an interface connects to a \"host\" or to a \"segment\", not both")
            }
            if interface.host == nil && interface.segment == nil {
                throw ConfigError.config(file, path, "missing key \"host\" (or \"segment\")")
            }
        }
        return interface
    }

    /// `"impair": {"in": "delay 10ms", "out": "loss 2% rate 10mbit"}`, each key optional.
    static func parseImpair(_ value: JSONValue, at path: JSONPath, file: String) throws(ConfigError) -> [ImpairmentDirection: Impairment] {
        let reader = try JSONObjectReader(value, at: path, file: file, allowedKeys: ImpairmentDirection.allCases.map(\.rawValue))
        var result: [ImpairmentDirection: Impairment] = [:]
        for direction in ImpairmentDirection.allCases {
            guard let words = try reader.optionalString(direction.rawValue) else { continue }
            do {
                let impairment = try Impairment.parse(words)
                if !impairment.isNone { result[direction] = impairment }
            } catch {
                throw reader.error(direction.rawValue, error.message)
            }
        }
        return result
    }

    private static func parseRoute(
        _ value: JSONValue, at path: JSONPath, file: String, config: FirewallConfig
    ) throws(ConfigError) -> RouteSpec {
        let object = try JSONObjectReader(value, at: path, file: file, allowedKeys: ["to", "via", "interface"])
        let (destination, gateway) = try ConfigValue.routeTarget(object, at: path, file: file)
        let interface = try object.optionalString("interface")
        if let interface, config.interface(named: interface) == nil {
            var message = "no interface named \(quoted(interface))"
            if let suggestion = closestMatch(to: interface, among: config.interfaces.map(\.name)) {
                message += " (did you mean \(quoted(suggestion))?)"
            }
            throw object.error("interface", message)
        }
        let route = RouteSpec(destination: destination, gateway: gateway, interface: interface)
        if interface == nil {
            guard let gateway else {
                throw ConfigError.config(file, path, "a route needs \"via\", \"interface\" or both")
            }
            if config.outgoingInterface(for: route) == nil {
                throw object.error("via", "\(gateway) is not on the subnet of any interface; add \"interface\"")
            }
        }
        return route
    }

    /// `path` as seen from the working directory: absolute paths stay, others
    /// are taken relative to the directory of `file`.
    static func resolve(_ path: String, relativeTo file: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let slash = file.lastIndex(of: "/") else { return path }
        return String(file[...slash]) + path
    }
}

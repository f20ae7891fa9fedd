// Topology: a lab described in one file: the firewall (whose interfaces name
// the host they belong to) and the hosts, each a network namespace with the
// firewall's TUN devices as its interfaces. Topologies/basic.json:
//
//   {
//     "description": "client 10.0.1.2 — firewall — server 203.0.113.10, dual-stack",
//     "firewall": { "interfaces": [ {"name": "lan0", "host": "client", "addresses": ["10.0.1.1/24", "fd00:1::1/64"]},
//                                   {"name": "wan0", "host": "server", "addresses": ["203.0.113.1/24", "2001:db8:1::1/64"]} ],
//                   "ruleset": null },
//     "hosts": [
//       {"name": "client", "interfaces": [{"device": "lan0", "addresses": ["10.0.1.2/24", "fd00:1::2/64"]}],
//        "routes": [{"to": "default", "via": "10.0.1.1"}, {"to": "default", "via": "fd00:1::1"}]},
//       ...
//     ]
//   }
//
// Every firewall interface belongs to exactly one host and appears in that
// host's "interfaces" (as "device"), or joins a segment; a host route's
// device is the one whose subnet holds "via" unless "device" says otherwise.
// The MTU of a host's interface is the firewall interface's (one device, one
// MTU; on a segment, the MTU of the firewall's interface on it).
//
// Segments (TopologySegments.swift) are Ethernet links with any number of
// hosts: a firewall TAP interface says `"segment": "lan"` instead of "host",
// each host on it has an interface with `"segment": "lan"` (its "device"
// name defaults to the segment's), and "segments" lists them:
//
//   "segments": [{"name": "lan"}],
//   "firewall": {"interfaces": [{"name": "lan0", "mode": "tap", "segment": "lan", "addresses": ["10.0.1.1/24"]}, ...]},
//   "hosts": [{"name": "client1", "interfaces": [{"segment": "lan", "addresses": ["10.0.1.2/24"]}], ...}, ...]

import Firewall
import Foundation
import Wire

public struct HostInterfaceSpec: Equatable, Sendable {
    /// The firewall interface (TUN device) this host sees; on a segment, the
    /// name of the host's own end of its veth pair.
    public var device: String
    public var addresses: [InterfaceAddress]
    /// The segment this interface is on (nil: a firewall interface of its own).
    public var segment: String?
    /// On a segment: the interface's MAC address, as written or derived from
    /// the segment's and the host's names (`Topology.derivedMAC`), so the same
    /// topology gives the same addresses in every run and every lab.
    public var mac: MACAddress?

    public init(device: String, addresses: [InterfaceAddress], segment: String? = nil, mac: MACAddress? = nil) {
        self.device = device
        self.addresses = addresses
        self.segment = segment
        self.mac = mac
    }
}

public struct HostRouteSpec: Equatable, Sendable {
    public var destination: IPPrefix
    public var gateway: IPAddress?
    /// Always known after loading: written, or found from the gateway's subnet.
    public var device: String

    public init(destination: IPPrefix, gateway: IPAddress?, device: String) {
        self.destination = destination
        self.gateway = gateway
        self.device = device
    }
}

public struct HostSpec: Equatable, Sendable {
    public var name: String
    public var interfaces: [HostInterfaceSpec]
    public var routes: [HostRouteSpec]

    public init(name: String, interfaces: [HostInterfaceSpec], routes: [HostRouteSpec] = []) {
        self.name = name
        self.interfaces = interfaces
        self.routes = routes
    }
}

public struct Topology: Equatable, Sendable {
    public var description: String
    /// Interfaces carry `host` or `segment`, not `namespace` (see `Lab.firewallConfig(for:lab:)`).
    public var firewall: FirewallConfig
    public var hosts: [HostSpec]
    /// Ethernet links with several hosts, each a bridge in a namespace of its own.
    public var segments: [SegmentSpec]

    public init(description: String = "", firewall: FirewallConfig, hosts: [HostSpec], segments: [SegmentSpec] = []) {
        self.description = description
        self.firewall = firewall
        self.hosts = hosts
        self.segments = segments
    }

    public static func load(path: String) throws(ConfigError) -> Topology {
        try parse(data: ConfigError.read(path), file: path)
    }

    public static func parse(data: [UInt8], file: String) throws(ConfigError) -> Topology {
        try parse(data: Data(data), file: file)
    }

    public static func parse(data: Data, file: String) throws(ConfigError) -> Topology {
        let root = JSONPath.root
        let object = try JSONObjectReader(parseJSONDocument(data, file: file), at: root, file: file,
                                          allowedKeys: ["description", "segments", "firewall", "hosts"])
        let description = try object.optionalString("description") ?? ""
        var segments: [SegmentSpec] = []
        for (index, element) in (try object.optionalArray("segments") ?? []).enumerated() {
            segments.append(try parseSegment(element, at: root.key("segments").index(index), file: file, earlier: segments))
        }
        let firewall = try FirewallConfig.parse(object.required("firewall"), at: root.key("firewall"),
                                                file: file, dialect: .topology)
        var hosts: [HostSpec] = []
        let hostValues = try object.array("hosts")
        if hostValues.isEmpty { throw object.error("hosts", "a topology needs at least one host") }
        for (index, element) in hostValues.enumerated() {
            hosts.append(try parseHost(element, at: root.key("hosts").index(index), file: file, earlier: hosts))
        }
        let topology = Topology(description: description, firewall: firewall, hosts: hosts, segments: segments)
        try topology.checkAttachments(file: file)
        try topology.checkSegments(file: file)
        return topology
    }

    public func host(named name: String) -> HostSpec? {
        hosts.first { $0.name == name }
    }

    /// What ties hosts and firewall together, checked once both are read:
    /// each firewall interface names an existing host; each host device is a
    /// firewall interface of that host, with none of the firewall's addresses
    /// and an MTU that allows its IPv6 addresses; each host lists all of its
    /// firewall interfaces.
    private func checkAttachments(file: String) throws(ConfigError) {
        let firewallPath = JSONPath.root.key("firewall").key("interfaces")
        for (index, interface) in firewall.interfaces.enumerated() where interface.segment == nil && host(named: interface.host ?? "") == nil {
            var message = "no host named \(quoted(interface.host ?? "")) in \"hosts\""
            if let suggestion = closestMatch(to: interface.host ?? "", among: hosts.map(\.name)) {
                message += " (did you mean \(quoted(suggestion))?)"
            }
            throw ConfigError.config(file, firewallPath.index(index).key("host"), message)
        }
        for (hostIndex, host) in hosts.enumerated() {
            for (interfaceIndex, interface) in host.interfaces.enumerated() where interface.segment == nil {
                let path = JSONPath.root.key("hosts").index(hostIndex).key("interfaces").index(interfaceIndex)
                guard let owner = firewall.interface(named: interface.device) else {
                    var message = "no firewall interface named \(quoted(interface.device))"
                    if let suggestion = closestMatch(to: interface.device, among: firewall.interfaces.map(\.name)) {
                        message += " (did you mean \(quoted(suggestion))?)"
                    }
                    throw ConfigError.config(file, path.key("device"), message)
                }
                if owner.host != host.name {
                    throw ConfigError.config(file, path.key("device"), "firewall interface \(quoted(interface.device))"
                                          + " belongs to host \(quoted(owner.host ?? ""))")
                }
                for (addressIndex, address) in interface.addresses.enumerated()
                where owner.addresses.contains(where: { $0.address == address.address }) {
                    throw ConfigError.config(file, path.key("addresses").index(addressIndex),
                                          "\(address.address) is the firewall's own address on \(quoted(interface.device))")
                }
                if owner.mtu < FirewallConfig.minimumIPv6MTU, interface.addresses.contains(where: { $0.address.isV6 }) {
                    throw ConfigError.config(file, path.key("addresses"), "IPv6 addresses need an MTU of at least"
                                          + " \(FirewallConfig.minimumIPv6MTU), and firewall interface"
                                          + " \(quoted(interface.device)) has \(owner.mtu)")
                }
            }
        }
        for (index, interface) in firewall.interfaces.enumerated() {
            guard let host = host(named: interface.host ?? "") else { continue }  // on a segment
            if !host.interfaces.contains(where: { $0.device == interface.name }) {
                throw ConfigError.config(file, firewallPath.index(index), "host \(quoted(host.name)) has no interface with"
                                      + " \"device\": \(quoted(interface.name))")
            }
        }
    }

    private static func parseHost(
        _ value: JSONValue, at path: JSONPath, file: String, earlier: [HostSpec]
    ) throws(ConfigError) -> HostSpec {
        let object = try JSONObjectReader(value, at: path, file: file, allowedKeys: ["name", "interfaces", "routes"])
        let name = try object.string("name")
        if let problem = ConfigValue.hostName(name) { throw object.error("name", problem) }
        if earlier.contains(where: { $0.name == name }) { throw object.error("name", "duplicate host \(quoted(name))") }
        var interfaces: [HostInterfaceSpec] = []
        let interfaceValues = try object.array("interfaces")
        if interfaceValues.isEmpty { throw object.error("interfaces", "a host needs at least one interface") }
        for (index, element) in interfaceValues.enumerated() {
            let reader = try JSONObjectReader(element, at: path.key("interfaces").index(index), file: file,
                                              allowedKeys: ["device", "segment", "mac", "addresses"],
                                              hints: ["mtu": "the MTU is the firewall interface's \"mtu\""])
            let segment = try reader.optionalString("segment")
            // On a segment the device is the host's own; by default it is named for the segment.
            let device: String
            if let segment { device = try reader.optionalString("device") ?? segment } else { device = try reader.string("device") }
            if let problem = ConfigValue.deviceName(device) { throw reader.error("device", problem) }
            if interfaces.contains(where: { $0.device == device }) {
                throw reader.error(reader.optional("device") == nil ? "segment" : "device", "duplicate device \(quoted(device))")
            }
            if let segment, interfaces.contains(where: { $0.segment == segment }) {
                throw reader.error("segment", "the host is already on segment \(quoted(segment)) (one interface per segment)")
            }
            var mac: MACAddress?
            if let text = try reader.optionalString("mac") {
                guard segment != nil else {
                    throw reader.error("mac", "only an interface on a \"segment\" has a MAC address of its own"
                                       + " (the firewall's device is the host's interface)")
                }
                guard let parsed = MACAddress(text), !parsed.isMulticast, parsed != .zero else {
                    throw reader.error("mac", "\(quoted(text)) is not a unicast MAC address (six hex pairs with \":\","
                                       + " such as \"02:00:00:00:00:01\")")
                }
                mac = parsed
            }
            var addresses: [InterfaceAddress] = []
            if reader.optional("addresses") != nil {
                for (text, addressPath) in try reader.strings("addresses") {
                    let address = try ConfigValue.interfaceAddress(text, at: addressPath, file: file)
                    if addresses.contains(where: { $0.address == address.address }) {
                        throw ConfigError.config(file, addressPath, "duplicate address \(address.address)")
                    }
                    addresses.append(address)
                }
            }
            interfaces.append(HostInterfaceSpec(device: device, addresses: addresses, segment: segment,
                                                mac: segment.map { mac ?? derivedMAC(segment: $0, host: name) }))
        }
        var routes: [HostRouteSpec] = []
        for (index, element) in (try object.optionalArray("routes") ?? []).enumerated() {
            routes.append(try parseHostRoute(element, at: path.key("routes").index(index), file: file, interfaces: interfaces))
        }
        return HostSpec(name: name, interfaces: interfaces, routes: routes)
    }

    private static func parseHostRoute(
        _ value: JSONValue, at path: JSONPath, file: String, interfaces: [HostInterfaceSpec]
    ) throws(ConfigError) -> HostRouteSpec {
        let object = try JSONObjectReader(value, at: path, file: file, allowedKeys: ["to", "via", "device"])
        let (destination, gateway) = try ConfigValue.routeTarget(object, at: path, file: file)
        if let device = try object.optionalString("device") {
            guard interfaces.contains(where: { $0.device == device }) else {
                throw object.error("device", "the host has no interface \(quoted(device))")
            }
            return HostRouteSpec(destination: destination, gateway: gateway, device: device)
        }
        guard let gateway else {
            throw ConfigError.config(file, path, "a route needs \"via\", \"device\" or both")
        }
        guard let interface = interfaces.first(where: { $0.addresses.contains { $0.prefix.contains(gateway) } }) else {
            throw object.error("via", "\(gateway) is not on the subnet of any of the host's interfaces")
        }
        return HostRouteSpec(destination: destination, gateway: gateway, device: interface.device)
    }
}

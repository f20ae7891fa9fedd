// The firewall's interfaces and its routing table, as configured: each
// interface has a name (the TUN device), addresses with their subnets, and an
// MTU; routes map prefixes to an interface, optionally through a gateway.
// Every interface address adds a connected route, as `ip addr add` does.
//
// Example: lan0 10.0.1.1/24 and wan0 203.0.113.1/24 with a route
// 0.0.0.0/0 via 203.0.113.254: a packet to 198.51.100.7 leaves by wan0.

import FTP
import Wire

public typealias InterfaceID = Int

/// How an interface meets its link: a TUN device carries IP packets alone
/// (layer 3); a TAP device carries Ethernet frames (layer 2), and the
/// engine resolves next hops with ARP and ND (NeighbourStage.swift).
public enum LinkMode: String, Sendable, Hashable, CaseIterable {
    case tun, tap
}

public struct InterfaceConfiguration: Sendable, Hashable {
    public var name: String
    public var addresses: [InterfaceAddress]
    public var mtu: Int
    public var mode: LinkMode
    /// The firewall's MAC on a TAP interface; nil: `MACAddress.derived(from: name)`,
    /// the same every run.
    public var hardwareAddress: MACAddress?

    public init(name: String, addresses: [InterfaceAddress], mtu: Int = 1500, mode: LinkMode = .tun,
                hardwareAddress: MACAddress? = nil) {
        self.name = name
        self.addresses = addresses
        self.mtu = mtu
        self.mode = mode
        self.hardwareAddress = hardwareAddress
    }

    /// The MAC the firewall uses on this interface (meaningful for TAP).
    public var effectiveHardwareAddress: MACAddress { hardwareAddress ?? .derived(from: name) }
}

public struct RouteConfiguration: Sendable, Hashable {
    public var destination: IPPrefix
    public var gateway: IPAddress?
    /// May be omitted when the gateway lies on a connected subnet.
    public var interface: String?

    public init(destination: IPPrefix, gateway: IPAddress? = nil, interface: String? = nil) {
        self.destination = destination
        self.gateway = gateway
        self.interface = interface
    }
}

public struct EngineConfiguration: Sendable {
    public var interfaces: [InterfaceConfiguration]
    public var routes: [RouteConfiguration]
    public var conntrackCapacity: Int
    public var timeouts: ConntrackTimeouts
    /// What the FTP helper lets through (FTPPolicy's defaults are the safe ones).
    public var ftp: FTPPolicy

    public init(interfaces: [InterfaceConfiguration], routes: [RouteConfiguration] = [],
                conntrackCapacity: Int = 65_536, timeouts: ConntrackTimeouts = .linux, ftp: FTPPolicy = .default) {
        self.interfaces = interfaces
        self.routes = routes
        self.conntrackCapacity = conntrackCapacity
        self.timeouts = timeouts
        self.ftp = ftp
    }
}

import Conntrack

public enum ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    case noInterfaces
    case duplicateInterface(String)
    case badMTU(String, Int)
    case unknownRouteInterface(route: String, interface: String)
    case unreachableGateway(route: String, gateway: String)
    case familyMismatch(route: String)
    case badHardwareAddress(String, String)

    public var description: String {
        switch self {
        case .noInterfaces: return "no interfaces configured"
        case .duplicateInterface(let name): return "interface \(name) is configured twice"
        case .badMTU(let name, let mtu): return "interface \(name): MTU \(mtu) is outside 576...65535 (1280... with IPv6)"
        case .unknownRouteInterface(let route, let name): return "route \(route): no interface named \(name)"
        case .unreachableGateway(let route, let gateway):
            return "route \(route): gateway \(gateway) is on no connected subnet; name the interface"
        case .familyMismatch(let route): return "route \(route): gateway of the other address family"
        case .badHardwareAddress(let name, let mac):
            return "interface \(name): MAC \(mac) is multicast or zero; a unicast address is needed"
        }
    }
}

/// A resolved route: prefix, egress interface, next hop if any.
struct Route: Sendable {
    var prefix: IPPrefix
    var interface: InterfaceID
    var gateway: IPAddress?
}

/// Longest-prefix match over a short list sorted longest first: a lab's
/// routing table has a handful of routes, and a linear scan of a sorted
/// array allocates nothing and is easy to follow.
struct RouteTable: Sendable {
    var v4: [(prefix: IPv4Prefix, route: Route)] = []
    var v6: [(prefix: IPv6Prefix, route: Route)] = []

    init(_ routes: [Route]) {
        for route in routes {
            switch route.prefix {
            case .v4(let p): v4.append((p, route))
            case .v6(let p): v6.append((p, route))
            }
        }
        v4.sort { $0.prefix.length > $1.prefix.length }
        v6.sort { $0.prefix.length > $1.prefix.length }
    }

    func lookup(_ address: IPv4Address) -> Route? {
        for entry in v4 where entry.prefix.contains(address) { return entry.route }
        return nil
    }

    func lookup(_ address: IPv6Address) -> Route? {
        for entry in v6 where entry.prefix.contains(address) { return entry.route }
        return nil
    }
}

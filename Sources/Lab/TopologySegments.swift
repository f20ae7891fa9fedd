// Segments: Ethernet links with any number of hosts (issue 16). In the lab a
// segment is a Linux bridge in a namespace of its own, tw-LAB-SEGMENT (so a
// segment's name follows the rules of host names and differs from every
// host's); the firewall's TAP device on it, or the kernel router's veth end,
// is a port of the bridge, and so is one veth per host:
//
//   tw-LAB-lan:    br-lan (bridge) ── lan0 (the firewall's TAP device)
//                                  ├─ v-client1 ══ veth ══ lan (in tw-LAB-client1, MAC 02:…)
//                                  └─ v-client2 ══ veth ══ lan (in tw-LAB-client2)
//
// Checked offline with the rest of the topology: every segment has hosts,
// only a TAP interface joins one (TUN is point to point: no neighbours, no
// MAC, nowhere to put a second host), at most one firewall interface per
// segment, every name used is declared, no two hosts share an address on a
// segment, and no MAC is used twice.

import Firewall
import Foundation
import Wire

public struct SegmentSpec: Equatable, Sendable {
    /// Also the last part of its namespace, tw-LAB-NAME: a host name's rules.
    public var name: String

    public init(name: String) {
        self.name = name
    }

    /// The bridge in the segment's namespace.
    public var bridge: String { "br-\(name)" }

    /// The bridge's end of `host`'s veth pair.
    public static func port(ofHost host: String) -> String { "v-\(host)" }
}

extension Topology {
    public func segment(named name: String) -> SegmentSpec? {
        segments.first { $0.name == name }
    }

    /// The firewall's interface on the segment, if it has one.
    public func firewallInterface(onSegment name: String) -> InterfaceSpec? {
        firewall.interfaces.first { $0.segment == name }
    }

    /// Each host on the segment with its interface there, in host order.
    public func members(ofSegment name: String) -> [(host: HostSpec, interface: HostInterfaceSpec)] {
        hosts.compactMap { host in host.interfaces.first { $0.segment == name }.map { (host, $0) } }
    }

    /// The MTU of a host's interface: its firewall interface's, or on a
    /// segment that of the firewall's interface on the segment.
    public func mtu(of interface: HostInterfaceSpec) -> Int {
        let owner = interface.segment.map { firewallInterface(onSegment: $0) } ?? firewall.interface(named: interface.device)
        return owner?.mtu ?? FirewallConfig.defaultMTU
    }

    /// A host's MAC on a segment when the topology names none: locally
    /// administered, made from the segment's and the host's names only (as
    /// the firewall makes its TAP device's from the interface's name), so it
    /// is the same in every run and under every lab name.
    public static func derivedMAC(segment: String, host: String) -> MACAddress {
        MACAddress.derived(from: "\(segment)/\(host)")
    }

    static func parseSegment(
        _ value: JSONValue, at path: JSONPath, file: String, earlier: [SegmentSpec]
    ) throws(ConfigError) -> SegmentSpec {
        let object = try JSONObjectReader(value, at: path, file: file, allowedKeys: ["name"])
        let name = try object.string("name")
        if let problem = ConfigValue.hostName(name) {
            throw object.error("name", problem.replacingOccurrences(of: "host name", with: "segment name"))
        }
        if earlier.contains(where: { $0.name == name }) { throw object.error("name", "duplicate segment \(quoted(name))") }
        return SegmentSpec(name: name)
    }

    /// What ties segments, firewall and hosts together (see the top of the file).
    func checkSegments(file: String) throws(ConfigError) {
        let root = JSONPath.root
        for (index, segment) in segments.enumerated() where host(named: segment.name) != nil {
            throw ConfigError.config(file, root.key("segments").index(index).key("name"),
                                     "\(quoted(segment.name)) is also a host's name (each has a namespace tw-LAB-NAME)")
        }
        var macs: [(mac: MACAddress, owner: String)] = []
        for (index, interface) in firewall.interfaces.enumerated() {
            let path = root.key("firewall").key("interfaces").index(index)
            guard let name = interface.segment else { continue }
            // The firewall's own MAC there: written, or the one it derives from the interface's name.
            macs.append((interface.mac ?? .derived(from: interface.name), "firewall interface \(quoted(interface.name))"))
            guard let segment = segment(named: name) else {
                throw ConfigError.config(file, path.key("segment"), unknownSegment(name))
            }
            if interface.mode != .tap {
                throw ConfigError.config(file, path.key("segment"), "interface \(quoted(interface.name)) is TUN, a point-to-point"
                                         + " link with one host at its other end; only \"mode\": \"tap\" (Ethernet) can join"
                                         + " segment \(quoted(name))")
            }
            if let other = firewall.interfaces[..<index].first(where: { $0.segment == name }) {
                throw ConfigError.config(file, path.key("segment"), "firewall interface \(quoted(other.name)) is already on"
                                         + " segment \(quoted(name)) (one firewall interface per segment)")
            }
            let taken = [segment.bridge] + members(ofSegment: name).map { SegmentSpec.port(ofHost: $0.host.name) }
            if taken.contains(interface.name) {
                throw ConfigError.config(file, path.key("name"), "\(quoted(interface.name)) is the name of a device the lab"
                                         + " makes in segment \(quoted(name))'s namespace (its bridge \(segment.bridge),"
                                         + " v-HOST for each host)")
            }
        }
        for (hostIndex, host) in hosts.enumerated() {
            for (interfaceIndex, interface) in host.interfaces.enumerated() {
                guard let name = interface.segment else { continue }
                let path = root.key("hosts").index(hostIndex).key("interfaces").index(interfaceIndex)
                if segment(named: name) == nil { throw ConfigError.config(file, path.key("segment"), unknownSegment(name)) }
                let router = firewallInterface(onSegment: name)
                for (addressIndex, address) in interface.addresses.enumerated() {
                    if let router, router.addresses.contains(where: { $0.address == address.address }) {
                        throw ConfigError.config(file, path.key("addresses").index(addressIndex), "\(address.address) is the"
                                                 + " firewall's own address on \(quoted(router.name))")
                    }
                    if let other = hosts[..<hostIndex].first(where: { other in
                        other.interfaces.contains { $0.segment == name && $0.addresses.contains { $0.address == address.address } }
                    }) {
                        throw ConfigError.config(file, path.key("addresses").index(addressIndex), "\(address.address) is"
                                                 + " already host \(quoted(other.name))'s address on segment \(quoted(name))")
                    }
                }
                if mtu(of: interface) < FirewallConfig.minimumIPv6MTU, interface.addresses.contains(where: { $0.address.isV6 }) {
                    throw ConfigError.config(file, path.key("addresses"), "IPv6 addresses need an MTU of at least"
                                             + " \(FirewallConfig.minimumIPv6MTU), and segment \(quoted(name)) has \(mtu(of: interface))")
                }
                guard let mac = interface.mac else { continue }
                let owner = "host \(quoted(host.name)) on \(quoted(name))"
                if let earlier = macs.first(where: { $0.mac == mac }) {
                    throw ConfigError.config(file, path.key("mac"), "MAC address \(mac) of \(owner) is already \(earlier.owner)'s")
                }
                macs.append((mac, owner))
            }
        }
        for (index, segment) in segments.enumerated() where members(ofSegment: segment.name).isEmpty {
            throw ConfigError.config(file, root.key("segments").index(index), "segment \(quoted(segment.name)) has no hosts"
                                     + " (a host joins it with an interface {\"segment\": \(quoted(segment.name)), ...})")
        }
    }

    private func unknownSegment(_ name: String) -> String {
        var message = "no segment named \(quoted(name)) in \"segments\""
        if let suggestion = closestMatch(to: name, among: segments.map(\.name)) { message += " (did you mean \(quoted(suggestion))?)" }
        return message
    }
}

// A topology from Swift values for the common lab shape: one host on each
// firewall interface. Each link names the firewall's interface and its
// addresses, the host at the other end and the host's addresses; the host
// routes everything through the firewall's address of each family on its
// link. The values go through the same reader as a topology file, so a
// mistake is refused with the same message (the "file" is "<swift>").
//
//   let topology = try Topology.star([
//       .init(interface: "lan0", firewall: ["10.0.1.1/24"], host: "client", addresses: ["10.0.1.2/24"]),
//       .init(interface: "wan0", firewall: ["203.0.113.1/24"], host: "server", addresses: ["203.0.113.10/24"]),
//   ])
//   let lab = try LabSession(topology: topology, ruleset: masqueradeText, name: "t\(getpid())", tunwall: path)

import Firewall
import Foundation

extension Topology {
    public struct Link: Sendable {
        public var interface: String
        public var firewall: [String]
        public var host: String
        public var addresses: [String]
        public var mtu: Int?

        public init(interface: String, firewall: [String], host: String, addresses: [String], mtu: Int? = nil) {
            self.interface = interface
            self.firewall = firewall
            self.host = host
            self.addresses = addresses
            self.mtu = mtu
        }
    }

    public static func star(_ links: [Link], description: String = "") throws(LabError) -> Topology {
        var interfaces: [[String: Any]] = []
        var hosts: [[String: Any]] = []
        for link in links {
            var interface: [String: Any] = ["name": link.interface, "host": link.host, "addresses": link.firewall]
            if let mtu = link.mtu { interface["mtu"] = mtu }
            interfaces.append(interface)
            hosts.append(["name": link.host,
                          "interfaces": [["device": link.interface, "addresses": link.addresses]],
                          "routes": defaultRoutes(via: link.firewall)])
        }
        return try fromDocument(["description": description, "firewall": ["interfaces": interfaces], "hosts": hosts])
    }

    /// The default route of each family via the firewall's first address of that family.
    static func defaultRoutes(via firewall: [String]) -> [[String: String]] {
        let gateways = [false, true].compactMap { v6 in
            firewall.first { $0.contains(":") == v6 }.map { String($0.prefix { $0 != "/" }) }
        }
        return gateways.map { ["to": "default", "via": $0] }
    }

    /// Swift values through the topology reader, so a mistake reads as it would in a file.
    static func fromDocument(_ document: [String: Any]) throws(LabError) -> Topology {
        do {
            let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
            return try Topology.parse(data: data, file: "<swift>")
        } catch let error as ConfigError {
            throw LabError(error)
        } catch {
            throw LabError("topology from Swift values: \(error)")
        }
    }
}

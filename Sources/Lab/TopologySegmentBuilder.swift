// A topology from Swift values with segments (TopologySegments.swift): each
// segment names the firewall's TAP interface on it with its addresses, and
// its hosts with theirs; every host routes everything through the firewall's
// address of each family on its segment. Links to single hosts are
// `Topology.Link`s as in `Topology.star`. Read by the same reader as a file.
//
//   let topology = try Topology.segmented(
//       segments: [.init(name: "lan", interface: "lan0", firewall: ["10.0.1.1/24"],
//                        hosts: [.init(name: "client1", addresses: ["10.0.1.2/24"]),
//                                .init(name: "client2", addresses: ["10.0.1.3/24"])])],
//       links: [.init(interface: "wan0", firewall: ["203.0.113.1/24"], host: "server", addresses: ["203.0.113.10/24"])])

import Firewall
import Foundation

extension Topology {
    public struct Segment: Sendable {
        public struct Member: Sendable {
            public var name: String
            public var addresses: [String]
            /// nil: derived from the segment's and the host's names.
            public var mac: String?

            public init(name: String, addresses: [String], mac: String? = nil) {
                self.name = name
                self.addresses = addresses
                self.mac = mac
            }
        }

        public var name: String
        /// The firewall's TAP interface on the segment (nil: the firewall is not on it).
        public var interface: String?
        public var firewall: [String]
        public var mac: String?
        public var mtu: Int?
        public var hosts: [Member]

        public init(name: String, interface: String?, firewall: [String] = [], mac: String? = nil, mtu: Int? = nil,
                    hosts: [Member]) {
            self.name = name
            self.interface = interface
            self.firewall = firewall
            self.mac = mac
            self.mtu = mtu
            self.hosts = hosts
        }
    }

    public static func segmented(segments: [Segment], links: [Link] = [], description: String = "") throws(LabError) -> Topology {
        var interfaces: [[String: Any]] = []
        var hosts: [[String: Any]] = []
        for segment in segments {
            if let name = segment.interface {
                var interface: [String: Any] = ["name": name, "mode": "tap", "segment": segment.name, "addresses": segment.firewall]
                if let mtu = segment.mtu { interface["mtu"] = mtu }
                if let mac = segment.mac { interface["mac"] = mac }
                interfaces.append(interface)
            }
            for member in segment.hosts {
                var interface: [String: Any] = ["segment": segment.name, "addresses": member.addresses]
                if let mac = member.mac { interface["mac"] = mac }
                hosts.append(["name": member.name, "interfaces": [interface], "routes": defaultRoutes(via: segment.firewall)])
            }
        }
        let star = links.map { link -> (interface: [String: Any], host: [String: Any]) in
            var interface: [String: Any] = ["name": link.interface, "host": link.host, "addresses": link.firewall]
            if let mtu = link.mtu { interface["mtu"] = mtu }
            return (interface, ["name": link.host, "interfaces": [["device": link.interface, "addresses": link.addresses]],
                                "routes": defaultRoutes(via: link.firewall)])
        }
        return try fromDocument(["description": description, "segments": segments.map { ["name": $0.name] },
                                 "firewall": ["interfaces": interfaces + star.map(\.interface)],
                                 "hosts": hosts + star.map(\.host)])
    }
}

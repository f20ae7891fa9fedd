// Building a topology's segments (TopologySegments.swift) with `ip`: a bridge
// in each segment's namespace when the namespaces are made, then, once the
// firewall's devices exist (tunwall moved its TAP device into the segment's
// namespace, or the kernel router's veth end was put there), every device
// made a port of the bridge. Nothing is made outside the lab's namespaces,
// so `lab down` deleting them removes bridges and veths alike.

import Foundation
import Firewall
import SystemIO

extension LabController {
    /// The bridge, silent itself: IPv6 off in the segment's namespace (no
    /// router solicitations or MLD reports from it; it still forwards IPv6
    /// frames) and multicast snooping off, so that every port sees neighbour
    /// solicitations even from hosts that never join a group (the firewall).
    func createBridge(_ segment: SegmentSpec, lab: String) throws(LabError) {
        let namespace = Lab.namespaceName(lab: lab, host: segment.name)
        let switches = ["all", "default"].map { "/proc/sys/net/ipv6/conf/\($0)/disable_ipv6" }
        try asLabError(ip.netnsExec(namespace, ["sh", "-c", "for f in \"$@\"; do [ ! -e \"$f\" ] || echo 1 > \"$f\"; done", "sh"]
                                    + switches))
        try asLabError(ip.run(["-n", namespace, "link", "add", segment.bridge, "type", "bridge", "stp_state", "0",
                               "mcast_snooping", "0"]))
        try asLabError(ip.run(["-n", namespace, "link", "set", "dev", segment.bridge, "up"]))
    }

    /// Each segment's ports: the firewall's device (already in the segment's
    /// namespace) and one veth per host, whose other end goes to the host's
    /// namespace with the host's device name and MAC (configureHost then sets
    /// its MTU, brings it up and gives it its addresses).
    public func attachSegments(_ topology: Topology, lab: String) throws(LabError) {
        for segment in topology.segments {
            let namespace = Lab.namespaceName(lab: lab, host: segment.name)
            let mtu = topology.firewallInterface(onSegment: segment.name)?.mtu ?? FirewallConfig.defaultMTU
            if let router = topology.firewallInterface(onSegment: segment.name) {
                try asLabError(ip.run(["-n", namespace, "link", "set", "dev", router.name, "master", segment.bridge, "up"]))
            }
            for (host, interface) in topology.members(ofSegment: segment.name) {
                let port = SegmentSpec.port(ofHost: host.name)
                let hostNamespace = Lab.namespaceName(lab: lab, host: host.name)
                var peer = ["peer", "name", interface.device, "netns", hostNamespace]
                if let mac = interface.mac { peer += ["address", mac.description] }
                try asLabError(ip.run(["-n", namespace, "link", "add", port, "mtu", String(mtu), "type", "veth"] + peer))
                try asLabError(ip.run(["-n", namespace, "link", "set", "dev", port, "master", segment.bridge, "up"]))
            }
        }
    }
}

// The Linux kernel as the lab's firewall (`tunwall lab up FILE --kernel`):
// the same topology and the same .nft file, with tw-LAB-fw a Linux router
// instead of `tunwall run`. The kernel is the oracle for conntrack, NAT and
// the FTP helper (docs/ARCHITECTURE.md, testing tier 4): run a case through both
// and compare.
//
//   for each firewall interface (lan0 → host client, or → segment lan):
//     ip -n tw-LAB-fw link add lan0 mtu M type veth peer name lan0 netns tw-LAB-client
//     (on a segment the peer goes to tw-LAB-lan, where attachSegments makes it a port of the bridge)
//     its addresses in tw-LAB-fw (IPv6 with nodad), up
//   net.ipv4.ip_forward=1, net.ipv6.conf.all.forwarding=1 in tw-LAB-fw
//   the firewall's routes
//   ip netns exec tw-LAB-fw nft -f RULESET
//
// The hosts are then configured exactly as for tunwall, so `lab exec` and
// every client and server command are the same for both. What only tunwall
// has (the "ftp" policy knobs, conntrack_max) is left at the kernel's own
// settings. There is no firewall process: `lab down` deletes the namespaces,
// and the veth pairs go with them. Differences to keep in mind: a veth link
// is Ethernet, so hosts resolve neighbours (ARP, ND) where a TUN link has
// none, and the kernel answers neighbour solicitations only for its own
// addresses (an SNAT pool of other addresses on the link needs proxy ARP/ND).

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Wire
import Firewall
import SystemIO

extension LabController {
    /// Builds the kernel firewall in tw-LAB-fw (the namespaces exist).
    public func configureKernelFirewall(_ topology: Topology, lab: String) throws(LabError) {
        let namespace = Lab.firewallNamespace(lab: lab)
        let config = topology.firewall
        for interface in config.interfaces {
            guard let place = interface.host ?? interface.segment else {
                throw LabError("the kernel firewall needs every interface attached to a host or a segment; \(interface.name) is not")
            }
            // A TAP interface's MAC is the router's end's, the one tunwall would use (written, or
            // derived from the name), so that hosts see the same neighbour through either firewall.
            let mac = (interface.mac ?? (interface.mode == .tap ? .derived(from: interface.name) : nil)).map { ["address", $0.description] } ?? []
            try asLabError(ip.run(["-n", namespace, "link", "add", interface.name, "mtu", String(interface.mtu)] + mac
                                  + ["type", "veth", "peer", "name", interface.name, "netns", Lab.namespaceName(lab: lab, host: place)]))
        }
        // Forwarding on; IPv6 switched on where a system turned it off by default.
        var switches = ["/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"]
        switches += ["all", "default"].map { "/proc/sys/net/ipv6/conf/\($0)/disable_ipv6" }
        try asLabError(ip.netnsExec(namespace, ["sh", "-c", "echo 1 > $1; echo 1 > $2; echo 0 > $3; echo 0 > $4", "sh"] + switches))
        for interface in config.interfaces {
            for address in interface.addresses {
                var arguments = ["-n", namespace, "addr", "add", address.description, "dev", interface.name]
                if address.address.isV6 { arguments.append("nodad") }
                try asLabError(ip.run(arguments))
            }
            try asLabError(ip.run(["-n", namespace, "link", "set", "dev", interface.name, "up"]))
        }
        for route in config.routes {
            var arguments = ["-n", namespace, ConfigValue.isV4(route.destination) ? "-4" : "-6",
                             "route", "add", route.destination.description]
            if let gateway = route.gateway { arguments += ["via", gateway.description] }
            if let device = route.interface { arguments += ["dev", device] }
            try asLabError(ip.run(arguments))
        }
        if let ruleset = config.rulesetPath {
            do {
                try ip.netnsExec(namespace, [Self.nftExecutable, "-f", absolutePath(ruleset)])
            } catch {
                throw LabError("the kernel refused ruleset \(ruleset): \(error.message)")
            }
        }
        try writeFile(paths(lab).kernelMarker, Data("nftables\n".utf8))
    }

    /// nft, where Debian installs it.
    static var nftExecutable: String {
        ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first { access($0, X_OK) == 0 } ?? "nft"
    }

    /// True if `lab`'s firewall is the kernel (`lab up --kernel`).
    public func isKernelLab(_ lab: String) -> Bool {
        fileExists(paths(lab).kernelMarker)
    }
}

// The ladder's vertical lines: one per host at the end of a firewall
// interface, and the firewall in the middle. The first interface's host is on
// the left, the others on the right, in header order. Hosts' own addresses are
// not in the header, so a lane shows the addresses seen there: sources of the
// packets that arrived from it, destinations of those sent to it.

import TraceFormat

struct Lane {
    var name: String
    var interfaces: [TraceInterface]
    var addresses: [String] = []
    var isFirewall = false
}

struct Lanes {
    var lanes: [Lane]
    var firewall: Int
    var laneOfInterface: [String: Int]

    /// Most addresses listed under a lane's name; the rest are counted.
    static let maxAddresses = 3

    init(_ trace: Trace) {
        var hosts: [Lane] = []
        for interface in trace.header.interfaces {
            if let i = hosts.firstIndex(where: { $0.name == interface.laneName }) {
                hosts[i].interfaces.append(interface)
            } else {
                hosts.append(Lane(name: interface.laneName, interfaces: [interface]))
            }
        }
        let left = hosts.prefix(1)
        let right = hosts.dropFirst()
        let firewallLane = Lane(name: "firewall", interfaces: trace.header.interfaces, isFirewall: true)
        lanes = Array(left) + [firewallLane] + Array(right)
        firewall = left.count
        var map: [String: Int] = [:]
        for (i, lane) in lanes.enumerated() where !lane.isFirewall {
            for interface in lane.interfaces { map[interface.name] = i }
        }
        laneOfInterface = map
        inferAddresses(trace)
    }

    private mutating func inferAddresses(_ trace: Trace) {
        let own = Set(trace.header.interfaces.flatMap { $0.addresses.map { String($0.split(separator: "/").first ?? "") } })
        var seen: [Int: [String]] = [:]
        func note(_ address: String?, _ interface: String?) {
            guard let address, let interface, let lane = laneOfInterface[interface], !own.contains(address) else { return }
            if !(seen[lane] ?? []).contains(address) { seen[lane, default: []].append(address) }
        }
        for p in trace.packets {
            if p.origin == .received { note(p.packet.src, p.inInterface) }
            if p.verdict == .forward { note(p.sent?.dst, p.outInterface) }
        }
        for (lane, addresses) in seen {
            var shown = Array(addresses.prefix(Lanes.maxAddresses))
            if addresses.count > shown.count { shown.append("+\(addresses.count - shown.count) more") }
            lanes[lane].addresses = shown
        }
    }

    /// The firewall's interfaces on each side of its lifeline.
    var leftInterfaces: [TraceInterface] { lanes[..<firewall].flatMap(\.interfaces) }
    var rightInterfaces: [TraceInterface] { lanes[(firewall + 1)...].flatMap(\.interfaces) }
}

// The ladder's vertical lines: one per host at the end of a firewall
// interface, and the firewall in the middle. The first interface's hosts are
// on the left, the others on the right, in header order. Hosts' own
// addresses are not in the header, so a lane shows the addresses seen there:
// sources of the packets that arrived from it, destinations of those sent to
// it. An interface to an Ethernet segment (the header's "segment") has a
// lane for each host on it, named and addressed as the header says; a packet
// goes to the lane of the host its address belongs to (source when it came
// in, destination when it went out), and one no host claims (another
// address on the segment) to a lane named for the interface, drawn only when
// needed.

import TraceFormat

struct Lane {
    var name: String
    var interfaces: [TraceInterface]
    var addresses: [String] = []
    var isFirewall = false
    /// A host on a segment: its addresses are known, not inferred.
    var isSegmentMember = false
}

struct Lanes {
    var lanes: [Lane]
    var firewall: Int
    /// Interfaces with one lane (a host at the end of a point-to-point link).
    var laneOfInterface: [String: Int]
    /// Segment interfaces: each address of a host on it → the host's lane.
    var laneOfSegmentAddress: [String: [String: Int]] = [:]
    /// Segment interfaces: the lane for addresses no host on it has.
    var otherLaneOfSegment: [String: Int] = [:]

    /// Most addresses listed under a lane's name; the rest are counted.
    static let maxAddresses = 3

    init(_ trace: Trace) {
        // Each interface's lanes, in header order: one host, or each host on the segment (and maybe the others).
        var groups: [[Lane]] = []
        var hosts: [Lane] = []  // point-to-point lanes, merged by host name as before
        var order: [(isSegment: Bool, index: Int)] = []
        for interface in trace.header.interfaces {
            if !interface.segment.isEmpty {
                var group = interface.segment.map {
                    Lane(name: $0.host, interfaces: [interface], addresses: $0.addresses, isSegmentMember: true)
                }
                if Lanes.hasStrangers(trace, on: interface) {
                    group.append(Lane(name: "\(interface.name) (others)", interfaces: [interface]))
                }
                order.append((true, groups.count))
                groups.append(group)
            } else if let i = hosts.firstIndex(where: { $0.name == interface.laneName }) {
                hosts[i].interfaces.append(interface)
            } else {
                order.append((false, hosts.count))
                hosts.append(Lane(name: interface.laneName, interfaces: [interface]))
            }
        }
        let ordered = order.map { $0.isSegment ? groups[$0.index] : [hosts[$0.index]] }
        let left = ordered.prefix(1).flatMap { $0 }
        let right = ordered.dropFirst().flatMap { $0 }
        let firewallLane = Lane(name: "firewall", interfaces: trace.header.interfaces, isFirewall: true)
        lanes = left + [firewallLane] + right
        firewall = left.count
        var map: [String: Int] = [:]
        for (i, lane) in lanes.enumerated() where !lane.isFirewall {
            for interface in lane.interfaces where interface.segment.isEmpty { map[interface.name] = i }
            guard let interface = lane.interfaces.first, !interface.segment.isEmpty else { continue }
            if lane.isSegmentMember {
                for address in lane.addresses { laneOfSegmentAddress[interface.name, default: [:]][address] = i }
            } else {
                otherLaneOfSegment[interface.name] = i
            }
        }
        laneOfInterface = map
        inferAddresses(trace)
    }

    /// The lane of the host a packet came from (`address`: its source) or
    /// went to (its destination) on `interface`.
    func lane(interface: String?, address: String?) -> Int? {
        guard let interface else { return nil }
        if let lane = laneOfInterface[interface] { return lane }
        if let address, let lane = laneOfSegmentAddress[interface]?[address] { return lane }
        return otherLaneOfSegment[interface]
    }

    /// A packet on a segment interface whose address no host there has.
    private static func hasStrangers(_ trace: Trace, on interface: TraceInterface) -> Bool {
        let known = Set(interface.segment.flatMap(\.addresses))
        return trace.packets.contains { p in
            (p.origin == .received && p.inInterface == interface.name && !known.contains(p.packet.src ?? ""))
                || (p.verdict == .forward && p.outInterface == interface.name && !known.contains(p.sent?.dst ?? ""))
        }
    }

    private mutating func inferAddresses(_ trace: Trace) {
        let own = Set(trace.header.interfaces.flatMap { $0.addresses.map { String($0.split(separator: "/").first ?? "") } })
        var seen: [Int: [String]] = [:]
        func note(_ address: String?, _ interface: String?) {
            guard let address, let lane = lane(interface: interface, address: address), !lanes[lane].isSegmentMember,
                  !own.contains(address) else { return }
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

    /// The firewall's interfaces on each side of its lifeline (a segment's once, however many lanes it has).
    var leftInterfaces: [TraceInterface] { Lanes.once(lanes[..<firewall].flatMap(\.interfaces)) }
    var rightInterfaces: [TraceInterface] { Lanes.once(lanes[(firewall + 1)...].flatMap(\.interfaces)) }

    private static func once(_ interfaces: [TraceInterface]) -> [TraceInterface] {
        var names: Set<String> = []
        return interfaces.filter { names.insert($0.name).inserted }
    }
}

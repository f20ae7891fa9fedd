// Counters: per interface received/sent, forwarded, delivered locally,
// generated, and one per drop reason. Plain integers bumped on the packet
// path; `report()` renders them for `tunwall stats`.

import Conntrack

public struct InterfaceCounters: Sendable {
    public var receivedPackets: UInt64 = 0
    public var receivedBytes: UInt64 = 0
    public var sentPackets: UInt64 = 0
    public var sentBytes: UInt64 = 0
}

public struct Statistics: Sendable {
    public var interfaces: [InterfaceCounters]
    public var forwarded: UInt64 = 0
    public var deliveredLocally: UInt64 = 0
    public var generated: UInt64 = 0
    public var drops: [UInt64] = Array(repeating: 0, count: DropReason.allCases.count)
    /// What each helper did, by HelperKind and then by the helper's counter.
    public var helpers: [[UInt64]] = HelperKind.allCases.map {
        Array(repeating: 0, count: HelperRegistry.type($0)?.counters.count ?? 0)
    }
    /// Segments held by a helper until their line completed (not drops).
    public var held: UInt64 = 0
    /// Bytes sent again for a receiver whose ACKs showed it never got what
    /// the firewall had acknowledged for it (HelperStage, OwedBytes).
    public var resentForReceiver: UInt64 = 0
    /// NAT mappings taken back from connections that never got a reply, for
    /// a new connection that found every candidate taken (NATStage).
    public var natReclaimed: UInt64 = 0
    /// Packets this worker read and handed to the worker owning their
    /// connection (or reassembling their datagram); several workers only.
    public var handedOff: UInt64 = 0

    init(interfaceCount: Int) {
        interfaces = Array(repeating: InterfaceCounters(), count: interfaceCount)
    }

    public func dropCount(_ reason: DropReason) -> UInt64 { drops[reason.rawValue] }
    public func helperCount(_ kind: HelperKind, _ counter: Int) -> UInt64 {
        let counts = helpers[Int(kind.rawValue)]
        return counter >= 0 && counter < counts.count ? counts[counter] : 0
    }

    mutating func countHelperEvent(_ event: HelperEvent) {
        let kind = Int(event.helper.rawValue)
        guard event.counter >= 0, event.counter < helpers[kind].count else { return }
        helpers[kind][event.counter] &+= 1
    }
    public var totalDrops: UInt64 { drops.reduce(0, +) }

    /// Adds another worker's counters (several workers: one report for all).
    public mutating func add(_ other: Statistics) {
        for index in interfaces.indices where index < other.interfaces.count {
            interfaces[index].receivedPackets &+= other.interfaces[index].receivedPackets
            interfaces[index].receivedBytes &+= other.interfaces[index].receivedBytes
            interfaces[index].sentPackets &+= other.interfaces[index].sentPackets
            interfaces[index].sentBytes &+= other.interfaces[index].sentBytes
        }
        forwarded &+= other.forwarded
        deliveredLocally &+= other.deliveredLocally
        generated &+= other.generated
        for index in drops.indices where index < other.drops.count { drops[index] &+= other.drops[index] }
        for kind in helpers.indices where kind < other.helpers.count {
            for counter in helpers[kind].indices where counter < other.helpers[kind].count {
                helpers[kind][counter] &+= other.helpers[kind][counter]
            }
        }
        held &+= other.held
        resentForReceiver &+= other.resentForReceiver
        natReclaimed &+= other.natReclaimed
        handedOff &+= other.handedOff
    }
}

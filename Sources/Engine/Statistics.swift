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

    init(interfaceCount: Int) {
        interfaces = Array(repeating: InterfaceCounters(), count: interfaceCount)
    }

    public func dropCount(_ reason: DropReason) -> UInt64 { drops[reason.rawValue] }
    public var totalDrops: UInt64 { drops.reduce(0, +) }
}

// Counters: per interface received/sent, forwarded, delivered locally,
// generated, and one per drop reason. Plain integers bumped on the packet
// path; `report()` renders them for `tunwall stats`.

import Conntrack
import FTP

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
    /// What the FTP helper did, by FTPCounter.
    public var ftp: [UInt64] = Array(repeating: 0, count: FTPCounter.allCases.count)
    /// Segments held by a helper until their line completed (not drops).
    public var held: UInt64 = 0

    init(interfaceCount: Int) {
        interfaces = Array(repeating: InterfaceCounters(), count: interfaceCount)
    }

    public func dropCount(_ reason: DropReason) -> UInt64 { drops[reason.rawValue] }
    public func ftpCount(_ counter: FTPCounter) -> UInt64 { ftp[counter.rawValue] }
    public var totalDrops: UInt64 { drops.reduce(0, +) }
}

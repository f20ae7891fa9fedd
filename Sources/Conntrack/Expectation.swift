// Expectations: connections a helper has been told are coming (Linux's
// nf_conntrack_expect.c). An FTP control connection that announces a data
// port ("PORT 203,0,113,1,195,80") leaves one behind: a TCP connection from
// the server's address, from any source port, to 203.0.113.1:50000. The first
// connection that matches it is RELATED to its master, takes the NAT mapping
// the expectation carries, and uses the expectation up (used once).
//
// Bounded the way Linux bounds them: at most `maximumPerMaster` per control
// connection (a new one evicts the oldest of the same master, as
// nf_ct_expect_related does when max_expected is reached), at most
// `capacity` in all (nf_conntrack_expect_max: further ones are refused),
// and each lives `timeout` seconds (the FTP helper's 300 s). An expectation
// dies with its master: one whose master is gone never matches and is
// never listed.
//
// Example (`conntrack -L expect`, one line):
//   297 proto=6 src=203.0.113.10 dst=203.0.113.1 sport=0 dport=50000
//   mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535
//   master-src=10.0.1.2 master-dst=203.0.113.10 sport=40000 dport=21 class=0 helper=ftp

import Wire

/// The helpers a connection can have (`ct helper set` of a helper object of this type).
public enum HelperKind: UInt8, Sendable, Hashable, CustomStringConvertible, CaseIterable {
    case none = 0
    case ftp = 1
    case tftp = 2

    /// The name Linux's helper goes by (`helper=ftp` in conntrack -L, `type "ftp"` in nft).
    public var description: String {
        switch self {
        case .none: return "none"
        case .ftp: return "ftp"
        case .tftp: return "tftp"
        }
    }

    /// The helper an nft `ct helper` object of this type attaches (nil: none tunwall has).
    public init?(type: String) {
        guard let kind = Self.allCases.first(where: { $0 != .none && $0.description == type }) else { return nil }
        self = kind
    }

    /// The transport the helper reads: FTP's control connection is TCP, TFTP's requests are UDP.
    /// Linux finds no helper for another protocol (nf_conntrack_helper_try_module_get fails).
    public var transport: IPProtocol? {
        switch self {
        case .none: return nil
        case .ftp: return .tcp
        case .tftp: return .udp
        }
    }
}

/// What an expectation matches: protocol, family, both addresses and the
/// destination port exactly; the source port is a wildcard (mask 0).
public struct ExpectationKey: Hashable, Sendable {
    public var source: IPv6Address
    public var destination: IPv6Address
    public var destinationPort: UInt16
    public var `protocol`: IPProtocol
    public var family: AddressFamily

    public init(source: IPv6Address, destination: IPv6Address, destinationPort: UInt16,
                protocol proto: IPProtocol = .tcp, family: AddressFamily) {
        self.source = source
        self.destination = destination
        self.destinationPort = destinationPort
        self.protocol = proto
        self.family = family
    }

    init(_ tuple: ConnTuple) {
        self.init(source: tuple.source, destination: tuple.destination, destinationPort: tuple.destinationPort,
                  protocol: tuple.protocol, family: tuple.family)
    }
}

public struct ConnExpectation: Sendable {
    public var key: ExpectationKey
    /// The master (control) connection: its table position and id, which
    /// must still agree for the expectation to be alive.
    public var masterPosition: Int
    public var masterID: UInt32
    public var masterTuple: ConnTuple
    public var helper: HelperKind
    public var expires: Timestamp
    /// Where the expected connection really goes (nf_nat_follow_master): its
    /// translated original tuple takes this source and destination address
    /// and destination port, and keeps its own source port when free. nil:
    /// the connection is not translated.
    public var translation: (source: IPv6Address, destination: IPv6Address, destinationPort: UInt16)?
    /// Made in the order the table saw them (the oldest of a master goes first).
    public internal(set) var serial: UInt64 = 0

    public init(key: ExpectationKey, masterPosition: Int, masterID: UInt32, masterTuple: ConnTuple,
                helper: HelperKind, expires: Timestamp,
                translation: (source: IPv6Address, destination: IPv6Address, destinationPort: UInt16)? = nil) {
        self.key = key
        self.masterPosition = masterPosition
        self.masterID = masterID
        self.masterTuple = masterTuple
        self.helper = helper
        self.expires = expires
        self.translation = translation
    }

    /// Seconds left, as conntrack prints them.
    public func secondsLeft(now: Timestamp) -> UInt64 {
        expires > now ? (expires - now) / nanosecondsPerSecond : 0
    }
}

/// Why an expectation was not made.
public enum ExpectationRefusal: Error, Sendable, Equatable {
    /// Another master already expects this very connection (Linux: -EBUSY).
    case clash
    /// `capacity` expectations exist (nf_conntrack_expect_max).
    case tableFull
}

public struct ExpectationTable: Sendable {
    /// nf_conntrack_expect_max on this machine's kernel (docs/REFERENCE.md).
    public static let defaultCapacity = 4096
    public var capacity: Int
    /// The FTP helper's max_expected: 1 per control connection.
    public var maximumPerMaster: Int
    private(set) var byKey: [ExpectationKey: ConnExpectation] = [:]
    private var nextSerial: UInt64 = 1
    /// With several workers: the shared directory where each expectation's
    /// key is recorded for this shard, so that the expected connection's
    /// first packet, read by any worker, is handed to the worker whose
    /// helper expects it (SteeringDirectory.swift). nil with one worker.
    public var steering: SteeringMembership? = nil
    var nextSerialNumber: UInt64 { nextSerial }

    public init(capacity: Int = ExpectationTable.defaultCapacity, maximumPerMaster: Int = 1) {
        self.capacity = max(1, capacity)
        self.maximumPerMaster = max(1, maximumPerMaster)
    }

    public var isEmpty: Bool { byKey.isEmpty }
    public var count: Int { byKey.count }

    /// The expectation holding `key`, if any (alive or not).
    public func expectation(_ key: ExpectationKey) -> ConnExpectation? { byKey[key] }

    /// Adds an expectation. The same master expecting the same connection
    /// again (a retransmitted PORT) renews it; one of another master is a clash.
    /// When the master already has `maximumPerMaster`, its oldest goes.
    public mutating func add(_ expectation: ConnExpectation, isAlive: (ConnExpectation) -> Bool) -> Result<Void, ExpectationRefusal> {
        if let existing = byKey[expectation.key], isAlive(existing) {
            guard existing.masterPosition == expectation.masterPosition, existing.masterID == expectation.masterID else {
                return .failure(.clash)
            }
            drop(expectation.key)
        }
        var own = byKey.values.filter {
            $0.masterPosition == expectation.masterPosition && $0.masterID == expectation.masterID
        }
        own.sort { $0.serial < $1.serial }
        // At least one per master, as init's max(1, …) says: `maximumPerMaster` is
        // a public var (FTPSession sets it from FTPPolicy.maxExpected), and 0 or
        // less used to empty `own` and then removeFirst() on nothing (a trap).
        while !own.isEmpty && own.count >= maximumPerMaster {
            drop(own.removeFirst().key)
        }
        if byKey.count >= capacity {
            // Dead ones (master gone, or expired) make room first.
            for stale in byKey.values where !isAlive(stale) { drop(stale.key) }
            guard byKey.count < capacity else { return .failure(.tableFull) }
        }
        var stored = expectation
        stored.serial = nextSerial
        nextSerial &+= 1
        if byKey[stored.key] != nil { drop(stored.key) }
        byKey[stored.key] = stored
        steering?.directory.add(expectation: stored.key, owner: steering?.worker ?? 0)
        return .success(())
    }

    /// Takes out the expectation `key` (used, refused by the server, or replaced).
    @discardableResult
    public mutating func remove(_ key: ExpectationKey) -> ConnExpectation? {
        let removed = byKey.removeValue(forKey: key)
        if removed != nil, let steering { steering.directory.remove(expectation: key, owner: steering.worker) }
        return removed
    }

    /// Removes `key`'s expectation and its word in the directory.
    private mutating func drop(_ key: ExpectationKey) {
        _ = remove(key)
    }

    /// Removes every expectation of one master (its control connection ended or was reset).
    public mutating func removeAll(masterPosition: Int, masterID: UInt32) {
        for e in byKey.values where e.masterPosition == masterPosition && e.masterID == masterID {
            drop(e.key)
        }
    }

    /// Drops the expectations `isAlive` says are dead.
    public mutating func purge(isAlive: (ConnExpectation) -> Bool) {
        for e in byKey.values where !isAlive(e) { drop(e.key) }
    }

    /// The expectations in the order they were made.
    public var all: [ConnExpectation] { byKey.values.sorted { $0.serial < $1.serial } }

    /// The expectations of one master, oldest first.
    public func expectations(masterPosition: Int, masterID: UInt32) -> [ConnExpectation] {
        all.filter { $0.masterPosition == masterPosition && $0.masterID == masterID }
    }
}

extension ConnExpectation {
    /// One `conntrack -L expect` line (conntrack-tools 1.4.7's format).
    public func conntrackLine(now: Timestamp) -> String {
        let ipv4 = key.family == .ipv4
        func text(_ a: IPv6Address) -> String {
            ipv4 ? a.lowIPv4.description : a.description
        }
        let fullMask = ipv4 ? "255.255.255.255" : "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        var line = "\(secondsLeft(now: now)) proto=\(key.protocol.rawValue) "
        line += "src=\(text(key.source)) dst=\(text(key.destination)) sport=0 dport=\(key.destinationPort) "
        line += "mask-src=\(fullMask) mask-dst=\(fullMask) sport=0 dport=65535 "
        line += "master-src=\(masterTuple.sourceAddress) master-dst=\(masterTuple.destinationAddress) "
        line += "sport=\(masterTuple.sourcePort) dport=\(masterTuple.destinationPort) class=0 helper=\(helper)"
        return line
    }
}

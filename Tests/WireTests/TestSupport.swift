// Helpers shared by the Wire tests: a seeded random generator, fixture
// loading, and byte-level conveniences.

import Foundation
import TestSeeds
import Testing
@testable import Wire

/// SplitMix64, seeded through `testSeed` so that a failing fuzz case can be replayed.
typealias SeededRandom = SeededGenerator

/// The lab's address plan (docs/ARCHITECTURE.md): LAN client, WAN server.
let client4 = IPv4Address(10, 0, 1, 2)
let server4 = IPv4Address(203, 0, 113, 10)
let client6 = IPv6Address("fd00:1::2")!
let server6 = IPv6Address("2001:db8:1::10")!

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// The packets of the committed capture (see Fixtures/README.md).
    static func capturedPackets() throws -> [[UInt8]] {
        try PcapReader(bytes: bytes("captured.pcap")).records().map(\.data)
    }
}

/// Parses hex text ("45 00 00 3c ..."; spaces and newlines ignored).
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    var result: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        result.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return result
}

/// Byte-at-a-time RFC 1071 sum, the reference the fast one is checked against.
func referenceSum(_ bytes: [UInt8]) -> UInt16 {
    var acc: UInt32 = 0
    var i = 0
    while i + 1 < bytes.count {
        acc += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
        i += 2
    }
    if i < bytes.count { acc += UInt32(bytes[i]) << 8 }
    while acc > 0xffff { acc = (acc & 0xffff) + (acc >> 16) }
    return UInt16(acc)
}

extension Array where Element == UInt8 {
    func sum() -> UInt16 { withUnsafeBytes { Checksum.sum($0) } }
}

// The pcap reader and writer: round trips, both byte orders and precisions,
// and a typed error for every way a file can be damaged.

import Testing
@testable import Wire

@Suite struct PcapTests {
    static let packets: [[UInt8]] = [
        Packet.tcp(IPv4Address(10, 0, 1, 2), 40000, IPv4Address(203, 0, 113, 10), 21, flags: .syn).encoded(),
        Packet.udp(IPv6Address("fd00:1::2")!, 5000, IPv6Address("2001:db8:1::10")!, 53, payload: [1, 2, 3]).encoded(),
    ]

    @Test(arguments: [PcapTimestampPrecision.microseconds, .nanoseconds])
    func roundTrip(precision: PcapTimestampPrecision) throws {
        var writer = PcapWriter(linkType: .raw, precision: precision)
        writer.append(Self.packets[0], seconds: 1_700_000_000, nanoseconds: 123_456_000)
        writer.append(Self.packets[1], seconds: 1_700_000_001, nanoseconds: 999_999_000)
        let bytes = writer.takeBytes()
        #expect(writer.bytes.isEmpty)
        #expect(bytes.count == 24 + 2 * 16 + Self.packets[0].count + Self.packets[1].count)
        let reader = try PcapReader(bytes: bytes)
        #expect(reader.linkType == .raw && reader.precision == precision && !reader.isBigEndian)
        #expect(reader.versionMajor == 2 && reader.versionMinor == 4)
        let records = try reader.records()
        #expect(records.map(\.data) == Self.packets)
        #expect(records[0].seconds == 1_700_000_000 && records[0].nanoseconds == 123_456_000)
        #expect(records[1].nanoseconds == 999_999_000)
    }

    @Test func readsBigEndianFiles() throws {
        // A big-endian, nanosecond file as a SPARC or POWER host would write it.
        var file = hex("a1b2 3c4d 0002 0004 0000 0000 0000 0000 0000 ffff 0000 0065")
        let packet = Self.packets[0]
        file += hex("6553 f100 0000 0007") + be32(UInt32(packet.count)) + be32(UInt32(packet.count)) + packet
        let reader = try PcapReader(bytes: file)
        #expect(reader.isBigEndian && reader.precision == .nanoseconds && reader.linkType == .raw)
        #expect(reader.snapshotLength == 65535)
        let records = try reader.records()
        #expect(records.count == 1 && records[0].data == packet)
        #expect(records[0].seconds == 0x6553_f100 && records[0].nanoseconds == 7)
    }

    @Test func snapshotLengthCutsRecords() throws {
        var writer = PcapWriter(snapshotLength: 20)
        writer.append(Self.packets[0], seconds: 0, nanoseconds: 0)
        let record = try PcapReader(bytes: writer.bytes).records()[0]
        #expect(record.data.count == 20 && record.originalLength == 40)
    }

    @Test func damagedFiles() throws {
        var writer = PcapWriter()
        writer.append(Self.packets[0], seconds: 0, nanoseconds: 0)
        let good = writer.bytes
        #expect(throws: PcapError.truncatedFileHeader(available: 10)) { try PcapReader(bytes: Array(good.prefix(10))) }
        #expect(throws: PcapError.truncatedFileHeader(available: 0)) { try PcapReader(bytes: []) }
        #expect(throws: PcapError.notPcap(magic: 0x6d6f_7266)) { try PcapReader(bytes: Array("from a text file, not pcap".utf8)) }
        #expect(throws: PcapError.notPcap(magic: 0x4b03_0201)) { try PcapReader(bytes: [1, 2, 3, 0x4b]) }
        let cutHeader = Array(good.prefix(24 + 10))
        #expect(throws: PcapError.truncatedRecordHeader(index: 0, offset: 24)) { try PcapReader(bytes: cutHeader).records() }
        let cutData = Array(good.dropLast(3))
        #expect(throws: PcapError.truncatedRecord(index: 0, offset: 24, needed: 40, available: 37)) {
            try PcapReader(bytes: cutData).records()
        }
        var huge = good
        huge[24 + 8 ..< 24 + 12] = [0xff, 0xff, 0xff, 0x7f]
        #expect(throws: PcapError.recordTooLarge(index: 0, offset: 24, length: 0x7fff_ffff)) {
            try PcapReader(bytes: huge).records()
        }
        // The iterator yields the whole records, then stops and keeps the error.
        var iterator = try PcapReader(bytes: good + Array(good.dropFirst(24).dropLast(1))).makeIterator()
        #expect(iterator.next() != nil)
        #expect(iterator.next() == nil)
        #expect(iterator.error == .truncatedRecord(index: 1, offset: 80, needed: 40, available: 39))
    }

    private func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
    }
}

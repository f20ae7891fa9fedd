// The pcapng writer and reader: interface names and packet directions survive
// a round trip, the blocks have the lengths the format requires (a reader
// walks them by their lengths), and a damaged file keeps the packets before
// the damage with a typed error, never a trap.

import Testing
@testable import Wire

@Suite struct PcapngTests {
    static let packets = PcapTests.packets

    static func capture() -> [UInt8] {
        var writer = PcapngWriter(interfaceNames: ["lan0", "wan0"])
        writer.append(packets[0], interface: 0, direction: .inbound, seconds: 1_700_000_000, nanoseconds: 123_456_789)
        writer.append(packets[0], interface: 1, direction: .outbound, seconds: 1_700_000_000, nanoseconds: 123_457_000)
        writer.append(packets[1], interface: 1, direction: .inbound, seconds: 1_700_000_001, nanoseconds: 5)
        return writer.takeBytes()
    }

    @Test func roundTripKeepsInterfacesAndDirections() throws {
        let bytes = Self.capture()
        #expect(PcapngReader.isPcapng(bytes) && bytes.count % 4 == 0)
        let reader = try PcapngReader(bytes: bytes)
        #expect(reader.error == nil)
        #expect(reader.interfaces.map(\.name) == ["lan0", "wan0"])
        #expect(reader.interfaces.allSatisfy { $0.linkType == .raw && $0.unitsPerSecond == 1_000_000_000 })
        #expect(reader.packets.map(\.interface) == [0, 1, 1])
        #expect(reader.packets.map(\.direction) == [.inbound, .outbound, .inbound])
        #expect(reader.packets.map(\.record.data) == [Self.packets[0], Self.packets[0], Self.packets[1]])
        #expect(reader.packets[0].record.seconds == 1_700_000_000 && reader.packets[0].record.nanoseconds == 123_456_789)
        #expect(reader.packets[2].record.nanoseconds == 5)
    }

    /// Every block ends with its own total length, equal to the one it starts with.
    @Test func blockLengthsAgree() {
        let bytes = Self.capture()
        var offset = 0
        var blocks = 0
        while offset + 8 <= bytes.count {
            let total = Int(PcapReader.u32(bytes, offset + 4, bigEndian: false))
            #expect(total % 4 == 0 && offset + total <= bytes.count)
            guard total >= 12, offset + total <= bytes.count else { break }
            #expect(PcapReader.u32(bytes, offset + total - 4, bigEndian: false) == UInt32(total))
            offset += total
            blocks += 1
        }
        #expect(offset == bytes.count && blocks == 1 + 2 + 3)
    }

    @Test func damagedFilesKeepWhatCameBefore() throws {
        let bytes = Self.capture()
        for cut in stride(from: 4, to: bytes.count, by: 7) {  // fewer than 4 bytes are no pcapng at all
            let reader = try PcapngReader(bytes: Array(bytes.prefix(cut)))
            #expect(reader.error != nil || cut == bytes.count, "cut at \(cut)")
            #expect(reader.packets.count <= 3)
        }
        let cutInThird = try PcapngReader(bytes: Array(bytes.dropLast(3)))
        #expect(cutInThird.packets.count == 2 && cutInThird.error != nil)
        #expect(throws: PcapError.self) { try PcapngReader(bytes: Array("not a capture".utf8)) }
    }

    /// Interface ids count from 0 in each section (pcapng 4.1); a packet's
    /// `interface` indexes all the file's interfaces, so a packet of the
    /// first section keeps naming its own interface after a second section
    /// (the fuzzer found the first section's packets pointing past the list).
    @Test func secondSectionKeepsTheFirstSectionsInterfaces() throws {
        var second = PcapngWriter(interfaceNames: ["dmz0"])
        second.append(Self.packets[1], interface: 0, direction: .outbound, seconds: 1_700_000_002, nanoseconds: 0)
        let reader = try PcapngReader(bytes: Self.capture() + second.takeBytes())
        #expect(reader.error == nil)
        #expect(reader.interfaces.map(\.name) == ["lan0", "wan0", "dmz0"])
        #expect(reader.packets.map(\.interface) == [0, 1, 1, 2])
        #expect(reader.packets.allSatisfy { $0.interface < reader.interfaces.count })
    }
}

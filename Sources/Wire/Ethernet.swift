// Ethernet II framing as a TAP device (IFF_TAP) reads and writes it: a
// 14-byte header of destination MAC, source MAC and EtherType, then the
// payload (IEEE 802.3 clause 3.1.1; no preamble and no FCS: the kernel adds
// and strips them). 802.1Q/802.1ad tags (0x8100, 0x88a8) sit where the
// EtherType would be; tunwall refuses tagged frames (Engine's LinkStage).
//
// Example: ff:ff:ff:ff:ff:ff 02:00:00:00:00:02 0806 → an ARP request from
// 02:00:00:00:00:02 to everyone on the segment.

/// A 48-bit IEEE 802 MAC address, held in the low 48 bits of a UInt64 so
/// that comparing and hashing one costs one integer operation.
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value & 0xffff_ffff_ffff }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
        self.init(UInt64(a) << 40 | UInt64(b) << 32 | UInt64(c) << 24 | UInt64(d) << 16 | UInt64(e) << 8 | UInt64(f))
    }

    /// "02:00:5e:10:00:01" (six hex pairs separated by colons, either case).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var value: UInt64 = 0
        for part in parts {
            guard part.utf8.count == 2 else { return nil }
            for digit in part.utf8 {
                guard let nibble = Self.hexValue(digit) else { return nil }
                value = value << 4 | nibble
            }
        }
        self.init(value)
    }

    private static func hexValue(_ digit: UInt8) -> UInt64? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(truncatingIfNeeded: digit &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt64(truncatingIfNeeded: digit &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt64(truncatingIfNeeded: digit &- UInt8(ascii: "A") &+ 10)
        default: return nil
        }
    }

    /// Reads six bytes at `offset`; the caller checked they are there.
    public init(loadingFrom bytes: UnsafeRawBufferPointer, at offset: Int) {
        var value: UInt64 = 0
        for index in offset..<offset + 6 { value = value << 8 | UInt64(bytes[index]) }
        self.init(value)
    }

    public func store(to bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        for index in 0..<6 {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(40 - 8 * index))
        }
    }

    public static let broadcast = MACAddress(0xffff_ffff_ffff)
    public static let zero = MACAddress(0)

    /// The I/G bit (bit 0 of the first octet): a group (multicast or broadcast) address.
    @inlinable public var isMulticast: Bool { value & 0x0100_0000_0000 != 0 }
    @inlinable public var isBroadcast: Bool { value == 0xffff_ffff_ffff }

    /// RFC 2464 §7: an IPv6 multicast address maps to 33:33 and its last 32 bits.
    public init(ipv6Multicast address: IPv6Address) {
        self.init(0x3333_0000_0000 | (address.low & 0xffff_ffff))
    }

    /// RFC 1112 §6.4: an IPv4 multicast address maps to 01:00:5e and its low 23 bits.
    public init(ipv4Multicast address: IPv4Address) {
        self.init(0x0100_5e00_0000 | UInt64(address.value & 0x7f_ffff))
    }

    /// A locally administered unicast address (the U/L bit set, I/G clear:
    /// IEEE 802 clause 8.2; first octet 02) made from a name by FNV-1a, so
    /// that the same interface name gets the same MAC every run.
    public static func derived(from name: String) -> MACAddress {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return MACAddress(0x0200_0000_0000 | (hash & 0xffff_ffff))
    }

    /// "02:00:5e:10:00:01", as `ip link` prints it.
    public var description: String {
        var text = ""
        text.reserveCapacity(17)
        for index in 0..<6 {
            if index > 0 { text += ":" }
            let byte = UInt8(truncatingIfNeeded: value >> UInt64(40 - 8 * index))
            if byte < 16 { text += "0" }
            text += String(byte, radix: 16)
        }
        return text
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.value < rhs.value }
}

/// EtherType values (IEEE 802 numbers, if_ether.h).
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let ipv6: UInt16 = 0x86dd
    /// 802.1Q customer tag and 802.1ad service tag.
    public static let vlan: UInt16 = 0x8100
    public static let qinq: UInt16 = 0x88a8
}

/// The 14-byte Ethernet II header.
public struct EthernetHeader: Hashable, Sendable {
    public static let length = 14

    public var destination: MACAddress
    public var source: MACAddress
    public var type: UInt16

    public init(destination: MACAddress, source: MACAddress, type: UInt16) {
        self.destination = destination
        self.source = source
        self.type = type
    }

    /// Nil when fewer than 14 bytes are there.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        destination = MACAddress(loadingFrom: bytes, at: 0)
        source = MACAddress(loadingFrom: bytes, at: 6)
        type = bytes.be16(12)
    }

    /// Writes the header into the first 14 bytes (the caller made room).
    public func store(to bytes: UnsafeMutableRawBufferPointer) {
        destination.store(to: bytes, at: 0)
        source.store(to: bytes, at: 6)
        bytes.setBE16(type, at: 12)
    }
}

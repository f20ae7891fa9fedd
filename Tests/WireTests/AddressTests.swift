// Tests for IPv4Address, IPv6Address, IPAddress and the prefix types:
// text round trips, RFC 5952 canonical output, strict rejection of bad text,
// network-order load/store, prefix containment at the edges, and randomized
// round-trip and no-trap checks. On glibc the parsers are also compared with
// inet_pton, whose strict behaviour they are specified to match.

import Testing
@testable import Wire
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Helpers

private func v4(_ s: String) -> IPv4Address? { IPv4Address(s) }
private func v6(_ s: String) -> IPv6Address? { IPv6Address(s) }

/// Random IPv6 addresses biased toward zero groups and short groups, so that
/// the "::" choice, ties and single zero groups all come up often.
private func randomIPv6(_ rng: inout SeededRandom) -> IPv6Address {
    switch rng.below(8) {
    case 0:
        return IPv6Address(ipv4Mapped: IPv4Address(UInt32(truncatingIfNeeded: rng.next())))
    case 1:
        return IPv6Address(high: rng.next(), low: rng.next())
    default:
        var g = [UInt16](repeating: 0, count: 8)
        for k in 0..<8 {
            switch rng.below(4) {
            case 0, 1: g[k] = 0
            case 2: g[k] = UInt16(truncatingIfNeeded: rng.next() & 0xF)
            default: g[k] = UInt16(truncatingIfNeeded: rng.next())
            }
        }
        return IPv6Address(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7])
    }
}

/// Random strings that look like addresses, mutated: these reach far deeper
/// into the parsers than uniformly random characters do.
private func nearMissString(_ rng: inout SeededRandom) -> String {
    var s: [Character]
    if rng.below(2) == 0 {
        s = Array(IPv4Address(UInt32(truncatingIfNeeded: rng.next())).description)
    } else {
        s = Array(randomIPv6(&rng).description)
    }
    let alphabet = Array("0123456789abcdefABCDEF:.%/ x")
    for _ in 0..<rng.below(3) {
        let op = rng.below(3)
        if op == 0 || s.isEmpty {
            s.insert(alphabet[rng.below(alphabet.count)], at: rng.below(s.count + 1))
        } else if op == 1 {
            s.remove(at: rng.below(s.count))
        } else {
            s[rng.below(s.count)] = alphabet[rng.below(alphabet.count)]
        }
    }
    return String(s)
}

@Suite struct AddressTests {
    // MARK: - IPv4 text

    @Test func ipv4RoundTrips() {
        let good = [
            "0.0.0.0", "255.255.255.255", "10.0.1.2", "127.0.0.1", "192.168.100.200",
            "1.2.3.4", "100.64.0.1", "224.0.0.251", "8.8.8.8", "172.16.254.1",
            "9.99.199.249", "0.0.0.1", "1.0.0.0", "203.0.113.255", "198.51.100.0",
        ]
        for s in good {
            let a = v4(s)
            #expect(a != nil, "\(s)")
            #expect(a?.description == s)
        }
        #expect(v4("10.0.1.2")?.value == 0x0A00_0102)
        #expect(IPv4Address(10, 0, 1, 2) == IPv4Address(0x0A00_0102))
        #expect(IPv4Address(0x0A00_0102).description == "10.0.1.2")
        #expect(IPv4Address.any.description == "0.0.0.0")
        #expect(IPv4Address.broadcast.description == "255.255.255.255")
    }

    @Test func ipv4Rejects() {
        let bad = [
            "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.256.1.1", "1.1.1.256", "01.2.3.4",
            "1.2.3.04", "1.2.3.00", "00.0.0.0", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4/", "1.2.3.4/32",
            "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4.", "a.b.c.d", "0x1.2.3.4", "1.2.3.-4",
            "+1.2.3.4", "1.2.3.4%eth0", "1234.1.1.1", "1000.0.0.0", "4294967295", "16909060",
            "1.2.3.4:80", "::1.2.3.4", "1,2,3,4", "1.2.3.4\n", "1.2.3.4\0", "१.2.3.4",
            "999.999.999.999", "1.2.3.0004", "0000000001.2.3.4", "1.2.3.4x", "1 .2.3.4",
        ]
        for s in bad {
            #expect(v4(s) == nil, "\(s.debugDescription) should be rejected")
        }
    }

    @Test func ipv4Properties() {
        #expect(v4("224.0.0.1")!.isMulticast)
        #expect(v4("239.255.255.255")!.isMulticast)
        #expect(!v4("223.255.255.255")!.isMulticast)
        #expect(!v4("240.0.0.0")!.isMulticast)
        #expect(v4("127.0.0.1")!.isLoopback)
        #expect(v4("127.255.255.254")!.isLoopback)
        #expect(!v4("128.0.0.1")!.isLoopback)
        #expect(IPv4Address.any.isUnspecified)
        #expect(!v4("0.0.0.1")!.isUnspecified)
        #expect(IPv4Address.broadcast.isBroadcast)
        #expect(!v4("255.255.255.254")!.isBroadcast)
        let o = v4("10.20.30.40")!.octets
        #expect(o.0 == 10 && o.1 == 20 && o.2 == 30 && o.3 == 40)
        #expect(v4("10.0.0.1")! < v4("10.0.0.2")!)
        #expect(v4("9.255.255.255")! < v4("10.0.0.0")!)
        #expect(Set([v4("1.2.3.4")!, IPv4Address(1, 2, 3, 4)]).count == 1)
    }

    // MARK: - IPv6 text

    @Test func ipv6RoundTripsCanonical() {
        // Already canonical per RFC 5952: must print back unchanged.
        let canonical = [
            "::", "::1", "1::", "2001:db8::1", "2001:db8::2:1", "2001:db8:0:1:1:1:1:1",
            "2001:db8::1:0:0:1", "fe80::1", "ff02::1:ff00:1", "1:2:3:4:5:6:7:8",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "1:0:2::", "::2:0:3", "1::2",
            "2001:db8:85a3::8a2e:370:7334", "::ffff:192.0.2.1", "::ffff:0.0.0.0",
            "64:ff9b::102:304", "100::", "fd00:1234:5678:9abc:def0::1", "0:1::",
            "1:0:0:2::", "1:2:3:4:5:6:0:8", "1:2:3:4:5:6::", "::3:4:5:6:7:8",
            "2001:db8:0:0:1::", "::ffff:0.1.0.2", "::fffe:102:304", "1:ffff::102:304",
        ]
        for s in canonical {
            let a = v6(s)
            #expect(a != nil, "\(s)")
            #expect(a?.description == s, "\(s) printed as \(a?.description ?? "nil")")
        }
    }

    @Test func ipv6RFC5952Examples() {
        let cases: [(String, String)] = [
            // §2.1-2.4 variations of the same addresses.
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8::1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8::0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0db8::1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8:0:0:1::1", "2001:db8::1:0:0:1"),
            ("2001:db8:0000:0:1::1", "2001:db8::1:0:0:1"),
            ("2001:DB8:0:0:1::1", "2001:db8::1:0:0:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:01", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd::1", "2001:db8:aaaa:bbbb:cccc:dddd:0:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:0:1", "2001:db8:aaaa:bbbb:cccc:dddd:0:1"),
            ("2001:db8:0:0:0::1", "2001:db8::1"),
            ("2001:db8:0:0::1", "2001:db8::1"),
            ("2001:db8:0::1", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8::aaaa:0:0:1", "2001:db8::aaaa:0:0:1"),
            ("2001:db8:0:0:aaaa::1", "2001:db8::aaaa:0:0:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:AAAA", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:AaAa", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa"),
            // §4.1 leading zeros; §4.2.1 shorten as much as possible.
            ("2001:0db8::0001", "2001:db8::1"),
            ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),
            ("2001:0db8:0:0:0:0:2:1", "2001:db8::2:1"),
            ("2001:db8::0:1", "2001:db8::1"),
            // §4.2.2 a single 16-bit 0 field is not shortened.
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            // §4.2.3 longest run wins; first one on a tie.
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
            ("0:0:1:0:0:0:0:2", "0:0:1::2"),
            ("0:0:1:2:3:4:0:0", "::1:2:3:4:0:0"),
            // §4.3 lowercase.
            ("2001:DB8::ABCD:EF", "2001:db8::abcd:ef"),
            ("FE80::1", "fe80::1"),
            ("FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            // Edges of "::".
            ("0:0:0:0:0:0:0:0", "::"),
            ("0:0:0:0:0:0:0:1", "::1"),
            ("1:0:0:0:0:0:0:0", "1::"),
            ("::0", "::"),
            ("0::", "::"),
            ("::0:0:0:0:0:0:0", "::"),
            ("1:0:0:0:0:0:0:1", "1::1"),
            ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
            ("1:2:3:4:5:6::8", "1:2:3:4:5:6:0:8"),
            ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
            // §5 IPv4-mapped printed with a dotted quad, however it was written.
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("::FFFF:192.0.2.1", "::ffff:192.0.2.1"),
            ("::ffff:c000:0201", "::ffff:192.0.2.1"),
            ("::ffff:1:2", "::ffff:0.1.0.2"),
            ("0:0:0:0:0:ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("0:0:0:0:0:FFFF:c000:201", "::ffff:192.0.2.1"),
            // Other embedded IPv4 is accepted but printed as hex.
            ("64:ff9b::1.2.3.4", "64:ff9b::102:304"),
            ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
            ("::1.2.3.4", "::102:304"),
            ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
            ("::0.0.0.0", "::"),
            ("::0.0.0.1", "::1"),
        ]
        for (input, expected) in cases {
            let a = v6(input)
            #expect(a != nil, "\(input)")
            #expect(a?.description == expected, "\(input) printed as \(a?.description ?? "nil")")
            if let a { #expect(v6(expected) == a) }
        }
    }

    @Test func ipv6Values() {
        #expect(v6("2001:db8::")?.high == 0x2001_0db8_0000_0000)
        #expect(v6("2001:db8::")?.low == 0)
        let a = v6("1:2:3:4:5:6:7:8")!
        #expect(a == IPv6Address(1, 2, 3, 4, 5, 6, 7, 8))
        #expect(a.high == 0x0001_0002_0003_0004 && a.low == 0x0005_0006_0007_0008)
        for i in 0...7 { #expect(a.group(i) == UInt16(i + 1)) }
        // Out-of-range indices return 0 instead of trapping.
        #expect(a.group(-1) == 0 && a.group(8) == 0 && a.group(.max) == 0 && a.group(.min) == 0)
        #expect(IPv6Address.any == v6("::") && IPv6Address.any.description == "::")
        #expect(IPv6Address.loopback == v6("::1") && IPv6Address.loopback.description == "::1")
        #expect(v6("::ffff:1.2.3.4") == IPv6Address(ipv4Mapped: IPv4Address(1, 2, 3, 4)))
        #expect(v6("::ffff:1.2.3.4")?.ipv4Mapped == IPv4Address(1, 2, 3, 4))
        #expect(v6("::fffe:1.2.3.4")?.ipv4Mapped == nil)
        #expect(v6("64:ff9b::1.2.3.4") == IPv6Address(0x64, 0xff9b, 0, 0, 0, 0, 0x0102, 0x0304))
        #expect(v6("ABCD:abcd:AbCd::") == v6("abcd:abcd:abcd::"))
    }

    @Test func ipv6Rejects() {
        let bad = [
            "", ":", ":::", "::::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", "::1::",
            ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", ":1::", "1::2:", "12345::", "::12345",
            "00000::", "fe80::1%eth0", "fe80::1%1", "fe80::%eth0", "::ffff:1.2.3", "::ffff:1.2.3.4.5",
            "::ffff:256.1.2.3", "::ffff:01.2.3.4", "::1.2.3.4:5", "1.2.3.4::", "::1.2.3.4.",
            "1:2:3:4:5:6:7:1.2.3.4", "::1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
            "1:2:3:4::5:6:7:8", "g::", "::g", "1:2:3:4:5:6:7:g", " ::1", "::1 ", ":: 1", "::1/128",
            "[::1]", "::-1", "+1::", "0x1::", "1:2:3:4:5:6:7:8 ", "1.2.3.4", "2001:db8:::1",
            "::ffff:1a.2.3.4", "::ffff:.1.2.3", "1:2:3:4:5:6:7:8%eth0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:0",
            "1::2::", "::\u{0}", "fe80::１",
        ]
        for s in bad {
            #expect(v6(s) == nil, "\(s.debugDescription) should be rejected")
        }
    }

    @Test func ipv6Properties() {
        #expect(v6("ff02::1")!.isMulticast)
        #expect(v6("ff00::")!.isMulticast)
        #expect(!v6("fe80::1")!.isMulticast)
        #expect(v6("fe80::1")!.isLinkLocal)
        #expect(v6("febf:ffff::1")!.isLinkLocal)
        #expect(!v6("fec0::1")!.isLinkLocal)
        #expect(!v6("fe7f::1")!.isLinkLocal)
        #expect(IPv6Address.loopback.isLoopback)
        #expect(!v6("::2")!.isLoopback)
        #expect(!v6("1::1")!.isLoopback)
        #expect(IPv6Address.any.isUnspecified)
        #expect(!IPv6Address.loopback.isUnspecified)
        #expect(v6("::ffff:0.0.0.0")!.isIPv4Mapped)
        #expect(v6("::ffff:255.255.255.255")!.isIPv4Mapped)
        #expect(!v6("::fffe:1.2.3.4")!.isIPv4Mapped)
        #expect(!v6("1::ffff:1.2.3.4")!.isIPv4Mapped)
        #expect(!v6("::1:ffff:1.2.3.4")!.isIPv4Mapped)
        #expect(v6("::1")! < v6("::2")!)
        #expect(v6("::ffff:ffff:ffff:ffff")! < v6("0:0:0:1::")!)
        #expect(!(v6("1::")! < v6("1::")!))
    }

    @Test func ipAddressEnum() {
        #expect(IPAddress("10.0.0.1") == .v4(IPv4Address(10, 0, 0, 1)))
        #expect(IPAddress("::1") == .v6(.loopback))
        #expect(IPAddress("::ffff:10.0.0.1") == .v6(IPv6Address(ipv4Mapped: IPv4Address(10, 0, 0, 1))))
        #expect(IPAddress("10.0.0.1")?.description == "10.0.0.1")
        #expect(IPAddress("2001:DB8::1")?.description == "2001:db8::1")
        #expect(IPAddress("10.0.0.1")!.isV4 && IPAddress("::")!.isV6)
        for bad in ["", "1.2.3", "::1::", "10.0.0.1/8", "fe80::1%eth0", "localhost"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
        #expect(IPAddress.v4(.any) != IPAddress.v6(.any))
    }

    // MARK: - Load and store

    @Test func ipv4LoadStore() {
        var bytes: [UInt8] = [0xEE, 10, 0, 1, 2, 0xEE, 0xEE]
        let a = bytes.withUnsafeBytes { IPv4Address(loadingFrom: $0, at: 1) }
        #expect(a == IPv4Address(10, 0, 1, 2))
        // Odd offsets exercise unaligned access.
        bytes.withUnsafeMutableBytes { IPv4Address(192, 168, 255, 1).store(to: $0, at: 3) }
        #expect(bytes == [0xEE, 10, 0, 192, 168, 255, 1])
        var rng = SeededRandom(testSeed: 4)
        var buffer = [UInt8](repeating: 0, count: 11)
        for _ in 0..<1000 {
            let address = IPv4Address(UInt32(truncatingIfNeeded: rng.next()))
            let offset = rng.below(8)
            buffer.withUnsafeMutableBytes { address.store(to: $0, at: offset) }
            #expect(Array(buffer[offset..<offset + 4]) == [address.octets.0, address.octets.1,
                                                              address.octets.2, address.octets.3])
            #expect(buffer.withUnsafeBytes { IPv4Address(loadingFrom: $0, at: offset) } == address)
        }
    }

    @Test func ipv6LoadStore() {
        let wire: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        let a = ([0xAA] + wire).withUnsafeBytes { IPv6Address(loadingFrom: $0, at: 1) }
        #expect(a == v6("2001:db8::1"))
        var out = [UInt8](repeating: 0xAA, count: 19)
        out.withUnsafeMutableBytes { a.store(to: $0, at: 3) }
        #expect(Array(out[3..<19]) == wire)
        #expect(out[0..<3] == [0xAA, 0xAA, 0xAA])
        var rng = SeededRandom(testSeed: 6)
        var buffer = [UInt8](repeating: 0, count: 23)
        for _ in 0..<1000 {
            let address = IPv6Address(high: rng.next(), low: rng.next())
            let offset = rng.below(8)
            buffer.withUnsafeMutableBytes { address.store(to: $0, at: offset) }
            for g in 0..<8 {
                let expected = [UInt8(address.group(g) >> 8), UInt8(address.group(g) & 0xFF)]
                #expect(Array(buffer[offset + 2 * g..<offset + 2 * g + 2]) == expected)
            }
            #expect(buffer.withUnsafeBytes { IPv6Address(loadingFrom: $0, at: offset) } == address)
        }
    }

    // MARK: - Prefixes

    @Test func ipv4PrefixParsingAndHostBits() {
        let p = IPv4Prefix("10.0.1.0/24")!
        #expect(p.network == IPv4Address(10, 0, 1, 0) && p.length == 24)
        #expect(p.description == "10.0.1.0/24")
        #expect(p.mask == 0xFFFF_FF00)
        #expect(p.lastAddress == IPv4Address(10, 0, 1, 255))
        // Host bits are cleared, both from text and from the initializer.
        #expect(IPv4Prefix("10.0.1.77/24") == p)
        #expect(IPv4Prefix("10.0.1.77/24")?.description == "10.0.1.0/24")
        #expect(IPv4Prefix(address: IPv4Address(10, 0, 1, 200), length: 24) == p)
        #expect(IPv4Prefix(address: .broadcast, length: 0)?.description == "0.0.0.0/0")
        #expect(IPv4Prefix(address: .broadcast, length: 1)?.description == "128.0.0.0/1")
        #expect(IPv4Prefix(address: .broadcast, length: 31)?.description == "255.255.255.254/31")
        #expect(IPv4Prefix(address: .broadcast, length: 32)?.description == "255.255.255.255/32")
        #expect(IPv4Prefix(address: .any, length: 33) == nil)
        #expect(IPv4Prefix(address: .any, length: -1) == nil)
        #expect(IPv4Prefix(address: .any, length: .max) == nil)
        #expect(IPv4Prefix(address: .any, length: .min) == nil)
        // A bare address is a /32.
        #expect(IPv4Prefix("1.2.3.4") == IPv4Prefix(address: IPv4Address(1, 2, 3, 4), length: 32))
        #expect(IPv4Prefix("1.2.3.4")?.description == "1.2.3.4/32")
        #expect(IPv4Prefix("0.0.0.0/0")?.mask == 0)
        #expect(IPv4Prefix("0.0.0.0/32")?.mask == .max)
        #expect(IPv4Prefix("0.0.0.0/1")?.mask == 0x8000_0000)
        for length in 0...32 {
            #expect(IPv4Prefix("255.255.255.255/\(length)")?.mask.nonzeroBitCount == length)
        }
        let bad = [
            "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/08", "10.0.0.0/00", "/24", "/", "", "10.0.0.0/",
            "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/8 ", "10.0.0.0//8", "10.0.0.0/8/8", "10.0.0/8",
            "10.0.0.0/100", "10.0.0.0/0008", "10.0.0.0/1e1", "10.0.0.0/x", "010.0.0.0/8",
            "10.0.0.0 /8", "::/0", "10.0.0.0/99999999999999999999999",
        ]
        for s in bad {
            #expect(IPv4Prefix(s) == nil, "\(s.debugDescription) should be rejected")
        }
    }

    @Test func ipv4PrefixContainment() {
        let all = IPv4Prefix("0.0.0.0/0")!
        #expect(all.contains(.any) && all.contains(.broadcast))
        #expect(all.contains(IPv4Prefix("10.0.0.0/8")!) && all.contains(all))

        let half = IPv4Prefix("128.0.0.0/1")!
        #expect(half.contains(IPv4Address(128, 0, 0, 0)) && half.contains(.broadcast))
        #expect(!half.contains(IPv4Address(127, 255, 255, 255)) && !half.contains(.any))

        let p24 = IPv4Prefix("10.0.1.0/24")!
        #expect(p24.contains(IPv4Address(10, 0, 1, 0)) && p24.contains(IPv4Address(10, 0, 1, 255)))
        #expect(!p24.contains(IPv4Address(10, 0, 0, 255)) && !p24.contains(IPv4Address(10, 0, 2, 0)))

        let p31 = IPv4Prefix("192.0.2.4/31")!
        #expect(p31.contains(IPv4Address(192, 0, 2, 4)) && p31.contains(IPv4Address(192, 0, 2, 5)))
        #expect(!p31.contains(IPv4Address(192, 0, 2, 3)) && !p31.contains(IPv4Address(192, 0, 2, 6)))

        let host = IPv4Prefix("192.0.2.4/32")!
        #expect(host.contains(IPv4Address(192, 0, 2, 4)))
        #expect(!host.contains(IPv4Address(192, 0, 2, 5)) && !host.contains(IPv4Address(192, 0, 2, 3)))
        #expect(IPv4Prefix("255.255.255.255/32")!.contains(.broadcast))
        #expect(IPv4Prefix("0.0.0.0/32")!.contains(.any))
        #expect(!IPv4Prefix("0.0.0.0/32")!.contains(IPv4Address(0, 0, 0, 1)))

        // Prefix in prefix: a block contains itself and narrower blocks inside it.
        #expect(p24.contains(p24) && p24.contains(IPv4Prefix("10.0.1.128/25")!))
        #expect(p24.contains(IPv4Prefix("10.0.1.255/32")!))
        #expect(!p24.contains(IPv4Prefix("10.0.0.0/23")!))
        #expect(!p24.contains(IPv4Prefix("10.0.2.0/24")!))
        #expect(!p31.contains(IPv4Prefix("192.0.2.4/30")!) && p31.contains(host))
        #expect(!host.contains(p31))
    }

    @Test func ipv6PrefixParsingAndHostBits() {
        let p = IPv6Prefix("2001:db8::/32")!
        #expect(p.network == v6("2001:db8::") && p.length == 32)
        #expect(p.description == "2001:db8::/32")
        #expect(p.mask == v6("ffff:ffff::"))
        #expect(p.lastAddress == v6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"))
        #expect(IPv6Prefix("2001:DB8:1:2::ff/32") == p)
        #expect(IPv6Prefix(address: v6("2001:db8:ffff::1")!, length: 32) == p)
        let ones = v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!
        #expect(IPv6Prefix(address: ones, length: 0)?.description == "::/0")
        #expect(IPv6Prefix(address: ones, length: 1)?.description == "8000::/1")
        #expect(IPv6Prefix(address: ones, length: 63)?.description == "ffff:ffff:ffff:fffe::/63")
        #expect(IPv6Prefix(address: ones, length: 64)?.description == "ffff:ffff:ffff:ffff::/64")
        #expect(IPv6Prefix(address: ones, length: 65)?.description == "ffff:ffff:ffff:ffff:8000::/65")
        #expect(IPv6Prefix(address: ones, length: 127)?.description
                == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127")
        #expect(IPv6Prefix(address: ones, length: 128)?.network == ones)
        #expect(IPv6Prefix(address: ones, length: 129) == nil)
        #expect(IPv6Prefix(address: ones, length: -1) == nil)
        #expect(IPv6Prefix("::1") == IPv6Prefix(address: .loopback, length: 128))
        #expect(IPv6Prefix("::1")?.description == "::1/128")
        #expect(IPv6Prefix("::ffff:10.0.0.0/104")?.description == "::ffff:10.0.0.0/104")
        for length in 0...128 {
            let m = IPv6Prefix("::/\(length)")!.mask
            #expect(m.high.nonzeroBitCount + m.low.nonzeroBitCount == length)
        }
        let bad = [
            "::/129", "::/-1", "::/08", "::/00", "/64", "::/", "::/+1", "::/ 64", "::/64/64",
            "fe80::1%eth0/64", "2001:db8::/1000", "1.2.3.4/129", "[::]/0", "2001:db8:/32", "::/0x10",
        ]
        for s in bad {
            #expect(IPv6Prefix(s) == nil, "\(s.debugDescription) should be rejected")
        }
    }

    @Test func ipv6PrefixContainment() {
        let all = IPv6Prefix("::/0")!
        #expect(all.contains(.any) && all.contains(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!))

        let half = IPv6Prefix("8000::/1")!
        #expect(half.contains(v6("8000::")!) && !half.contains(v6("7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!))

        let p64 = IPv6Prefix("2001:db8:0:1::/64")!
        #expect(p64.contains(v6("2001:db8:0:1::")!))
        #expect(p64.contains(v6("2001:db8:0:1:ffff:ffff:ffff:ffff")!))
        #expect(!p64.contains(v6("2001:db8:0:2::")!))
        #expect(!p64.contains(v6("2001:db8:0:0:ffff:ffff:ffff:ffff")!))

        let p127 = IPv6Prefix("2001:db8::2/127")!
        #expect(p127.contains(v6("2001:db8::2")!) && p127.contains(v6("2001:db8::3")!))
        #expect(!p127.contains(v6("2001:db8::1")!) && !p127.contains(v6("2001:db8::4")!))

        let host = IPv6Prefix("2001:db8::2/128")!
        #expect(host.contains(v6("2001:db8::2")!))
        #expect(!host.contains(v6("2001:db8::3")!) && !host.contains(v6("2001:db8::1")!))
        // A bit difference in the high half must be seen even at /128.
        #expect(!host.contains(v6("2001:db9::2")!))

        #expect(all.contains(p64) && p64.contains(p64) && p64.contains(p127) == false)
        #expect(IPv6Prefix("2001:db8::/32")!.contains(p127))
        #expect(p127.contains(host) && !host.contains(p127))
        #expect(!IPv6Prefix("2001:db8::/33")!.contains(IPv6Prefix("2001:db8::/32")!))
    }

    @Test func ipPrefixEnum() {
        let v4p = IPPrefix("10.0.0.0/8")!
        let v6p = IPPrefix("2001:db8::/32")!
        #expect(v4p == .v4(IPv4Prefix("10.0.0.0/8")!))
        #expect(v6p == .v6(IPv6Prefix("2001:db8::/32")!))
        #expect(v4p.description == "10.0.0.0/8" && v6p.description == "2001:db8::/32")
        #expect(v4p.length == 8 && v6p.length == 32)
        #expect(v4p.contains(IPAddress("10.255.0.1")!))
        #expect(!v4p.contains(IPAddress("11.0.0.1")!))
        #expect(v6p.contains(IPAddress("2001:db8::1")!))
        // False across families, including IPv4-mapped addresses.
        #expect(!v4p.contains(IPAddress("::ffff:10.0.0.1")!))
        #expect(!IPPrefix("::/0")!.contains(IPAddress("10.0.0.1")!))
        #expect(!IPPrefix("0.0.0.0/0")!.contains(IPAddress("::")!))
        #expect(IPPrefix("0.0.0.0/0")!.contains(IPPrefix("10.0.0.0/8")!))
        #expect(!IPPrefix("0.0.0.0/0")!.contains(IPPrefix("::/0")!))
        #expect(IPPrefix(address: IPAddress("10.1.2.3")!, length: 16)?.description == "10.1.0.0/16")
        #expect(IPPrefix(address: IPAddress("::1")!, length: 33) != nil)
        #expect(IPPrefix(address: IPAddress("1.2.3.4")!, length: 33) == nil)
        #expect(IPPrefix("1.2.3.4")?.description == "1.2.3.4/32")
        #expect(IPPrefix("::")?.description == "::/128")
        for bad in ["10.0.0.0/33", "::/129", "/24", "", "10.0.0.0/08", "fe80::/10%eth0", "x"] {
            #expect(IPPrefix(bad) == nil, "\(bad)")
        }
    }

    // MARK: - Randomized

    @Test func randomAddressesRoundTrip() {
        var rng = SeededRandom(testSeed: 0x7475_6E77_616C_6C)   // "tunwall"
        for _ in 0..<10_000 {
            let a4 = IPv4Address(UInt32(truncatingIfNeeded: rng.next()))
            #expect(IPv4Address(a4.description) == a4, "\(a4)")
            #expect(IPAddress(a4.description) == .v4(a4))

            let a6 = randomIPv6(&rng)
            let text = a6.description
            #expect(IPv6Address(text) == a6, "\(text)")
            #expect(IPAddress(text) == .v6(a6))
            // Canonical text is lowercase, at most one "::", and never has ":::".
            #expect(!text.contains(where: { $0.isUppercase }))
            #expect(!text.contains(":::"))

            let l4 = rng.below(33)
            let p4 = IPv4Prefix(address: a4, length: l4)!
            #expect(IPv4Prefix(p4.description) == p4)
            #expect(p4.contains(a4))
            let l6 = rng.below(129)
            let p6 = IPv6Prefix(address: a6, length: l6)!
            #expect(IPv6Prefix(p6.description) == p6)
            #expect(p6.contains(a6))
            #expect(IPPrefix(p6.description) == .v6(p6))
        }
    }

    @Test func randomStringsNeverTrap() {
        let alphabet = Array("0123456789abcdefABCDEF:.%/ x")
        var rng = SeededRandom(testSeed: 42)
        var accepted = 0
        for _ in 0..<10_000 {
            var s = ""
            for _ in 0..<rng.below(46) { s.append(alphabet[rng.below(alphabet.count)]) }
            // Whatever parses must print to text that parses back to the same value.
            if let a = IPv4Address(s) { accepted += 1; #expect(IPv4Address(a.description) == a) }
            if let a = IPv6Address(s) { accepted += 1; #expect(IPv6Address(a.description) == a) }
            if let a = IPAddress(s) { #expect(IPAddress(a.description) == a) }
            if let p = IPv4Prefix(s) { #expect(IPv4Prefix(p.description) == p) }
            if let p = IPv6Prefix(s) { #expect(IPv6Prefix(p.description) == p) }
            if let p = IPPrefix(s) { #expect(IPPrefix(p.description) == p) }
        }
        _ = accepted
    }

#if canImport(Glibc)
    /// Differential check against glibc inet_pton, the reference named in the
    /// specification for strict parsing.
    @Test func parsersAgreeWithInetPton() {
        var rng = SeededRandom(testSeed: 99)
        let alphabet = Array("0123456789abcdefABCDEF:.%/ x")
        for i in 0..<20_000 {
            let s: String
            if i % 2 == 0 {
                var t = ""
                for _ in 0..<rng.below(20) { t.append(alphabet[rng.below(alphabet.count)]) }
                s = t
            } else {
                s = nearMissString(&rng)
            }

            var in4 = in_addr()
            let r4 = inet_pton(AF_INET, s, &in4)
            let ours4 = IPv4Address(s)
            #expect((r4 == 1) == (ours4 != nil), "v4 \(s.debugDescription)")
            if r4 == 1, let ours4 {
                #expect(ours4.value == UInt32(bigEndian: in4.s_addr), "v4 \(s.debugDescription)")
            }

            var in6 = in6_addr()
            let r6 = inet_pton(AF_INET6, s, &in6)
            let ours6 = IPv6Address(s)
            #expect((r6 == 1) == (ours6 != nil), "v6 \(s.debugDescription)")
            if r6 == 1, let ours6 {
                let theirs = withUnsafeBytes(of: &in6) { IPv6Address(loadingFrom: $0, at: 0) }
                #expect(ours6 == theirs, "v6 \(s.debugDescription)")
                // glibc inet_ntop also follows RFC 5952, except that it prints the
                // deprecated IPv4-compatible ::a.b.c.d form; skip those.
                if !(ours6.high == 0 && ours6.low >> 32 == 0) {
                    var buffer = [CChar](repeating: 0, count: 64)
                    _ = inet_ntop(AF_INET6, &in6, &buffer, socklen_t(buffer.count))
                    let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) },
                                      as: UTF8.self)
                    #expect(ours6.description == text, "v6 \(s.debugDescription)")
                }
            }
        }
    }
#endif
}

// `tunwall pcap summary FILE`: one line per packet, like `tcpdump -nn -S -r FILE`
// with UTC times; for pcapng, with each packet's interface and direction. A file that is not pcap, or is cut short, ends with a
// one-line error on stderr and exit status 1 (after the packets that were whole).

#if canImport(Glibc)
import Glibc
#endif
import Wire
import SystemIO

enum PcapCommand {
    static func run(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.count == 1, let path = arguments.words.first else {
            return Commands.usageError(arguments, arguments.words.isEmpty ? "missing FILE" : "expected one FILE")
        }
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path)
        } catch {
            Output.error("tunwall: \(path): \(error.reason)")
            return 1
        }
        if PcapngReader.isPcapng(bytes) { return pcapng(bytes, path) }
        let reader: PcapReader
        do {
            reader = try PcapReader(bytes: bytes)
        } catch {
            Output.error("tunwall: \(path): \(error)")
            return 1
        }
        var iterator = reader.makeIterator()
        do {
            while let record = try iterator.nextRecord() {
                Output.line(timestamp(record) + " " + summary(record.data, linkType: reader.linkType))
            }
        } catch {
            Output.error("tunwall: \(path): \(error)")
            return 1
        }
        return 0
    }

    /// A pcapng file: each line names the packet's interface and direction
    /// as tcpdump 4.99 does for pcapng ("lan0 In", "wan0 Out").
    static func pcapng(_ bytes: [UInt8], _ path: String) -> Int32 {
        let reader: PcapngReader
        do {
            reader = try PcapngReader(bytes: bytes)
        } catch {
            Output.error("tunwall: \(path): \(error)")
            return 1
        }
        for packet in reader.packets {
            let interface = reader.interfaces[packet.interface]
            var place = interface.name ?? "if\(packet.interface)"
            switch packet.direction {
            case .inbound?: place += " In"
            case .outbound?: place += " Out"
            case nil: break
            }
            Output.line(timestamp(packet.record) + " " + place + " " + summary(packet.record.data, linkType: interface.linkType))
        }
        if let error = reader.error {
            Output.error("tunwall: \(path): \(error)")
            return 1
        }
        return 0
    }

    /// tcpdump's default time-of-day stamp, in UTC.
    static func timestamp(_ record: PcapRecord) -> String {
        let day = record.seconds % 86_400
        func two(_ n: UInt32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let micros = String(record.nanoseconds / 1000)
        let padded = String(repeating: "0", count: max(0, 6 - micros.count)) + micros
        return "\(two(day / 3600)):\(two(day / 60 % 60)):\(two(day % 60)).\(padded)"
    }

    /// Strips the link-layer header, if any, down to the IP packet.
    static func summary(_ data: [UInt8], linkType: PcapLinkType) -> String {
        switch linkType {
        case .raw, .ipv4, .ipv6:
            return PacketSummary.line(for: data)
        case .ethernet:
            var offset = 12
            while offset + 2 <= data.count, data[offset] == 0x81, data[offset + 1] == 0x00 { offset += 4 }  // 802.1Q
            return network(data, ethertypeAt: offset)
        case .linuxCooked:
            return network(data, ethertypeAt: 14)
        default:
            return "unsupported \(linkType), \(data.count) bytes"
        }
    }

    private static func network(_ data: [UInt8], ethertypeAt offset: Int) -> String {
        guard offset + 2 <= data.count else { return "[|ether]" }
        let ethertype = UInt16(data[offset]) << 8 | UInt16(data[offset + 1])
        switch ethertype {
        case 0x0800, 0x86dd: return PacketSummary.line(for: Array(data[(offset + 2)...]))
        case 0x0806: return "ARP, length \(data.count - offset - 2)"
        default: return "ethertype 0x\(String(ethertype, radix: 16)), length \(data.count - offset - 2)"
        }
    }
}

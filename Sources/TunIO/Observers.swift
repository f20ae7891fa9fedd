// What the runner shows of the traffic besides forwarding it, each only when
// asked for (`--pcap DIR`, `--trace`, `--trace-json FILE`):
//
// - PacketCapture: by default one pcapng file, DIR/capture.pcapng, with an
//   interface block per device (its name) and each packet's direction
//   (epb_flags inbound: as received; outbound: as sent), nanosecond
//   timestamps; with `--pcap-format pcap`, one pcap file per interface and
//   direction, DIR/lan0-in.pcap and DIR/lan0-out.pcap, microsecond
//   timestamps. Link type RAW (the IP packet, what a TUN device carries) or,
//   for a TAP interface, Ethernet (EN10MB, the frame as the device carries it),
//   the wall clock; Wireshark and tshark read both. GSO super-packets are
//   written whole, as tcpdump on the TUN device shows them.
// - TraceOutput: the engine's trace records, narrated on stderr and/or as
//   JSON lines in a file (docs/trace-schema.md).
//
// Both buffer in memory and write in large pieces (and on `flush`), so that a
// capture costs a copy per packet rather than a system call.

#if canImport(Glibc)
import Glibc
#endif
import Engine
import Wire
import SystemIO

/// `--pcap-format`: one pcapng file for every interface and direction (the
/// default), or the classic pcap files, one per interface and direction.
public enum CaptureFormat: String, Sendable, CaseIterable {
    case pcapng, pcap
}

public final class PacketCapture {
    /// pcap: [device][direction] (0 in, 1 out); pcapng: one writer, one file.
    private var writers: [[PcapWriter]] = []
    private var descriptors: [[Int32]] = []
    private var pcapng: PcapngWriter?
    private var pcapngDescriptor: Int32 = -1
    /// Bytes buffered before a write.
    static let flushThreshold = 1 << 20

    /// The file pcapng captures go to, in DIR.
    public static let pcapngName = "capture.pcapng"

    /// Creates DIR (mode 0755 if missing) and the files, truncating old ones:
    /// DIR/capture.pcapng, or DIR/IF-in.pcap and DIR/IF-out.pcap.
    /// `linkTypes[i]` is interface `i`'s link type (RAW when not given).
    public init(directory: String, interfaceNames: [String], linkTypes: [PcapLinkType] = [],
                format: CaptureFormat = .pcapng) throws(SystemError) {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST { throw SystemError(call: "mkdir(\(directory))", errno: errno) }
        if format == .pcapng {
            pcapngDescriptor = try Self.create("\(directory)/\(Self.pcapngName)")
            pcapng = PcapngWriter(interfaceNames: interfaceNames, linkTypes: linkTypes)
            return
        }
        for (index, name) in interfaceNames.enumerated() {
            let linkType = index < linkTypes.count ? linkTypes[index] : PcapLinkType.raw
            var pair: [Int32] = []
            for direction in ["in", "out"] {
                do {
                    pair.append(try Self.create("\(directory)/\(name)-\(direction).pcap"))
                } catch {
                    for fds in descriptors + [pair] { for fd in fds { Glibc.close(fd) } }
                    throw error
                }
            }
            descriptors.append(pair)
            writers.append([PcapWriter(linkType: linkType), PcapWriter(linkType: linkType)])
        }
    }

    private static func create(_ path: String) throws(SystemError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError(call: "open(\(path))", errno: errno) }
        return fd
    }

    deinit { close() }

    /// Records one packet of `device`, received (`outgoing` false) or sent.
    public func record(_ device: Int, outgoing: Bool, _ packet: UnsafeRawBufferPointer) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let seconds = UInt32(truncatingIfNeeded: ts.tv_sec), nanoseconds = UInt32(truncatingIfNeeded: ts.tv_nsec)
        if pcapng != nil {
            pcapng?.append(packet, interface: device, direction: outgoing ? .outbound : .inbound,
                           seconds: seconds, nanoseconds: nanoseconds)
            if (pcapng?.bytes.count ?? 0) >= Self.flushThreshold { flushPcapng() }
            return
        }
        guard device >= 0, device < writers.count else { return }
        let direction = outgoing ? 1 : 0
        writers[device][direction].append(packet, seconds: seconds, nanoseconds: nanoseconds)
        if writers[device][direction].bytes.count >= Self.flushThreshold { flush(device, direction) }
    }

    /// Writes out everything buffered.
    public func flush() {
        flushPcapng()
        for device in writers.indices {
            for direction in 0..<2 { flush(device, direction) }
        }
    }

    private func flush(_ device: Int, _ direction: Int) {
        let bytes = writers[device][direction].takeBytes()
        FileIO.writeAllOrGiveUp(descriptors[device][direction], bytes)
    }

    private func flushPcapng() {
        guard let bytes = pcapng?.takeBytes(), !bytes.isEmpty else { return }
        FileIO.writeAllOrGiveUp(pcapngDescriptor, bytes)
    }

    private var closed = false

    public func close() {
        guard !closed else { return }
        flush()
        closed = true
        for fds in descriptors { for fd in fds { Glibc.close(fd) } }
        if pcapngDescriptor >= 0 { Glibc.close(pcapngDescriptor) }
    }
}

public final class TraceOutput {
    let narrated: Bool
    let json: Int32?
    private var pending: [UInt8] = []

    /// `narrated`: lines on stderr; `jsonPath`: JSON lines there, starting
    /// with the header that names `interfaces` (name, host, addresses).
    public init(narrated: Bool, jsonPath: String?,
                interfaces: [(name: String, host: String?, addresses: [String])],
                segments: [String: [TraceSegmentHost]] = [:]) throws(SystemError) {
        self.narrated = narrated
        if let jsonPath {
            let fd = open(jsonPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw SystemError(call: "open(\(jsonPath))", errno: errno) }
            json = fd
            var now = time(nil)
            var parts = tm()
            gmtime_r(&now, &parts)
            let start = padded(Int(parts.tm_year) + 1900, 4) + "-" + padded(Int(parts.tm_mon) + 1, 2) + "-"
                + padded(Int(parts.tm_mday), 2) + "T" + padded(Int(parts.tm_hour), 2) + ":"
                + padded(Int(parts.tm_min), 2) + ":" + padded(Int(parts.tm_sec), 2) + "Z"
            pending += Array((TraceRecord.headerLine(start: start, interfaces: interfaces, segments: segments) + "\n").utf8)
        } else {
            json = nil
        }
    }

    deinit { close() }

    public func write(_ records: [TraceRecord]) {
        guard !records.isEmpty else { return }
        if narrated {
            FileIO.writeAllOrGiveUp(2, Array((records.flatMap(\.monitorLines).joined(separator: "\n") + "\n").utf8))
        }
        if json != nil {
            for record in records { pending += Array((record.jsonLine + "\n").utf8) }
            if pending.count >= 1 << 16 { flush() }
        }
    }

    public func flush() {
        guard let json, !pending.isEmpty else { return }
        FileIO.writeAllOrGiveUp(json, pending)
        pending.removeAll(keepingCapacity: true)
    }

    private var closed = false

    public func close() {
        guard !closed else { return }
        flush()
        closed = true
        if let json { Glibc.close(json) }
    }
}

/// Zero-padded decimal: padded(7, 2) is "07".
func padded(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

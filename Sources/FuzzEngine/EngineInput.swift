// One fuzz input through one engine: a sequence of packets, each arriving on
// an interface at a time, some with a virtio_net_hdr (checksum offload, GSO
// super-packets up to 64 KB), with `tick` between them so that held FTP lines
// are released and expectations expire. Everything the engine sends is read.
//
// Input layout (Scripts/fuzz-seeds.py writes it; any bytes are valid):
//
//   byte 0       FTP policy knobs (FuzzFirewall.policy)
//   byte 1       bit 0: tracing on (Trace.swift runs too); the rest seed the engine
//   then records, up to 256:
//     flags      bits 0-1 interface (0 lan0, 1 wan0, 2 dmz0, 3 an unknown index)
//                bit 2    a 10-byte virtio_net_hdr follows the length
//                bit 3    tick after the packet
//                bits 4-6 clock unit before the packet: none, 1 ms, 10 ms, 100 ms, 1 s, 10 s, 100 s, 1000 s
//                bit 7    a tick only: no packet, no length
//     step       the clock advances step × unit
//     length     2 bytes, big-endian (a record cut short by the end of input keeps what is there)
//     [virtio]   10 bytes, little-endian fields (VirtioNetHeader.swift)
//     packet     `length` bytes, the IP packet
//
// Example: 00 00 | 10 00 00 3c <60 bytes of a SYN> | 21 05 00 3c <60 bytes of a SYN/ACK>:
// the SYN on lan0 at t=0, the SYN/ACK on wan0 5 ms later.

import Conntrack
import Engine
import Wire
#if canImport(Glibc)
import Glibc
#endif

enum EngineInput {
    static let maximumRecords = 256
    static let units: [Timestamp] = [0, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000,
                                     10_000_000_000, 100_000_000_000, 1_000_000_000_000]

    /// One buffer for the whole process, as the event loop keeps its own.
    nonisolated(unsafe) static var buffer = PacketBuffer.allocate()

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 2 else { return }
        let engine = FuzzFirewall.engine(policyByte: input[0], seed: UInt64(input[1] >> 1))
        engine.tracing = input[1] & 1 != 0
        var now: Timestamp = 1_000 * nanosecondsPerSecond
        var offset = 2
        var records = 0
        while offset < input.count && records < maximumRecords {
            records += 1
            let flags = input[offset]
            let step = offset + 1 < input.count ? Timestamp(input[offset + 1]) : 0
            offset += 2
            now += step * units[Int(flags >> 4) & 7]
            if flags & 0x80 != 0 {
                engine.tick(now: now)
                drain(engine)
                continue
            }
            guard offset + 2 <= input.count else { break }
            var length = Int(input[offset]) << 8 | Int(input[offset + 1])
            offset += 2
            var virtio = VirtioNetHeader()
            if flags & 0x04 != 0 {
                guard offset + VirtioNetHeader.size <= input.count else { break }
                virtio = (try? VirtioNetHeader(loadingFrom: UnsafeRawBufferPointer(rebasing: input[offset..<offset + VirtioNetHeader.size]))) ?? virtio
                offset += VirtioNetHeader.size
            }
            length = min(length, input.count - offset)
            buffer.load(UnsafeRawBufferPointer(rebasing: input[offset..<offset + length]))
            buffer.virtio = virtio
            offset += length
            let verdict = engine.process(&buffer, from: Int(flags & 3), now: now)
            if case .forward(let out) = verdict {
                // What the event loop would write: within the buffer and on a real interface.
                precondition(out >= 0 && out < engine.interfaces.count, "forwarded to interface \(out)")
                precondition(buffer.start >= 0 && buffer.start + buffer.length <= buffer.storage.count, "packet outside its buffer")
                touch(buffer.bytes)
            }
            if flags & 0x08 != 0 { engine.tick(now: now) }
            drain(engine)
        }
        // The listings `tunwall conntrack -L`, `-L expect` and `stats` print.
        let connections = engine.conntrack.listing(now: now)
        let expectations = engine.conntrack.expectationListing(now: now)
        let statistics = engine.statisticsReport(now: now)
        let log = engine.takeLog()
        for record in engine.takeTraces() { _ = (record.narrated, record.jsonLine) }
        if verbose {
            // To see what a seed reaches: FUZZ_ENGINE_VERBOSE=1 .build/debug/FuzzEngine FILE
            print((connections + expectations + [statistics] + log).joined(separator: "\n"))
        }
    }

    static let verbose = getenv("FUZZ_ENGINE_VERBOSE") != nil

    /// Empties the outbox as the event loop does, reading every byte of every packet.
    static func drain(_ engine: Engine) {
        let interfaces = engine.interfaces.count
        engine.outbox.drain { packet, interface in
            precondition(interface >= 0 && interface < interfaces, "outbox packet for interface \(interface)")
            precondition(packet.start >= 0 && packet.start + packet.length <= packet.storage.count, "outbox packet outside its buffer")
            touch(packet.bytes)
        }
    }

    /// Reads every byte (so that ASan checks the whole length) without the optimiser dropping it.
    @inline(never)
    static func touch(_ bytes: UnsafeMutableRawBufferPointer) {
        var sum: UInt8 = 0
        for byte in bytes { sum &+= byte }
        sink = sum
    }

    nonisolated(unsafe) static var sink: UInt8 = 0
}

// `tunwall bench connections [--connections N]`: what a new connection costs
// in process, with no I/O: N TCP SYNs, each opening a new connection through
// a stateful forward chain and masquerade on wan0, through `Engine.process`.
// Every one is parsed, misses in conntrack, walks the filter and nat chains,
// gets its masquerade source port (one in 16 finds the port of its source
// taken by another client's connection and searches, as
// nf_nat_l4proto_unique_tuple does), and is confirmed into the table.
//
// Two passes over the same N connections: the first into an empty table,
// which grows as they arrive (chunks of entries, index doublings: the
// allocations it shows are the table's growth, amortised); then every entry
// is expired and swept, and the second pass meets a table already grown,
// which is the steady state of a busy firewall: no allocation at all.
// Prints ns and heap allocations per new connection (the latter with
// Scripts/malloc-count.c preloaded, as Scripts/bench.sh does).

import Conntrack
import Engine
import Rules
import TunIO
import Wire

extension BenchCommand {
    static func connections(count: Int) throws {
        var capacity = 65_536
        while capacity < count { capacity <<= 1 }
        let engine = try Engine(EngineConfiguration(interfaces: [
            InterfaceConfiguration(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!]),
            InterfaceConfiguration(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!]),
        ], conntrackCapacity: capacity))
        engine.replaceRuleset(try Ruleset.parse("""
            table inet filter {
                chain forward {
                    type filter hook forward priority filter; policy drop;
                    ct state established,related accept
                    ct state invalid drop
                    iifname "lan0" oifname "wan0" tcp dport 80 ct state new accept
                }
            }
            table ip nat {
                chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
            }
            """, file: "bench-connections.nft"))
        // Connection i: from one of 200 clients on the LAN, from source port
        // 10,000 + i % 20,000 to port 80 of server 203.0.113.(10 + i / 20,000),
        // so that masquerade keeps each source port (20,000 of the 64,512 it
        // hands out per server), except every 16th connection, which uses the
        // port of the one before it (from another client) and so finds its
        // mapping taken and searches for another.
        let portsPerServer = 20_000
        let syns: [[UInt8]] = (0..<count).map { i in
            let client = IPv4Address(10, 0, 1, UInt8(truncatingIfNeeded: 2 + i % 200))
            let server = IPv4Address(203, 0, 113, UInt8(truncatingIfNeeded: 10 + i / portsPerServer % 200))
            let port = i % 16 == 15 ? (i - 1) % portsPerServer : i % portsPerServer
            return Packet.tcp(client, UInt16(truncatingIfNeeded: 10_000 + port), server, 80, flags: .syn,
                              sequenceNumber: SeqNumber(UInt32(truncatingIfNeeded: i &* 2_654_435_761)),
                              acknowledgmentNumber: SeqNumber(0),
                              options: [.maximumSegmentSize(1460), .sackPermitted, .timestamps(value: 1, echoReply: 0),
                                        .noOperation, .windowScale(7)],
                              payload: [], ttl: 64).encoded()
        }
        var buffer = PacketBuffer.allocate()
        defer { buffer.deallocate() }
        // As a TUN device with offloads delivers them (checksum left to the device).
        let offload = VirtioNetHeader(flags: .needsChecksum, gsoType: .none, checksumStart: 20, checksumOffset: 16)
        var now: Timestamp = 1_000_000_000
        let counter = mallocCounter()

        func pass() -> (nanoseconds: UInt64, allocations: UInt64, forwarded: Int) {
            var forwarded = 0
            let allocationsBefore = counter?() ?? 0
            let start = FirewallRunner.now()
            for syn in syns {
                syn.withUnsafeBytes { _ = buffer.load($0) }
                buffer.virtio = offload
                now &+= 1000
                if case .forward = engine.process(&buffer, from: 0, now: now) { forwarded += 1 }
            }
            return (FirewallRunner.now() - start, (counter?() ?? 0) - allocationsBefore, forwarded)
        }

        let first = pass()
        let entries = engine.conntrack.table.count
        let reclaimed = engine.statistics.natReclaimed
        // SYN_SENT lasts 120 s: past that, sweep everything away.
        now &+= 121 * nanosecondsPerSecond
        while engine.conntrack.table.count > 0 { engine.tick(now: now) }
        let second = pass()
        // The copy into the buffer is the harness's, not the engine's: measure it alone.
        let copyStart = FirewallRunner.now()
        for syn in syns {
            syn.withUnsafeBytes { _ = buffer.load($0) }
            buffer.virtio = offload
        }
        let copy = Double(FirewallRunner.now() - copyStart) / Double(count)

        print("new connections: \(count) TCP SYNs through a stateful forward chain and masquerade, each a new connection")
        print("  forwarded:           \(first.forwarded) and \(second.forwarded) of \(count)")
        print("  conntrack entries:   \(entries) of \(capacity) (nat ports reclaimed: \(reclaimed); invalid: \(engine.conntrack.invalidCounts.reduce(0, &+)))")
        for (name, run) in [("growing table", first), ("grown table  ", second)] {
            let perConnection = Double(run.nanoseconds) / Double(count)
            let allocations = counter == nil ? "unavailable (preload Scripts/malloc-count.c)"
                : "\(format(Double(run.allocations) / Double(count))) per connection (\(run.allocations) in total)"
            print("  \(name):       \(format(perConnection - copy)) ns per connection (\(format(perConnection)) with the \(format(copy)) ns copy); allocations: \(allocations)")
        }
    }
}

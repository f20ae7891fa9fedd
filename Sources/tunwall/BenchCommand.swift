// `tunwall bench engine [--packets N]`: the engine's per-packet cost on its
// fast path, in process, with no I/O: one established TCP connection through
// the basic topology, and N of its packets (alternating directions, 52-byte
// ACKs and 1500-byte data segments) replayed through `Engine.process`.
// `tunwall bench rules [--packets N]`: the cost of a 1,000-rule chain that
// every packet walks to its end.
// `tunwall bench fragments [--packets N]`: a 4,096-byte UDP datagram that
// arrives as three IPv4 fragments, reassembled, tracked and cut again on the
// way out, N times: the cost per datagram of reassembly.
// `tunwall bench impair [--packets N]`: the engine fast path again, with
// impairments configured but zero on both interfaces (`delay 0ms loss 0%`:
// the stage stays off, one branch a packet), then with `delay 10ms` on both
// ways out, packets 1 µs apart, so 10,000 packets wait in the delay queue
// and each new one pushes one into the heap as the oldest is released.
// `tunwall bench connections [--connections N]`: new connections
// (BenchConnections.swift); `tunwall bench table [--connections N]`: the flow
// table's memory and speed at N connections (BenchTable.swift).
// All print nanoseconds and heap allocations per packet or connection; the
// latter needs Scripts/malloc-count.c preloaded (Scripts/bench.sh does that).

#if canImport(Glibc)
import Glibc
#endif
import Conntrack
import Engine
import Rules
import TunIO
import Wire

enum BenchCommand {
    static func run(_ arguments: ParsedArguments) -> Int32 {
        let kinds = ["engine", "nat", "tap", "rules", "fragments", "impair", "steering", "connections", "table"]
        guard arguments.words.count == 1, let what = arguments.words.first, kinds.contains(what) else {
            return Commands.usageError(arguments, "name one of \(kinds.joined(separator: ", "))")
        }
        let counted = what == "connections" || what == "table"
        var packets: Int
        switch what {
        case "rules", "fragments", "connections": packets = 200_000
        case "table": packets = 1_000_000
        default: packets = 2_000_000
        }
        let option = counted ? "--connections" : "--packets"
        if arguments.value(counted ? "--packets" : "--connections") != nil {
            return Commands.usageError(arguments, "\(what) takes \(option)")
        }
        if let text = arguments.value(option) {
            guard let n = Int(text), n > 0, n <= 1 << 30 else {
                return Commands.usageError(arguments, "\(option): \"\(text)\" is not a number from 1 to 2^30")
            }
            packets = n
        }
        do {
            switch what {
            case "engine": try engine(packets: packets, masquerade: false)
            case "nat": try engine(packets: packets, masquerade: true)
            case "tap": try engine(packets: packets, masquerade: false, tap: true)
            case "fragments": try fragments(datagrams: packets)
            case "impair":
                try engine(packets: packets, masquerade: false, impair: "delay 0ms loss 0%")
                print("")
                try engine(packets: packets, masquerade: false, impair: "delay 10ms limit 20000")
            case "steering":
                try engine(packets: packets, masquerade: true, steering: .owner)
                print("")
                try engine(packets: packets, masquerade: true, steering: .handedOff)
            case "connections": try connections(count: packets)
            case "table": table(connections: packets)
            default: try rules(packets: packets)
            }
            return 0
        } catch {
            Output.error("tunwall: \(error)")
            return 1
        }
    }

    /// With `masquerade`, the connection is masqueraded on wan0 (and the
    /// server's packets are addressed to the public address), so every packet
    /// is rewritten from its conntrack entry. With `impair`, both interfaces'
    /// way out get those netem words, and held packets are released as the
    /// clock (1 µs a packet) reaches them.
    ///
    /// With `tap`, both interfaces are TAP: frames in, the Ethernet header
    /// taken off and put back with the next hop's MAC from the neighbour
    /// table (both neighbours REACHABLE, resolved by ARP in the warm-up).
    enum Steering {
        /// One worker, no directory: today's path.
        case none
        /// Worker 0 of two reads every packet of its own connection.
        case owner
        /// Worker 1 reads every packet and hands it to worker 0 through the ring.
        case handedOff
    }

    static func engine(packets count: Int, masquerade: Bool, impair: String? = nil, tap: Bool = false,
                       steering: Steering = .none) throws {
        let mode: LinkMode = tap ? .tap : .tun
        let macs = [MACAddress(0x0200_0000_0101), MACAddress(0x0200_0000_0201)]
        let hosts = [MACAddress(0x0200_0000_0102), MACAddress(0x0200_0000_0210)]
        func makeEngine() throws -> Engine {
            let engine = try Engine(EngineConfiguration(interfaces: [
                InterfaceConfiguration(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!], mode: mode,
                                       hardwareAddress: macs[0]),
                InterfaceConfiguration(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!], mode: mode,
                                       hardwareAddress: macs[1]),
            ]))
            if masquerade {
                engine.replaceRuleset(try Ruleset.parse("""
                    table ip nat {
                        chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
                    }
                    """, file: "bench-masquerade.nft"))
            }
            return engine
        }
        let engine = try makeEngine()
        // Several workers: the owner `engine` (worker 0) and a reader (worker 1) sharing a directory.
        let reader = steering == .none ? nil : try makeEngine()
        let ring = HandOffRing(capacity: 64)
        if let reader {
            // With the steering program's exceptions, as `tunwall run` has them where bpf(2) is allowed.
            let directory = SteeringDirectory(entries: 65_536 * 4)
            let exceptions = SteeringExceptions()
            engine.joinSteering(SteeringMembership(directory: directory, worker: 0, workers: 2, kernelQueues: exceptions))
            reader.joinSteering(SteeringMembership(directory: directory, worker: 1, workers: 2, kernelQueues: exceptions))
        }
        var handOffs = 0
        /// The packet through the reader, the ring and the owner, as two runners would pass it.
        func process(_ buffer: inout PacketBuffer, _ input: Int, _ now: Timestamp) -> Verdict {
            guard steering == .handedOff, let reader else { return engine.process(&buffer, from: input, now: now) }
            guard case .consumed = reader.process(&buffer, from: input, now: now), let handOff = reader.handOff,
                  ring.put(buffer, input: input, handOff: handOff) else { return .drop(.handOffFull) }
            handOffs += 1
            var verdict = Verdict.consumed
            _ = ring.take { packet, input, handOff in
                verdict = engine.process(&packet, from: input, now: now, handOff: handOff)
            }
            return verdict
        }
        let client = IPv4Address(10, 0, 1, 2), server = IPv4Address(203, 0, 113, 10)
        let timestamps: [TCPOption] = [.noOperation, .noOperation, .timestamps(value: 1, echoReply: 2)]
        // Sequence numbers of a real exchange (client ISN 999, server ISN
        // 1999), so that conntrack's window tracking sees every packet in
        // window: the data segment is sent again and again as a
        // retransmission, the server acknowledges all of it.
        func frame(_ input: Int, _ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
            guard tap else { return payload }
            var bytes = [UInt8](repeating: 0, count: EthernetHeader.length)
            bytes.withUnsafeMutableBytes {
                EthernetHeader(destination: macs[input], source: hosts[input], type: type).store(to: $0)
            }
            return bytes + payload
        }
        func segment(_ fromClient: Bool, _ flags: TCPFlags, _ payload: Int, seq: UInt32, ack: UInt32) -> [UInt8] {
            let publicClient = masquerade ? IPv4Address(203, 0, 113, 1) : client
            let (s, d, sp, dp) = fromClient ? (client, server, UInt16(40000), UInt16(5201)) : (server, publicClient, 5201, 40000)
            return frame(fromClient ? 0 : 1, EtherType.ipv4,
                         Packet.tcp(s, sp, d, dp, flags: flags, sequenceNumber: SeqNumber(seq), acknowledgmentNumber: SeqNumber(ack),
                                    options: flags.contains(.syn) ? [] : timestamps,
                                    payload: [UInt8](repeating: 0x61, count: payload), ttl: 64).encoded())
        }
        /// The host on `input` answers the firewall's ARP request.
        func arpReply(_ input: Int) -> [UInt8] {
            var body = [UInt8](repeating: 0, count: ARPMessage.length)
            let (host, own) = input == 0 ? (client, IPv4Address(10, 0, 1, 1)) : (server, IPv4Address(203, 0, 113, 1))
            body.withUnsafeMutableBytes {
                ARPMessage(operation: ARPMessage.reply, senderMAC: hosts[input], senderIP: host, targetMAC: macs[input],
                           targetIP: own).store(to: $0)
            }
            return frame(input, EtherType.arp, body)
        }
        var buffer = PacketBuffer.allocate()
        defer { buffer.deallocate() }
        var now: Timestamp = 1_000_000_000
        var handshake = [(segment(true, .syn, 0, seq: 999, ack: 0), 0),
                         (segment(false, [.syn, .ack], 0, seq: 1999, ack: 1000), 1),
                         (segment(true, .ack, 0, seq: 1000, ack: 2000), 0)]
        if tap {
            // Each packet waits for its next hop's MAC: the ARP reply releases it.
            handshake.insert((arpReply(0), 0), at: 2)
            handshake.insert((arpReply(1), 1), at: 1)
        }
        for (bytes, input) in handshake {
            buffer.load(bytes)
            _ = engine.process(&buffer, from: input, now: now)
            engine.outbox.drain { _, _ in }
        }
        if let impair {
            let impairment = try Impairment.parse(impair)
            for interface in engine.interfaces.indices { engine.setImpairment(impairment, interface: interface, direction: .out) }
        }
        var released = 0
        func release() {
            if impair != nil { engine.releaseImpaired(now: now) { _, _, _ in released += 1 } }
        }
        // Templates: data one way, ACKs the other, as a bulk transfer looks.
        let data = segment(true, [.ack, .psh], 1448, seq: 1000, ack: 2000)
        let ack = segment(false, .ack, 0, seq: 2000, ack: 2448)
        let templates = [data, ack]
        let counter = mallocCounter()
        // As a TUN device with offloads delivers them: the checksum left to
        // the device (NEEDS_CSUM), so conntrack does not verify it again.
        let offload = VirtioNetHeader(flags: .needsChecksum, gsoType: .none, checksumStart: tap ? 34 : 20, checksumOffset: 16)
        var forwarded = 0
        // Warm up, then measure.
        for round in 0..<10_000 {
            buffer.load(templates[round & 1])
            now &+= 1000
            if case .forward = process(&buffer, round & 1, now) { forwarded += 1 }
            release()
        }
        handOffs = 0
        forwarded = 0
        released = 0
        let allocationsBefore = counter?() ?? 0
        let start = FirewallRunner.now()
        for round in 0..<count {
            templates[round & 1].withUnsafeBytes { _ = buffer.load($0) }
            buffer.virtio = offload
            now &+= 1000
            if case .forward = process(&buffer, round & 1, now) { forwarded += 1 }
            release()
        }
        let elapsed = FirewallRunner.now() - start
        let allocations = (counter?() ?? 0) - allocationsBefore
        // The copy into the buffer is the harness's, not the engine's: measure it alone.
        let copyStart = FirewallRunner.now()
        for round in 0..<count { templates[round & 1].withUnsafeBytes { _ = buffer.load($0) } }
        let copyElapsed = FirewallRunner.now() - copyStart
        let perPacket = Double(elapsed) / Double(count)
        let copyPerPacket = Double(copyElapsed) / Double(count)
        let workers: String
        switch steering {
        case .none: workers = ""
        case .owner: workers = ", worker 0 of 2 reading its own connection (a directory lookup a packet)"
        case .handedOff: workers = ", worker 1 of 2 reading worker 0's connection (every packet handed off through the ring)"
        }
        print("engine fast path\(masquerade ? " with masquerade" : "")\(tap ? " over TAP (Ethernet, ARP-resolved neighbours)" : "")\(impair.map { " with impair out \"\($0)\" on both interfaces" } ?? "")\(workers): "
              + "\(count) packets of one established TCP connection (1500-byte data / 52-byte ACKs)")
        print("  forwarded:           \(forwarded) of \(count)")
        if steering == .handedOff { print("  handed off:          \(handOffs)") }
        if tap {
            print("  neighbours:          \(engine.neighbourRecords().map(\.description).joined(separator: "; "))")
        }
        if impair != nil {
            print("  held, then released: \(released) (held now: \(engine.impairedCount))")
        }
        // Window tracking judged every packet: none may be out of window, or
        // this would measure the invalid path.
        print("  conntrack invalid:   \(engine.conntrack.invalidCounts.reduce(0, &+))")
        print("  ns per packet:       \(format(perPacket - copyPerPacket)) (\(format(perPacket)) including the \(format(copyPerPacket)) ns copy into the buffer)")
        printAllocations(allocations, packets: count, counted: counter != nil)
    }

    /// One UDP datagram of 4,096 bytes from the client, sent as three
    /// fragments (1,500, 1,500 and 1,164 bytes, as a 1500-MTU sender cuts
    /// it): held, held, then reassembled, tracked and fragmented again into
    /// the outbox, which is emptied after each datagram.
    static func fragments(datagrams count: Int) throws {
        let engine = try Engine(EngineConfiguration(interfaces: [
            InterfaceConfiguration(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!]),
            InterfaceConfiguration(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!]),
        ]))
        var header = IPv4Header(source: IPv4Address(10, 0, 1, 2), destination: IPv4Address(203, 0, 113, 10), protocol: .udp)
        header.dontFragment = false
        header.identification = 0x4242
        let whole = Packet(network: .v4(header), transport: .udp(UDPHeader(sourcePort: 5000, destinationPort: 7)),
                           payload: [UInt8](repeating: 0x61, count: 4096)).encoded()
        var pieces: [[UInt8]] = []
        for start in stride(from: 0, to: whole.count - 20, by: 1480) {
            let end = min(start + 1480, whole.count - 20)
            var piece = Array(whole[0..<20]) + Array(whole[20 + start..<20 + end])
            piece.withPacketBytes { raw in
                let ip = IPv4Packet(parsed: raw)
                ip.totalLength = raw.count
                ip.flagsAndFragmentOffset = UInt16(truncatingIfNeeded: start / 8) | (end < whole.count - 20 ? 0x2000 : 0)
                ip.updateHeaderChecksum()
            }
            pieces.append(piece)
        }
        var buffer = PacketBuffer.allocate()
        defer { buffer.deallocate() }
        var now: Timestamp = 1_000_000_000
        var sent = 0
        func datagram() {
            for piece in pieces {
                piece.withUnsafeBytes { _ = buffer.load($0) }
                _ = engine.process(&buffer, from: 0, now: now)
            }
            engine.outbox.drain { _, _ in sent += 1 }
            now &+= 1000
        }
        for _ in 0..<1000 { datagram() }
        sent = 0
        let counter = mallocCounter()
        let allocationsBefore = counter?() ?? 0
        let start = FirewallRunner.now()
        for _ in 0..<count { datagram() }
        let elapsed = FirewallRunner.now() - start
        let allocations = (counter?() ?? 0) - allocationsBefore
        print("reassembly: \(count) UDP datagrams of 4,096 bytes, each in 3 IPv4 fragments, reassembled and fragmented again")
        print("  fragments sent:      \(sent) of \(3 * count)")
        print("  ns per datagram:     \(format(Double(elapsed) / Double(count))) (\(format(Double(elapsed) / Double(3 * count))) per fragment)")
        print("  allocations/datagram: \(format(Double(allocations) / Double(count)))\(counter == nil ? " (not counted: preload Scripts/malloc-count.c)" : "")")
    }

    /// A forward chain of 1,000 rules, none of which matches, then a counter:
    /// every packet is compared with every rule (nft's linear chains).
    static func rules(packets count: Int) throws {
        var text = "table inet filter {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n"
        for i in 0..<1000 {
            text += "\t\tip saddr 192.0.2.\(i % 250 + 1) tcp dport \(1000 + i) counter drop\n"
        }
        text += "\t\tcounter\n\t}\n}\n"
        let ruleset = try Ruleset.parse(text, file: "bench-1000-rules.nft")
        ruleset.bind(interfaceNames: ["lan0", "wan0"])
        var packet = RulePacket()
        packet.family = .ipv4
        packet.inputInterface = 0
        packet.outputInterface = 1
        packet.source = IPv6Address(high: 0, low: 0x0000_ffff_0a00_0102)
        packet.destination = IPv6Address(high: 0, low: 0x0000_ffff_cb00_710a)
        packet.l4Protocol = .tcp
        packet.sourcePort = 40000
        packet.destinationPort = 80
        packet.tcpFlags = .ack
        packet.ctState = .established
        packet.length = 1500
        var log: [String] = []
        log.reserveCapacity(16)
        for _ in 0..<1000 { _ = ruleset.evaluate(.forward, &packet, log: &log) }
        let counter = mallocCounter()
        let allocationsBefore = counter?() ?? 0
        let start = FirewallRunner.now()
        var accepted = 0
        for _ in 0..<count where ruleset.evaluate(.forward, &packet, log: &log) == .accept { accepted += 1 }
        let elapsed = FirewallRunner.now() - start
        let allocations = (counter?() ?? 0) - allocationsBefore
        print("rules: a 1,000-rule forward chain walked to its end, \(count) packets")
        print("  accepted:            \(accepted) of \(count)")
        print("  ns per packet:       \(format(Double(elapsed) / Double(count))) (\(format(Double(elapsed) / Double(count) / 1000)) per rule)")
        printAllocations(allocations, packets: count, counted: counter != nil)
    }

    static func printAllocations(_ allocations: UInt64, packets count: Int, counted: Bool) {
        if counted {
            print("  allocations/packet:  \(format(Double(allocations) / Double(count))) (\(allocations) in total)")
        } else {
            print("  allocations/packet:  unavailable (run with LD_PRELOAD of Scripts/malloc-count.c, as Scripts/bench.sh does)")
        }
    }

    /// `tw_malloc_count` from the preloaded counter, if present.
    static func mallocCounter() -> (() -> UInt64)? {
        // RTLD_DEFAULT is a null handle on glibc: search every loaded object.
        guard let symbol = dlsym(nil, "tw_malloc_count") else { return nil }
        typealias Function = @convention(c) () -> UInt64
        let function = unsafeBitCast(symbol, to: Function.self)
        return { function() }
    }

    static func format(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return String(scaled)
    }
}

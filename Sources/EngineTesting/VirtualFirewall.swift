// A firewall for other projects' tests: the engine with virtual devices
// (interfaces by name, packets in as values or bytes, packets out collected
// per interface), a manual clock, a ruleset from text, and checkers for what
// comes out. No root, no TUN device, no thread: a test injects a packet and
// reads what the firewall did with it, deterministically.
//
//   let firewall = try VirtualFirewall(interfaces: [
//       .init(name: "lan0", addresses: ["10.0.1.1/24"]),
//       .init(name: "wan0", addresses: ["203.0.113.1/24"]),
//   ], ruleset: """
//       table inet nat {
//           chain post { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
//       }
//       """)
//   let out = firewall.send(.tcp(IPv4Address(10, 0, 1, 2), 40000, IPv4Address(203, 0, 113, 10), 80, flags: .syn), on: "lan0")
//   // out.interface == "wan0", out.summary starts "IP 203.0.113.1.40000 > 203.0.113.10.80: Flags [S]"
//
// Impairments (netem's words, as `tunwall impair`) run on the manual clock:
// a delayed packet comes back from `send` with no interface and no drop
// reason, and `advance` releases it into `takeReleased()` with the time it
// was due. The same seed and the same packets give the same losses, delays
// and duplicates every run:
//
//   try firewall.impair("wan0", .out, "delay 50ms 10ms loss 10% seed 7")
//   firewall.send(packet, on: "lan0")          // held (or lost: dropReason .impairLoss)
//   firewall.advance(seconds: 0.1)
//   let released = firewall.takeReleased()     // [(interface: "wan0", bytes, due: now + 40…60 ms)]

import Conntrack
import Engine
import FTP
import Rules
import Wire

/// What became of one injected packet.
public struct FirewallOutput: Sendable {
    /// The interface it left by, or nil if it did not leave.
    public var interface: String?
    /// Why it did not leave (nil if it did, or was consumed by the firewall).
    public var dropReason: DropReason?
    /// The packet as it left (or as it was when dropped).
    public var bytes: [UInt8]
    /// Packets the firewall made meanwhile (ICMP errors, resets, rewritten pieces), with their interfaces.
    public var generated: [(interface: String, bytes: [UInt8])]

    /// tcpdump-style summary of `bytes` ("IP 203.0.113.1.40000 > 203.0.113.10.80: Flags [S], …").
    public var summary: String { PacketSummary.line(for: bytes) }
    /// The packet as a value (nil if the bytes do not parse).
    public var packet: Packet? { try? Packet(parsing: bytes) }
    /// True if every length and checksum in the packet is right (re-encoding gives the same bytes).
    public var isWellFormed: Bool { packet.map { $0.encoded() == bytes } ?? false }
    /// The TCP or UDP payload as text.
    public var payloadText: String { packet.map { String(decoding: $0.payload, as: UTF8.self) } ?? "" }
}

public final class VirtualFirewall {
    public struct Interface: Sendable {
        public var name: String
        public var addresses: [String]
        public var mtu: Int
        /// `.tap`: frames in and out, ARP and ND on the manual clock (`advance` runs their timers).
        public var mode: LinkMode
        /// The firewall's MAC on a TAP interface (nil: made from the name).
        public var mac: MACAddress?

        public init(name: String, addresses: [String], mtu: Int = 1500, mode: LinkMode = .tun, mac: MACAddress? = nil) {
            self.name = name
            self.addresses = addresses
            self.mtu = mtu
            self.mode = mode
            self.mac = mac
        }
    }

    public enum SetupError: Error, CustomStringConvertible {
        case badAddress(String)
        case configuration(String)
        case ruleset(String)
        case impairment(String)

        public var description: String {
            switch self {
            case .badAddress(let text): return "not an interface address: \(text)"
            case .configuration(let text): return text
            case .ruleset(let text): return text
            case .impairment(let text): return text
            }
        }
    }

    public let engine: Engine
    /// The manual clock (nanoseconds); `advance` moves it.
    public private(set) var now: Timestamp = 1_000 * nanosecondsPerSecond
    private var buffer = PacketBuffer.allocate()
    private var released: [(interface: String, bytes: [UInt8], due: Timestamp)] = []

    public init(interfaces: [Interface], ruleset: String? = nil, ftp: FTPPolicy = .default) throws(SetupError) {
        var configured: [InterfaceConfiguration] = []
        for interface in interfaces {
            var addresses: [InterfaceAddress] = []
            for text in interface.addresses {
                guard let address = InterfaceAddress(text) else { throw .badAddress(text) }
                addresses.append(address)
            }
            configured.append(InterfaceConfiguration(name: interface.name, addresses: addresses, mtu: interface.mtu,
                                                     mode: interface.mode, hardwareAddress: interface.mac))
        }
        var configuration = EngineConfiguration(interfaces: configured)
        configuration.ftp = ftp
        do {
            engine = try Engine(configuration)
        } catch {
            throw .configuration("\(error)")
        }
        if let ruleset { try load(ruleset) }
    }

    deinit { buffer.deallocate() }

    /// Replaces the ruleset (nftables syntax), as `tunwall reload` does.
    public func load(_ ruleset: String) throws(SetupError) {
        do {
            engine.replaceRuleset(try Ruleset.parse(ruleset, file: "ruleset.nft"))
        } catch {
            throw .ruleset("\(error)")
        }
    }

    /// Moves the clock forward. Time never goes back: a negative or NaN
    /// step is no step, and a huge one stops at the end of the clock
    /// (Timestamp.max, which deadlines read as "never").
    public func advance(seconds: Double) {
        let nanoseconds = seconds * 1e9
        let step = nanoseconds.isNaN || nanoseconds <= 0 ? 0
            : nanoseconds >= Double(Timestamp.max) ? Timestamp.max : Timestamp(nanoseconds)
        now = saturatingAdd(now, step)
        engine.tick(now: now)
        collectReleased()
    }

    /// Impairs the packets that leave by (`.out`) or came in by (`.in`)
    /// interface `name`, in netem's words: "delay 50ms 10ms distribution
    /// normal loss 2% duplicate 1% reorder 25% gap 5 corrupt 0.1% rate 10mbit
    /// limit 1000 seed 7". An empty string switches it off.
    public func impair(_ name: String, _ direction: ImpairmentDirection, _ words: String) throws(SetupError) {
        let impairment: Impairment
        do {
            impairment = try Impairment.parse(words)
        } catch {
            throw .impairment("impair \(name) \(direction.rawValue): \(error)")
        }
        try impair(name, direction, impairment)
    }

    public func impair(_ name: String, _ direction: ImpairmentDirection, _ impairment: Impairment) throws(SetupError) {
        guard let id = engine.interfaceID(named: name) else { throw .impairment("no interface named \"\(name)\"") }
        engine.setImpairment(impairment, interface: id, direction: direction)
    }

    /// Packets the impairments held and let go since the last call (by
    /// `advance`, or at once for a duplicate due now), in the order they
    /// left, each with the time it was due.
    public func takeReleased() -> [(interface: String, bytes: [UInt8], due: Timestamp)] {
        defer { released.removeAll() }
        return released
    }

    /// When the next held packet is due, if one is held.
    public var nextRelease: Timestamp? { engine.nextImpairedRelease }

    private func collectReleased() {
        engine.releaseImpaired(now: now) { packet, interface, due in
            released.append((engine.interfaces[interface].name, packet.array, due))
        }
    }

    /// Injects a packet arriving on interface `name`.
    @discardableResult
    public func send(_ packet: Packet, on name: String) -> FirewallOutput {
        send(packet.encoded(), on: name)
    }

    @discardableResult
    public func send(_ bytes: [UInt8], on name: String) -> FirewallOutput {
        guard let input = engine.interfaceID(named: name) else {
            return FirewallOutput(interface: nil, dropReason: .unknownInterface, bytes: bytes, generated: [])
        }
        buffer.load(bytes)
        let verdict = engine.process(&buffer, from: input, now: now)
        var output = FirewallOutput(interface: nil, dropReason: nil, bytes: buffer.array, generated: takeGenerated())
        switch verdict {
        case .forward(let out): output.interface = engine.interfaces[out].name
        case .drop(let reason): output.dropReason = reason
        case .consumed: break
        }
        collectReleased()
        return output
    }

    /// Packets the firewall made on its own since the last call (released held lines after `advance`).
    public func takeGenerated() -> [(interface: String, bytes: [UInt8])] {
        var result: [(String, [UInt8])] = []
        engine.outbox.drain { packet, interface in result.append((engine.interfaces[interface].name, packet.array)) }
        return result
    }

    /// The neighbour table of the TAP interfaces, as `tunwall neigh` lists it.
    public var neighbours: [NeighbourRecord] { engine.neighbourRecords() }

    /// `conntrack -L` lines.
    public var connections: [String] { engine.conntrack.listing(now: now) }
    /// `conntrack -L expect` lines.
    public var expectations: [String] { engine.conntrack.expectationListing(now: now) }
    /// `tunwall stats`.
    public var statistics: String { engine.statisticsReport(now: now) }
}

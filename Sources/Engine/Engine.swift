// The forwarding engine: one packet in, a verdict out, in the order of the
// Linux netfilter hooks (docs/ARCHITECTURE.md):
//
//   parse → reassembly → prerouting (conntrack) → routing ─┬─ input (the
//                                      firewall's own addresses: │ ping, else
//                                      reset / port unreachable) │
//                                                          └─ forward (TTL, MTU, filter)
//                                                             → postrouting (confirm)
//                                                             → out (refragmented)
//                                                             → impairments (ImpairStage.swift)
//
// No syscalls: time comes in with each packet, packets come in as buffers,
// and packets the engine makes wait in `outbox` for the caller to send.
//
// Example: a SYN from the client (lan0) to 203.0.113.10:80 parses, is `new`
// to conntrack, routes to wan0, has its TTL decremented, is confirmed into
// the table and comes back as `.forward(wan0)`.
//
// The ruleset's filter chains run at each hook (RuleHooks.swift); with no
// ruleset every packet that survives the checks above is accepted, as with an
// empty nftables ruleset. NAT is NATStage.swift; helpers (FTP, TFTP) run after
// source NAT, in HelperStage.swift.

import Conntrack
import Rules
import Wire

public enum Verdict: Equatable, Sendable {
    /// Send the (possibly rewritten) packet out of this interface.
    case forward(InterfaceID)
    /// Dropped, and counted under this reason.
    case drop(DropReason)
    /// Handled here (delivered to the firewall, or replaced by fragments in
    /// the outbox); nothing to send for this buffer itself.
    case consumed
}

public final class Engine {
    public let configuration: EngineConfiguration
    public let interfaces: [InterfaceConfiguration]
    // The engine is driven by one thread and never re-enters itself, so the
    // per-access exclusivity checks Swift adds to class properties are pure
    // cost on the packet path: switched off for the properties it touches.
    @exclusivity(unchecked) public var conntrack: Conntrack
    @exclusivity(unchecked) public internal(set) var statistics: Statistics
    public let outbox = Outbox()
    let routes: RouteTable
    /// The firewall's own addresses, IPv4 held IPv4-mapped like tuples.
    let localAddresses: [IPv6Address]
    /// Subnet-directed broadcast addresses of the IPv4 subnets (not forwarded).
    let broadcastAddresses: [IPv4Address]
    @exclusivity(unchecked) var icmpLimiter = RateLimiter(perSecond: 1000, burst: 50)
    @exclusivity(unchecked) var identification: UInt16
    @exclusivity(unchecked) var packetsSinceSweep = 0
    /// The rules in force; replaced whole by `replaceRuleset` (reload).
    @exclusivity(unchecked) public internal(set) var ruleset: Ruleset = .empty
    /// False while the ruleset is the empty one: the hooks are skipped.
    @exclusivity(unchecked) var hasRules = false
    /// Tracing (Trace.swift): off unless the runner turns it on; nothing is
    /// recorded and nothing allocated for traces while it is off.
    @exclusivity(unchecked) public var tracing = false
    /// Tracing packets a rule marks (`meta nftrace set 1`, TraceMark.swift):
    /// whether anyone wants them (`tunwall monitor trace`; Linux makes trace
    /// events only while a listener is there, nfnetlink_has_listeners).
    /// On by default, for engines driven in tests.
    public var followsNftrace = true {
        didSet { tracingMarked = followsNftrace && ruleset.setsNftrace }
    }
    /// followsNftrace and a ruleset that can mark: the one Bool the hooks test.
    @exclusivity(unchecked) var tracingMarked = false
    /// Numbering and clock of the trace; each packet's own trace travels in
    /// its PacketContext.
    @exclusivity(unchecked) var traceCount = 0
    /// With several workers trace numbers are unique across them, as conntrack ids are: worker w
    /// of n numbers w+1, w+1+n, … (joinSteering); with one, 1, 2, 3, …
    @exclusivity(unchecked) var traceStride = 1
    @exclusivity(unchecked) var traceStart: Timestamp? = nil
    @exclusivity(unchecked) var traceClock: Timestamp = 0
    @exclusivity(unchecked) var finishedTraces: [TraceRecord] = []
    @exclusivity(unchecked) var pendingGeneratedTraces: [TraceRecord] = []
    /// Helpers (HelperRegistry) by the table position of their connection.
    @exclusivity(unchecked) var helpers: [Int32: HelperSlot] = [:]
    /// The sessions among them that hold bytes (released by `tick`).
    @exclusivity(unchecked) var holdingSessions: Set<Int32> = []
    @exclusivity(unchecked) var lastPurge: Timestamp = 0
    @exclusivity(unchecked) var randomState: UInt64
    /// Lines the rules' `log` statements wrote, until `takeLog`.
    @exclusivity(unchecked) var pendingLog: [String] = []
    /// Fragments waiting for the rest of their datagram (Reassembly.swift).
    @exclusivity(unchecked) var reassembly = Reassembler()
    /// Impairments (ImpairStage.swift): two stages per interface (in, out),
    /// the packets they hold, and whether any is on (one branch per packet
    /// while none is).
    @exclusivity(unchecked) var impairing = false
    @exclusivity(unchecked) var impairmentStages: [ImpairmentStage]
    let impairmentQueue = ImpairmentQueue()
    /// Buffers for duplicates on their way through the stages (at most two deep).
    @exclusivity(unchecked) var impairmentScratch: [PacketBuffer] = []
    /// TAP interfaces (LinkStage.swift, NeighbourStage.swift): whether any
    /// is configured (one branch per packet while none is), which, their
    /// MACs, and the neighbour table.
    let hasEthernet: Bool
    let isEthernet: [Bool]
    let hardwareAddresses: [MACAddress]
    @exclusivity(unchecked) var neighbours: NeighbourTable
    @exclusivity(unchecked) var neighbourActions: [NeighbourAction] = []
    /// The latest time the engine was told (a packet or a tick): packets
    /// the outbox frames on the way out are resolved at it.
    @exclusivity(unchecked) var linkClock: Timestamp = 0
    /// With several workers, this engine's shard in the steering directory
    /// (SteeringStage.swift); nil with one.
    @exclusivity(unchecked) public internal(set) var steering: SteeringMembership? = nil
    /// Set when `process` returned `.consumed` because the packet belongs
    /// to another worker; nil otherwise.
    @exclusivity(unchecked) public internal(set) var handOff: HandOff? = nil
    /// Several workers, at a worker other than 0: which impairment stages
    /// worker 0 has on (`mirrorImpairments`).
    @exclusivity(unchecked) var remoteImpairmentStages: [Bool] = []
    @exclusivity(unchecked) var remoteImpairing = false

    public init(_ configuration: EngineConfiguration, seed: UInt64 = 0) throws(ConfigurationError) {
        guard !configuration.interfaces.isEmpty else { throw .noInterfaces }
        var names: Set<String> = []
        var resolved: [Route] = []
        for (id, interface) in configuration.interfaces.enumerated() {
            guard names.insert(interface.name).inserted else { throw .duplicateInterface(interface.name) }
            let mac = interface.effectiveHardwareAddress
            if interface.mode == .tap && (mac.isMulticast || mac == .zero) {
                throw .badHardwareAddress(interface.name, mac.description)
            }
            let hasV6 = interface.addresses.contains { !$0.address.isV4 }
            guard interface.mtu >= (hasV6 ? 1280 : 576), interface.mtu <= 65_535 else {
                throw .badMTU(interface.name, interface.mtu)
            }
            for address in interface.addresses {
                resolved.append(Route(prefix: address.prefix, interface: id, gateway: nil))
            }
        }
        let connected = RouteTable(resolved)
        for route in configuration.routes {
            let text = route.destination.description
            var id: InterfaceID
            if let name = route.interface {
                guard let found = configuration.interfaces.firstIndex(where: { $0.name == name }) else {
                    throw .unknownRouteInterface(route: text, interface: name)
                }
                id = found
            } else {
                guard let gateway = route.gateway else { throw .unreachableGateway(route: text, gateway: "none") }
                let onLink: Route?
                switch gateway {
                case .v4(let a): onLink = connected.lookup(a)
                case .v6(let a): onLink = connected.lookup(a)
                }
                guard let link = onLink else { throw .unreachableGateway(route: text, gateway: gateway.description) }
                id = link.interface
            }
            let destinationIsV4: Bool
            if case .v4 = route.destination { destinationIsV4 = true } else { destinationIsV4 = false }
            if let gateway = route.gateway, gateway.isV4 != destinationIsV4 { throw .familyMismatch(route: text) }
            resolved.append(Route(prefix: route.destination, interface: id, gateway: route.gateway))
        }
        self.configuration = configuration
        interfaces = configuration.interfaces
        routes = RouteTable(resolved)
        localAddresses = configuration.interfaces.flatMap { $0.addresses.map { ConnTuple.wide($0.address) } }
        broadcastAddresses = configuration.interfaces.flatMap { interface in
            interface.addresses.compactMap { own -> IPv4Address? in
                if case .v4(let p) = own.prefix, p.length < 31 { return p.lastAddress }
                return nil
            }
        }
        conntrack = Conntrack(capacity: configuration.conntrackCapacity, timeouts: configuration.timeouts)
        statistics = Statistics(interfaceCount: configuration.interfaces.count)
        impairmentStages = Array(repeating: ImpairmentStage(), count: 2 * configuration.interfaces.count)
        identification = UInt16(truncatingIfNeeded: seed)
        randomState = seed ^ 0x5851_f42d_4c95_7f2d
        isEthernet = configuration.interfaces.map { $0.mode == .tap }
        hasEthernet = isEthernet.contains(true)
        hardwareAddresses = configuration.interfaces.map(\.effectiveHardwareAddress)
        neighbours = NeighbourTable(seed: seed ^ 0x9e37_79b9_7f4a_7c15, interfaces: configuration.interfaces.count)
        if hasEthernet {
            outbox.frame = { [unowned self] packet, interface in self.frameGenerated(&packet, interface) }
        }
    }

    public func interfaceID(named name: String) -> InterfaceID? {
        interfaces.firstIndex { $0.name == name }
    }

    // MARK: The pipeline

    /// Runs one packet that arrived on `input` through the pipeline (and,
    /// while `tracing`, records what happened to it: Trace.swift).
    public func process(_ packet: inout PacketBuffer, from input: InterfaceID, now: Timestamp) -> Verdict {
        if hasEthernet { return processLink(&packet, from: input, now: now) }
        return processIP(&packet, from: input, now: now, link: LinkFacts())
    }

    /// The IP packet's way (the whole of it on TUN interfaces); `link` is
    /// what its Ethernet header said, for rules and log lines. Inlined into
    /// `process`, so that TUN packets pay no call for the TAP split.
    @inline(__always)
    func processIP(_ packet: inout PacketBuffer, from input: InterfaceID, now: Timestamp, link: LinkFacts) -> Verdict {
        var ctx = PacketContext(input: input, now: now)
        ctx.link = link
        return process(&packet, &ctx)
    }

    /// Runs a packet another worker handed to this one (SteeringStage.swift)
    /// from the step after the one that sent it here.
    public func process(_ packet: inout PacketBuffer, from input: InterfaceID, now: Timestamp, handOff: HandOff) -> Verdict {
        if handOff.stage == .impairment {
            // Forwarded by another worker: only the impairments are left.
            self.handOff = nil
            guard impairing, handOff.output >= 0, handOff.output < interfaces.count, input >= 0, input < interfaces.count
            else { return .forward(handOff.output) }
            return impair(&packet, input: input, output: handOff.output, now: now, nil)
        }
        var ctx = PacketContext(input: input, now: now)
        ctx.steered = handOff.stage
        ctx.reassembled = handOff.reassembled
        return process(&packet, &ctx)
    }

    @inline(__always)
    private func process(_ packet: inout PacketBuffer, _ ctx: inout PacketContext) -> Verdict {
        let input = ctx.input, now = ctx.now
        if steering != nil { handOff = nil }
        // Tracing everything starts a record here; a rule's `meta nftrace set 1`
        // starts one where it marks the packet (markTrace).
        if tracing { ctx.trace = beginTrace(packet, input: input, now: now) }
        var verdict = pipeline(&packet, &ctx)
        if impairing || remoteImpairing, case .forward(let output) = verdict {
            verdict = remoteImpairing ? impairElsewhere(input: input, output: output) ?? verdict
                : impair(&packet, input: input, output: output, now: now, ctx.trace)
        }
        if ctx.trace != nil { finishTrace(verdict, packet, ctx.trace) }
        return verdict
    }

    deinit {
        for buffer in impairmentScratch { buffer.deallocate() }
    }

    private func pipeline(_ packet: inout PacketBuffer, _ ctx: inout PacketContext) -> Verdict {
        let input = ctx.input, now = ctx.now
        guard input >= 0, input < interfaces.count else { return drop(.unknownInterface) }
        if ctx.reassembled == nil {
            statistics.interfaces[input].receivedPackets &+= 1
            statistics.interfaces[input].receivedBytes &+= UInt64(packet.length)
            ctx.receivedLength = packet.length
        }
        packetsSinceSweep += 1
        if packetsSinceSweep >= 64 {
            packetsSinceSweep = 0
            conntrack.sweep(now: now, budget: 32)
        }

        do {
            try PacketParser.parse(packet.bytes, virtio: packet.virtio, into: &ctx.parsed)
        } catch {
            return drop(error)
        }
        // Trim bytes past the IP length (a TUN read carries none, but a
        // caller's buffer may), so that what is sent is the packet alone.
        packet.length = ctx.parsed.length

        // Reassembly before conntrack (nf_defrag_ipv4, nf_conntrack_reasm):
        // everything after this sees whole datagrams only.
        if ctx.parsed.isFragment {
            if let steering, ctx.steered == .none, let away = steerFragment(packet, &ctx, steering) { return away }
            if let stop = reassemble(&packet, &ctx) { return stop }
        }
        // With several workers, the connection's owner runs the rest (SteeringStage.swift).
        if let steering, ctx.steered != .done, let away = steerConnection(packet, &ctx, steering) { return away }

        // Routing decision. Multicast and link-scope traffic (a host's MLD
        // reports, router solicitations) is not for forwarding; it is counted
        // apart from forged sources.
        if isMulticastOrBroadcast(ctx.parsed.tuple.destination, ctx.parsed.family)
            || !isUnicastSource(ctx.parsed.tuple.destination, ctx.parsed.family) {
            return drop(.martianDestination)
        }
        if !isUnicastSource(ctx.parsed.tuple.source, ctx.parsed.family) || isLocal(ctx.parsed.tuple.source) {
            return drop(.martianSource)
        }

        // PREROUTING: connection tracking, then the prerouting chains.
        ctx.tracking = track(ctx.parsed, now: now)
        if ctx.trace != nil { traceConntrack(ctx.tracking, &ctx.trace) }
        if hasRules {
            ctx.rules = rulePacket(packet.bytes, ctx.parsed, input: input, state: ctx.tracking.state, now: now,
                                   entry: ctx.tracking.entry)
            if ctx.link.isEthernet {
                ctx.rules.linkSource = ctx.link.source.value
                ctx.rules.linkDestination = ctx.link.destination.value
                ctx.rules.linkType = ctx.link.type
            }
            let verdict = runHook(.prerouting, &ctx, packet)
            if verdict != .accept {
                return ruleDrop(verdict, packet.bytes, ctx.parsed, input: input, state: ctx.tracking.state, now: now)
            }
        }

        // dstnat: DNAT and redirect for new connections, and the destination
        // half of every translated one.
        if let stop = natDestination(&packet, &ctx) { return stop }
        if ctx.trace != nil { traceNAT(packet, &ctx.trace) }

        if isLocal(ctx.parsed.tuple.destination) {
            if hasRules {
                let verdict = runHook(.input, &ctx, packet)
                if verdict != .accept {
                    return ruleDrop(verdict, packet.bytes, ctx.parsed, input: input, state: ctx.tracking.state, now: now)
                }
            }
            // INPUT's nat chains (snat, after the filter chains: Linux's
            // NF_IP_PRI_NAT_SRC at LOCAL_IN) and the source half of
            // connections to the firewall already translated.
            if let stop = natSource(&packet, &ctx, output: input, hook: .input) { return stop }
            return deliverLocally(packet.bytes, ctx.parsed, &ctx.tracking, from: input, now: now)
        }
        guard let route = lookupRoute(ctx.parsed.tuple.destination, ctx.parsed.family) else {
            sendICMPError(.networkUnreachable, about: packet.bytes, parsed: ctx.parsed, now: now)
            return drop(.noRoute)
        }

        // FORWARD (ip_forward order: TTL, then MTU, then the hook).
        if ctx.parsed.ttl <= 1 {
            sendICMPError(.timeExceeded, about: packet.bytes, parsed: ctx.parsed, now: now)
            return drop(.ttlExceeded)
        }
        let mtu = interfaces[route.interface].mtu
        // Too big and DF clear: fragmented on the way out, after the hooks
        // (Linux fragments in ip_finish_output, past POSTROUTING). A
        // reassembled datagram leaves in pieces no bigger than it came in
        // (frag_max_size), IPv4 or IPv6; when those were bigger than the
        // MTU and may not be cut (IPv6, or IPv4 DF) the sender is told
        // (ip_exceeds_mtu, ip6_pkt_too_big).
        var fragmentSize = 0
        if let reassembled = ctx.reassembled {
            if reassembled.maxFragmentSize > mtu && (ctx.parsed.family == .ipv6 || ctx.parsed.dontFragment) {
                sendICMPError(.fragmentationNeeded(mtu: mtu), about: packet.bytes, parsed: ctx.parsed, now: now)
                return drop(.packetTooBig)
            }
            let size = min(mtu, reassembled.maxFragmentSize)
            if ctx.parsed.length > size { fragmentSize = size }
        } else if exceedsMTU(packet, ctx.parsed, mtu: mtu) {
            guard ctx.parsed.family == .ipv4 && !ctx.parsed.dontFragment && packet.virtio.gsoType == .none else {
                sendICMPError(.fragmentationNeeded(mtu: mtu), about: packet.bytes, parsed: ctx.parsed, now: now)
                return drop(.packetTooBig)
            }
            fragmentSize = mtu
        }
        decrementTTL(packet.bytes, ctx.parsed)
        if hasRules {
            // FORWARD, then POSTROUTING (its filter chains; NAT comes later).
            ctx.rules.outputInterface = route.interface
            ctx.rules.ttl = ctx.parsed.ttl &- 1
            var verdict = runHook(.forward, &ctx, packet)
            if verdict == .accept { verdict = runHook(.postrouting, &ctx, packet) }
            if verdict != .accept {
                return ruleDrop(verdict, packet.bytes, ctx.parsed, input: input, state: ctx.tracking.state, now: now)
            }
        }

        // `ct helper set` on a new connection: the helper follows it once confirmed.
        if ctx.tracking.isPending && hasRules && ctx.rules.helper != .none && ctx.parsed.l4Protocol == ctx.rules.helper.transport {
            conntrack.setPendingHelper(ctx.rules.helper)
            if ctx.trace != nil {
                ctx.trace?.record.steps.append(TraceStep(kind: ctx.rules.helper.description, text: "helper \(ctx.rules.helper) attached to the new connection (ct helper set)",
                                                    fields: [("event", .string("attached"))]))
            }
        }

        // srcnat: SNAT and masquerade, and the source half of translated connections.
        if let stop = natSource(&packet, &ctx, output: route.interface) { return stop }
        if ctx.trace != nil { traceNAT(packet, &ctx.trace) }

        // Helpers read (and under NAT rewrite) the payload of their connections;
        // never a segment conntrack called invalid (Linux: such a packet has no
        // conntrack, so no helper runs), which cannot then move their stream.
        if !helpers.isEmpty, ctx.tracking.state != .invalid, let position = ctx.tracking.entry, !ctx.parsed.isFragment,
           conntrack.table.helper(position).transport == ctx.parsed.l4Protocol {
            if let stop = runHelper(&packet, &ctx, entry: position, output: route.interface) { return stop }
        }

        // Sequence adjustment of connections a helper rewrote.
        if let position = ctx.tracking.entry, !ctx.parsed.isICMPError {
            adjustSequence(&packet, ctx.parsed, entry: position, direction: ctx.tracking.direction)
        }

        // Confirm: a new connection enters the table only now.
        let wasPending = ctx.tracking.isPending
        guard confirm(&ctx.tracking, now: now) else { return drop(.conntrackFull) }
        if wasPending && (conntrack.pending.helper != .none || ctx.tracking.state == .related) {
            startHelper(ctx.tracking, packet.bytes, ctx.parsed, now: now, &ctx.trace)
        }
        if fragmentSize > 0 {
            if ctx.parsed.family == .ipv6, let reassembled = ctx.reassembled {
                return fragmentIPv6(&packet, reassembled, size: fragmentSize, to: route.interface)
            }
            return fragment(&packet, ctx.parsed, mtu: fragmentSize, to: route.interface)
        }
        if ctx.helper.resized {
            splitOversizedSegment(&packet, &ctx.parsed, mtu: mtu, overflow: ctx.helper.overflow, to: route.interface)
        }
        statistics.forwarded &+= 1
        countSent(route.interface, packet.length)
        return .forward(route.interface)
    }

    /// Sweeps expired connections; call when idle (e.g. once a second).
    public func tick(now: Timestamp) {
        traceClock = now
        conntrack.sweep(now: now, budget: 1024)
        if !reassembly.isEmpty { expireFragments(now: now) }
        if !holdingSessions.isEmpty { releaseHeldLines(now: now) }
        if hasEthernet { runNeighbourTimers(now: now) }
        // Tick runs every few ms while a line is held; the rest once a second is enough.
        if now >= saturatingAdd(lastPurge, nanosecondsPerSecond) && (!helpers.isEmpty || !conntrack.expectations.isEmpty) {
            lastPurge = now
            purgeHelpers(now: now)
        }
    }

    /// Counts a packet the caller sent for us (outbox packets included).
    public func countSent(_ interface: InterfaceID, _ length: Int) {
        guard interface >= 0, interface < statistics.interfaces.count else { return }
        statistics.interfaces[interface].sentPackets &+= 1
        statistics.interfaces[interface].sentBytes &+= UInt64(length)
    }

    /// Counts a drop the caller decided (e.g. the device queue was full).
    public func count(_ reason: DropReason) {
        statistics.drops[reason.rawValue] &+= 1
    }

    func drop(_ reason: DropReason) -> Verdict {
        count(reason)
        return .drop(reason)
    }

    // MARK: Stages

    private func track(_ parsed: ParsedPacket, now: Timestamp) -> TrackResult {
        if parsed.isLaterFragment {
            // Reassembly ran first (ReassemblyStage), so no later fragment
            // gets here; were one to, it has no ports to track.
            return TrackResult(state: .untracked)
        }
        if parsed.badChecksum {
            conntrack.countInvalid(.badChecksum)
            return TrackResult(state: .invalid, invalidReason: .badChecksum)
        }
        let result = conntrack.track(parsed.tracked, now: now)
        if let position = result.entry, parsed.tracked.tuple.protocol == .tcp, ruleset.sharesConnectionCounts {
            forgetCountedIfClosed(position)
        }
        return result
    }

    /// Several workers share the `ct count` lists, and the others cannot see
    /// this shard's TCP states: a connection entering TIME_WAIT or CLOSE,
    /// which nf_conncount stops counting, leaves the lists here.
    @inline(never)
    private func forgetCountedIfClosed(_ position: Int) {
        let entry = conntrack.table[position]
        guard entry.tcpState == .timeWait || entry.tcpState == .close else { return }
        ruleset.forgetCounted(entry.original)
    }

    private func confirm(_ tracking: inout TrackResult, now: Timestamp) -> Bool {
        !tracking.isPending || conntrack.confirm(&tracking, now: now)
    }

    /// INPUT: the firewall answers pings; anything else to it is refused the
    /// way Linux refuses a closed port (RST for TCP, port unreachable for UDP).
    private func deliverLocally(_ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket,
                                _ tracking: inout TrackResult, from input: InterfaceID, now: Timestamp) -> Verdict {
        let isEcho = (parsed.family == .ipv4 && parsed.l4Protocol == .icmp && parsed.icmpType == ICMPv4Type.echoRequest.rawValue)
            || (parsed.family == .ipv6 && parsed.l4Protocol == .icmpv6 && parsed.icmpType == ICMPv6Type.echoRequest.rawValue)
        if isEcho && !parsed.isFragment && !parsed.badChecksum {
            guard confirm(&tracking, now: now) else { return drop(.conntrackFull) }
            statistics.deliveredLocally &+= 1
            sendEchoReply(to: bytes, parsed: parsed, arrivedOn: input, now: now)
            return .consumed
        }
        if parsed.l4Protocol == .tcp && !parsed.isFragment {
            sendReset(for: parsed, arrivedOn: input, state: tracking.state)
        } else if parsed.l4Protocol == .udp && !parsed.isFragment {
            sendICMPError(.portUnreachable, about: bytes, parsed: parsed, now: now)
        }
        return drop(.localNoService)
    }

    private func exceedsMTU(_ packet: PacketBuffer, _ parsed: ParsedPacket, mtu: Int) -> Bool {
        if packet.virtio.gsoType != .none {
            // A GSO super-packet leaves as segments of gso_size payload each
            // (Linux: skb_gso_validate_network_len).
            let headers = Int(packet.virtio.headerLength) > 0 ? Int(packet.virtio.headerLength) : parsed.l4Offset + TCPSegment.minimumHeaderLength
            return headers + Int(packet.virtio.gsoSize) > mtu
        }
        return parsed.length > mtu
    }

    /// ip_decrease_ttl: TTL - 1 with an RFC 1624 checksum update; hop limit - 1.
    /// The caller checked the TTL is above 1.
    private func decrementTTL(_ bytes: UnsafeMutableRawBufferPointer, _ parsed: ParsedPacket) {
        switch parsed.family {
        case .ipv4: IPv4Packet(parsed: bytes).decrementTTL()
        case .ipv6: IPv6Packet(parsed: bytes).hopLimit &-= 1
        }
    }

    // MARK: Addresses and routes

    func isLocal(_ address: IPv6Address) -> Bool {
        for local in localAddresses where local == address { return true }
        return false
    }

    func lookupRoute(_ address: IPv6Address, _ family: AddressFamily) -> Route? {
        family == .ipv4 ? routes.lookup(address.lowIPv4) : routes.lookup(address)
    }

    /// The interface toward `address` and the firewall's address of that
    /// family on it, to send an error from.
    func routeBack(to address: IPv6Address, family: AddressFamily) -> (InterfaceID, IPv6Address)? {
        guard let route = lookupRoute(address, family) else { return nil }
        for own in interfaces[route.interface].addresses where own.address.isV4 == (family == .ipv4) {
            return (route.interface, ConnTuple.wide(own.address))
        }
        return nil
    }

    /// Multicast, and IPv4 limited or subnet-directed broadcast on one of our subnets.
    func isMulticastOrBroadcast(_ address: IPv6Address, _ family: AddressFamily) -> Bool {
        if family == .ipv6 { return address.isMulticast }
        let v4 = address.lowIPv4
        if v4.isMulticast || v4.value == 0xffff_ffff { return true }
        for broadcast in broadcastAddresses where broadcast == v4 { return true }
        return false
    }

    /// An address that names one host and may be routed: not unspecified,
    /// loopback, multicast, or IPv6 link-local (RFC 4291 §2.5.6).
    func isUnicastSource(_ address: IPv6Address, _ family: AddressFamily) -> Bool {
        if family == .ipv6 {
            return !(address.isUnspecified || address.isLoopback || address.isMulticast || address.isLinkLocal)
        }
        let v4 = address.lowIPv4
        return !(v4.isUnspecified || v4.isLoopback || v4.isMulticast || v4.value == 0xffff_ffff)
    }
}

// Network address translation, the way netfilter does it (nf_nat_core.c):
// the first packet of a connection meets the `type nat` chains, the first NAT
// statement it reaches decides the connection's translated tuple, and from
// then on every packet of the connection, both ways, is rewritten from the
// conntrack entry alone, without asking the rules again:
//
//   prerouting:  the destination half (DNAT, redirect; and undoing SNAT on replies)
//   postrouting: the source half (SNAT, masquerade; and undoing DNAT on replies)
//
// Example (masquerade on wan0): 10.0.1.2:40000 → 203.0.113.10:80 leaves as
// 203.0.113.1:40000 → 203.0.113.10:80; the entry's reply tuple is
// 203.0.113.10:80 → 203.0.113.1:40000, so the server's answer is found by it
// and rewritten back to 10.0.1.2:40000 before it reaches the LAN.
//
// Source ports are kept when free and otherwise chosen as Linux does
// (nf_nat_l4proto_unique_tuple): below 512 from 1-511, below 1024 from
// 600-1023, else from 1024-65535, or from the range the rule gives; starting
// at a hash of the tuple, or at random with `random`/`fully-random`
// (`fully-random` never keeps the original port). A mapping in use is never
// handed out; when none is free the packet is dropped (`nat-exhausted`).

import Conntrack
import Rules
import Wire

extension Engine {
    /// PREROUTING NAT: rewrites the destination half of `packet` and of its
    /// parsed tuple; for a new connection, takes the NAT decision of DNAT,
    /// redirect or its expectation. Returns a verdict only when the packet must stop.
    func natDestination(_ packet: inout PacketBuffer, _ ctx: inout PacketContext) -> Verdict? {
        let tracking = ctx.tracking
        var target: ConnTuple
        if let position = tracking.entry {
            guard !conntrack.table.status(position).isDisjoint(with: [.sourceNAT, .destinationNAT]) else { return nil }
            if tracking.state == .related && ctx.parsed.isICMPError {
                translateICMPError(&packet, &ctx, conntrack.table[position], tracking.direction)
                return nil
            }
            target = conntrack.table.translated(position, tracking.direction)
        } else if tracking.isPending, let expected = conntrack.pendingTranslation {
            // A connection an expectation let in is translated as its master
            // says (nf_nat_follow_master), not by the nat chains; its source
            // port stays unless another connection holds that mapping.
            var tuple = expected
            if expected.source != ctx.parsed.tuple.source,
               !chooseSource(&tuple, expected.source, NATTarget(), now: ctx.now) {
                return drop(.natExhausted)
            }
            ctx.nat = NATDecision(tuple: tuple, fromExpectation: true)
            target = tuple
        } else if tracking.isPending && ruleset.hasNATChains(.prerouting) {
            var tuple = ctx.parsed.tuple
            switch natRules(.prerouting, &ctx, packet) {
            case .none:
                return nil
            case .drop:
                return drop(.ruleDrop)
            case .translate(let action):
                switch action {
                case .dnat(let to):
                    if let address = pickAddress(to, parsed: ctx.parsed) { tuple.destination = address }
                    if let port = to.minimumPort { tuple.destinationPort = port }
                case .redirect(let to):
                    guard let own = ownAddress(on: ctx.input, family: ctx.parsed.family) else { return drop(.natExhausted) }
                    tuple.destination = own
                    if let port = to.minimumPort { tuple.destinationPort = port }
                case .snat, .masquerade:
                    return nil
                }
                ctx.nat = NATDecision(tuple: tuple)
                target = tuple
            }
        } else {
            return nil
        }
        if target.destination != ctx.parsed.tuple.destination || target.destinationPort != ctx.parsed.tuple.destinationPort {
            HeaderRewrite.setDestination(packet.bytes, ctx.parsed, partial: packet.virtio.needsChecksum,
                                         address: target.destination, port: target.destinationPort)
            ctx.parsed.tracked.tuple.destination = target.destination
            if !ctx.parsed.tuple.isICMP { ctx.parsed.tracked.tuple.destinationPort = target.destinationPort }
            ctx.rules.destination = target.destination
            ctx.rules.destinationPort = ctx.parsed.tuple.isICMP ? ctx.rules.destinationPort : target.destinationPort
        }
        return nil
    }

    /// A hook's nat chains for a new connection; one of their rules may mark
    /// the packet for tracing (`meta nftrace set 1`) as a filter chain's may.
    @inline(__always)
    func natRules(_ hook: Hook, _ ctx: inout PacketContext, _ packet: PacketBuffer) -> NATVerdict {
        let verdict = ruleset.evaluateNAT(hook, &ctx.rules, log: &pendingLog)
        if tracingMarked && ctx.rules.nftrace { markTrace(hook, verdict: nil, &ctx, packet) }
        return verdict
    }

    /// POSTROUTING NAT (and INPUT's, for connections to the firewall): rewrites
    /// the source half, choosing the mapping for a new connection, and records
    /// the translation in its pending entry.
    func natSource(_ packet: inout PacketBuffer, _ ctx: inout PacketContext, output: InterfaceID,
                   hook: Hook = .postrouting) -> Verdict? {
        let tracking = ctx.tracking
        var target: ConnTuple
        if let position = tracking.entry {
            guard !(tracking.state == .related && ctx.parsed.isICMPError),
                  !conntrack.table.status(position).isDisjoint(with: [.sourceNAT, .destinationNAT]) else { return nil }
            target = conntrack.table.translated(position, tracking.direction)
        } else if tracking.isPending {
            var tuple = ctx.nat?.tuple ?? ctx.parsed.tuple
            let fromExpectation = ctx.nat?.fromExpectation ?? false
            var decided = ctx.nat != nil
            if ruleset.hasNATChains(hook) && !fromExpectation {
                if hook == .postrouting { ctx.rules.outputInterface = output }
                switch natRules(hook, &ctx, packet) {
                case .none, .translate(.dnat), .translate(.redirect):
                    break
                case .drop:
                    return drop(.ruleDrop)
                case .translate(.masquerade(let to)):
                    guard let own = ownAddress(on: output, family: ctx.parsed.family),
                          chooseSource(&tuple, own, to, now: ctx.now) else { return drop(.natExhausted) }
                    decided = true
                case .translate(.snat(let to)):
                    guard let address = pickAddress(to, parsed: ctx.parsed), chooseSource(&tuple, address, to, now: ctx.now) else {
                        return drop(.natExhausted)
                    }
                    decided = true
                }
            }
            guard decided else { return nil }
            ctx.nat = NATDecision(tuple: tuple, fromExpectation: fromExpectation)
            conntrack.translatePending(to: tuple)
            target = tuple
        } else {
            return nil
        }
        if target.source != ctx.parsed.tuple.source || target.sourcePort != ctx.parsed.tuple.sourcePort {
            HeaderRewrite.setSource(packet.bytes, ctx.parsed, partial: packet.virtio.needsChecksum,
                                    address: target.source, port: target.sourcePort)
        }
        return nil
    }

    /// An ICMP error about a translated connection (nf_nat_icmp_reply_translation):
    /// the packet it quotes went the other way and was translated on its way
    /// out, so the quote is put back as its sender wrote it (inner addresses,
    /// ports or identifier, inner checksums), the outer destination becomes
    /// that sender, and an error sent by the peer itself gets the address the
    /// other side knows it by. Then the ICMP checksum is computed afresh.
    /// So a traceroute or a path-MTU error from beyond the NAT reaches the
    /// inside host and matches its socket.
    private func translateICMPError(_ packet: inout PacketBuffer, _ ctx: inout PacketContext, _ entry: ConnEntry,
                                    _ direction: Direction) {
        let bytes = packet.bytes
        let l4 = ctx.parsed.l4Offset
        // Both ICMP versions have an 8-byte header before the quoted packet.
        let quotedAt = l4 + ICMPv4Message.headerLength
        guard bytes.count >= quotedAt else { return }
        let quotedDirection = direction.opposite
        let asSent = entry.tuple(quotedDirection)              // how its sender wrote the quoted packet
        let onTheWire = entry.translated(quotedDirection)      // how it left the firewall
        let outer = entry.translated(direction)
        // The quoted packet.
        let inner = bytes.suffix(from: quotedAt)
        var innerParsed = ParsedPacket.empty
        innerParsed.family = ctx.parsed.family
        innerParsed.l4Protocol = asSent.protocol
        switch ctx.parsed.family {
        case .ipv4:
            guard let ip = try? IPv4Packet(validatingQuoted: inner) else { return }
            innerParsed.l4Offset = ip.headerLength
        case .ipv6:
            guard let ip = try? IPv6Packet(validatingQuoted: inner), let chain = try? ip.extensionChain() else { return }
            innerParsed.l4Offset = chain.upperLayerOffset
        }
        innerParsed.tracked.tuple = onTheWire
        HeaderRewrite.setSource(inner, innerParsed, partial: false, address: asSent.source, port: asSent.sourcePort)
        HeaderRewrite.setDestination(inner, innerParsed, partial: false, address: asSent.destination,
                                     port: asSent.destinationPort)
        // The outer header: to the quoted packet's sender; from the address it
        // knows its peer by, if the peer itself sent the error.
        HeaderRewrite.setDestination(bytes, ctx.parsed, partial: false, address: outer.destination, port: 0)
        ctx.parsed.tracked.tuple.destination = outer.destination
        if ctx.parsed.tuple.source == onTheWire.destination {
            HeaderRewrite.setSource(bytes, ctx.parsed, partial: false, address: outer.source, port: 0)
            ctx.parsed.tracked.tuple.source = outer.source
        }
        ctx.rules.destination = ctx.parsed.tuple.destination
        ctx.rules.source = ctx.parsed.tuple.source
        // The ICMP checksum covers the quote: compute it anew.
        let message = bytes.suffix(from: l4)
        switch ctx.parsed.family {
        case .ipv4:
            if let icmp = try? ICMPv4Message(validating: message) { icmp.updateChecksum() }
        case .ipv6:
            if let icmp = try? ICMPv6Message(validating: message) {
                icmp.updateChecksum(pseudoHeaderSum: Checksum.pseudoHeaderSum(
                    source: ctx.parsed.tuple.source, destination: ctx.parsed.tuple.destination, protocol: .icmpv6, length: message.count))
            }
        }
    }

    /// Sets `tuple`'s source to `address` and a free port (or ICMP id), as
    /// Linux's nf_nat_l4proto_unique_tuple searches: the original port if it
    /// is in range and free (unless `fully-random`), else from a random
    /// offset at most 128 candidates (NF_NAT_MAX_ATTEMPTS), then rounds of
    /// half as many from new random offsets while the last had 16 or more:
    /// a bounded cost per new connection however full the range is.
    /// When every candidate is taken, the mapping of the oldest connection
    /// among them that never got a reply is reclaimed (`nat-reclaimed`), or
    /// failing that, of the oldest that never became ASSURED (a SYN flood at
    /// a listening server is answered, SYN_RECV, but never completes):
    /// beyond Linux, which refuses new connections until such entries time
    /// out, so a flood of spoofed SYNs cannot lock real clients out.
    func chooseSource(_ tuple: inout ConnTuple, _ address: IPv6Address, _ target: NATTarget, now: Timestamp) -> Bool {
        tuple.source = address
        let original = tuple.sourcePort
        let hasPorts = tuple.protocol == .tcp || tuple.protocol == .udp || tuple.isICMP
        guard hasPorts else { return !isTaken(tuple, now: now) }
        let range: ClosedRange<UInt16>
        if let low = target.minimumPort {
            range = low...max(low, target.maximumPort ?? low)
        } else if tuple.isICMP {
            range = 1...65535
        } else if original < 512 {
            range = 1...511
        } else if original < 1024 {
            range = 600...1023
        } else {
            range = 1024...65535
        }
        if !target.flags.contains(.fullyRandom) && range.contains(original) && !isTaken(tuple, now: now) { return true }
        var search = PortSearch(size: Int(range.upperBound) - Int(range.lowerBound) + 1, seed: nextRandom())
        var reclaim: (position: Int, port: UInt16, answered: Bool, created: Timestamp)? = nil
        // With the kernel steering by ports (SteeringHash.swift), a free
        // port whose replies the kernel queues to another worker is kept
        // only in case no port of this worker's is free among the next ones.
        var elsewhere: UInt16? = nil
        var passedOver = 0
        while let offset = search.next() {
            let port = UInt16(truncatingIfNeeded: Int(range.lowerBound) + offset)
            tuple.sourcePort = port
            if let steering, !steering.repliesComeHere(tuple) {
                if elsewhere == nil, holder(of: tuple, now: now) == nil { elsewhere = port }
                passedOver += 1
                if let port = elsewhere, passedOver >= 64 * steering.workers {
                    tuple.sourcePort = port
                    return true
                }
                continue
            }
            guard let holder = holder(of: tuple, now: now) else { return true }
            guard holder >= 0 else { continue }
            let entry = conntrack.table[holder]
            guard !entry.isAssured else { continue }
            // Unanswered before answered, then oldest first.
            let answered = entry.hasSeenReply
            let better = reclaim.map { current in
                answered != current.answered ? !answered : entry.created < current.created
            } ?? true
            if better { reclaim = (holder, port, answered, entry.created) }
        }
        if let port = elsewhere {
            tuple.sourcePort = port
            return true
        }
        guard let (position, port, _, _) = reclaim else {
            tuple.sourcePort = original
            return false
        }
        conntrack.table.remove(position)
        statistics.natReclaimed &+= 1
        tuple.sourcePort = port
        return true
    }

    /// A translated original tuple is taken when its reply tuple already
    /// belongs to a live connection.
    private func isTaken(_ translated: ConnTuple, now: Timestamp) -> Bool {
        holder(of: translated, now: now) != nil
    }

    /// The table position of the live connection that a translated original
    /// tuple would clash with (its reply tuple is that connection's), if any.
    /// A tuple that cannot be inverted counts as taken, by the pending entry.
    /// With several workers a reply tuple another worker's shard holds is
    /// taken too (-1: not this shard's to reclaim), as Linux's
    /// nf_nat_used_tuple sees every connection of the one table; a race
    /// between two workers choosing at once is settled at confirm, where
    /// the directory's claim refuses the second (a clash, as in Linux).
    private func holder(of translated: ConnTuple, now: Timestamp) -> Int? {
        guard let reply = translated.inverted() else { return -1 }
        if let found = conntrack.table.lookup(reply, now: now)?.entry { return found }
        if let steering = conntrack.table.steering, let owner = steering.directory.owner(of: reply),
           owner != steering.worker {
            return -1
        }
        return nil
    }

    /// One address of an `snat/dnat to A-B` range (or prefix), anywhere in
    /// it, as Linux's find_best_ips_proto picks it: by a hash of the source
    /// address, mixed with the destination unless `persistent`, so a client
    /// keeps its address toward a server (`persistent`: toward every server).
    /// The range is 128 bits wide for IPv6: a /64 (or ::/0) is as valid as a
    /// range of two, so no arithmetic here may assume it fits 64 bits.
    func pickAddress(_ target: NATTarget, parsed: ParsedPacket) -> IPv6Address? {
        guard let low = target.minimumAddress else { return nil }
        guard let high = target.maximumAddress, low < high else { return low }
        let first = UInt128(low.high) << 64 | UInt128(low.low)
        let span = (UInt128(high.high) << 64 | UInt128(high.low)) - first    // count - 1: no overflow for ::/0
        var hash = Self.mix(parsed.tuple.source)
        if !target.flags.contains(.persistent) { hash ^= Self.mix(parsed.tuple.destination) &* 0x9e37_79b9 }
        let offset = span == .max ? hash : hash % (span + 1)
        let picked = first + offset                                         // <= high: no overflow
        return IPv6Address(high: UInt64(truncatingIfNeeded: picked >> 64), low: UInt64(truncatingIfNeeded: picked))
    }

    /// A 128-bit hash of an address (two rounds of a 64-bit multiply-xorshift
    /// finaliser, one per half, each seeing both halves).
    static func mix(_ address: IPv6Address) -> UInt128 {
        func round(_ value: UInt64) -> UInt64 {
            var x = value &* 0xbf58_476d_1ce4_e5b9
            x ^= x >> 31
            x = x &* 0x94d0_49bb_1331_11eb
            return x ^ (x >> 29)
        }
        let a = round(address.high ^ round(address.low))
        let b = round(address.low ^ round(address.high &+ 0x9e37_79b9_7f4a_7c15))
        return UInt128(a) << 64 | UInt128(b)
    }

    /// The firewall's first address of `family` on `interface`, held as tuples hold it.
    func ownAddress(on interface: InterfaceID, family: AddressFamily) -> IPv6Address? {
        guard interface >= 0, interface < interfaces.count else { return nil }
        for own in interfaces[interface].addresses where own.address.isV4 == (family == .ipv4) {
            return ConnTuple.wide(own.address)
        }
        return nil
    }

    func nextRandom() -> UInt64 {
        randomState = randomState &* 6364136223846793005 &+ 1442695040888963407
        return randomState >> 11
    }
}

/// The offsets into a port range that a new mapping tries, in order, as
/// nf_nat_l4proto_unique_tuple walks them: a round of
/// min(size, NF_NAT_MAX_ATTEMPTS = 128) consecutive offsets from a random
/// start, then rounds of half as many from new random starts while a round
/// had at least 16 (at most 128 + 64 + 32 + 16 + 8 = 248 in all), or just the
/// one round when it covered the whole range.
struct PortSearch: IteratorProtocol {
    static let maximumAttempts = 128
    let size: Int
    private var attempts: Int
    private var step = 0
    private var start: Int
    private var random: UInt64

    init(size: Int, seed: UInt64) {
        self.size = max(1, size)
        attempts = min(self.size, Self.maximumAttempts)
        random = seed
        start = 0
        start = nextStart()
    }

    private mutating func nextStart() -> Int {
        random = random &* 6364136223846793005 &+ 1442695040888963407
        return Int((random >> 33) % UInt64(size))
    }

    mutating func next() -> Int? {
        if step == attempts {
            guard attempts < size, attempts >= 16 else { return nil }
            attempts /= 2
            step = 0
            start = nextStart()
        }
        defer { step += 1 }
        return (start + step) % size
    }
}

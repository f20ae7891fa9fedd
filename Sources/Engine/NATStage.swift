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
    /// PREROUTING NAT: rewrites the destination half of `packet` and of
    /// `parsed`'s tuple. Returns a verdict only when the packet must stop.
    func natDestination(_ packet: inout PacketBuffer, _ parsed: inout ParsedPacket, _ tracking: TrackResult,
                        input: InterfaceID, now: Timestamp) -> Verdict? {
        var target: ConnTuple
        if let position = tracking.entry {
            guard !conntrack.table.status(position).isDisjoint(with: [.sourceNAT, .destinationNAT]) else { return nil }
            if tracking.state == .related && parsed.isICMPError {
                translateICMPError(&packet, &parsed, conntrack.table[position], tracking.direction)
                return nil
            }
            target = conntrack.table.translated(position, tracking.direction)
        } else if tracking.isPending, let expected = conntrack.pendingTranslation {
            // A connection an expectation let in is translated as its master
            // says (nf_nat_follow_master), not by the nat chains; its source
            // port stays unless another connection holds that mapping.
            natPending = expected
            natPendingSet = true
            natFromExpectation = true
            if expected.source != parsed.tuple.source, !chooseSource(expected.source, NATTarget()) {
                return drop(.natExhausted)
            }
            target = natPending
        } else if tracking.isPending && ruleset.hasNATChains(.prerouting) {
            natPending = parsed.tuple
            switch ruleset.evaluateNAT(.prerouting, &rules, log: &pendingLog) {
            case .none:
                return nil
            case .drop:
                return drop(.ruleDrop)
            case .translate(let action):
                switch action {
                case .dnat(let to):
                    if let address = pickAddress(to, parsed: parsed) { natPending.destination = address }
                    if let port = to.minimumPort { natPending.destinationPort = port }
                case .redirect(let to):
                    guard let own = ownAddress(on: input, family: parsed.family) else { return drop(.natExhausted) }
                    natPending.destination = own
                    if let port = to.minimumPort { natPending.destinationPort = port }
                case .snat, .masquerade:
                    return nil
                }
                natPendingSet = true
                target = natPending
            }
        } else {
            return nil
        }
        if target.destination != parsed.tuple.destination || target.destinationPort != parsed.tuple.destinationPort {
            HeaderRewrite.setDestination(packet.bytes, parsed, partial: packet.virtio.needsChecksum,
                                         address: target.destination, port: target.destinationPort)
            parsed.tracked.tuple.destination = target.destination
            if !parsed.tuple.isICMP { parsed.tracked.tuple.destinationPort = target.destinationPort }
            rules.destination = target.destination
            rules.destinationPort = parsed.tuple.isICMP ? rules.destinationPort : target.destinationPort
        }
        return nil
    }

    /// POSTROUTING NAT: rewrites the source half, choosing the mapping for a
    /// new connection, and records the translation in its pending entry.
    func natSource(_ packet: inout PacketBuffer, _ parsed: inout ParsedPacket, _ tracking: TrackResult,
                   output: InterfaceID, now: Timestamp) -> Verdict? {
        var target: ConnTuple
        if let position = tracking.entry {
            guard !(tracking.state == .related && parsed.isICMPError),
                  !conntrack.table.status(position).isDisjoint(with: [.sourceNAT, .destinationNAT]) else { return nil }
            target = conntrack.table.translated(position, tracking.direction)
        } else if tracking.isPending {
            if !natPendingSet { natPending = parsed.tuple }
            if ruleset.hasNATChains(.postrouting) && !natFromExpectation {
                rules.outputInterface = output
                switch ruleset.evaluateNAT(.postrouting, &rules, log: &pendingLog) {
                case .none, .translate(.dnat), .translate(.redirect):
                    break
                case .drop:
                    return drop(.ruleDrop)
                case .translate(.masquerade(let to)):
                    guard let own = ownAddress(on: output, family: parsed.family),
                          chooseSource(own, to) else { return drop(.natExhausted) }
                    natPendingSet = true
                case .translate(.snat(let to)):
                    guard let address = pickAddress(to, parsed: parsed), chooseSource(address, to) else {
                        return drop(.natExhausted)
                    }
                    natPendingSet = true
                }
            }
            guard natPendingSet else { return nil }
            conntrack.translatePending(to: natPending)
            target = natPending
        } else {
            return nil
        }
        if target.source != parsed.tuple.source || target.sourcePort != parsed.tuple.sourcePort {
            HeaderRewrite.setSource(packet.bytes, parsed, partial: packet.virtio.needsChecksum,
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
    private func translateICMPError(_ packet: inout PacketBuffer, _ parsed: inout ParsedPacket, _ entry: ConnEntry,
                                    _ direction: Direction) {
        let bytes = packet.bytes
        let l4 = parsed.l4Offset
        guard bytes.count >= l4 + 8 else { return }
        let quotedDirection = direction.opposite
        let asSent = entry.tuple(quotedDirection)              // how its sender wrote the quoted packet
        let onTheWire = entry.translated(quotedDirection)      // how it left the firewall
        let outer = entry.translated(direction)
        // The quoted packet.
        let inner = bytes.suffix(from: l4 + 8)
        var innerParsed = ParsedPacket.empty
        innerParsed.family = parsed.family
        innerParsed.l4Protocol = asSent.protocol
        switch parsed.family {
        case .ipv4:
            guard inner.count >= 20 else { return }
            innerParsed.l4Offset = Int(inner[0] & 0x0f) * 4
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
        HeaderRewrite.setDestination(bytes, parsed, partial: false, address: outer.destination, port: 0)
        parsed.tracked.tuple.destination = outer.destination
        if parsed.tuple.source == onTheWire.destination {
            HeaderRewrite.setSource(bytes, parsed, partial: false, address: outer.source, port: 0)
            parsed.tracked.tuple.source = outer.source
        }
        rules.destination = parsed.tuple.destination
        rules.source = parsed.tuple.source
        // The ICMP checksum covers the quote: compute it anew.
        let message = bytes.suffix(from: l4)
        switch parsed.family {
        case .ipv4:
            if let icmp = try? ICMPv4Message(validating: message) { icmp.updateChecksum() }
        case .ipv6:
            if let icmp = try? ICMPv6Message(validating: message) {
                icmp.updateChecksum(pseudoHeaderSum: Checksum.pseudoHeaderSum(
                    source: parsed.tuple.source, destination: parsed.tuple.destination, protocol: .icmpv6, length: message.count))
            }
        }
    }

    /// Sets `natPending`'s source to `address` and a free port (or ICMP id).
    func chooseSource(_ address: IPv6Address, _ target: NATTarget) -> Bool {
        natPending.source = address
        let original = natPending.sourcePort
        let hasPorts = natPending.protocol == .tcp || natPending.protocol == .udp || natPending.isICMP
        guard hasPorts else { return !isTaken(natPending) }
        let range: ClosedRange<UInt16>
        if let low = target.minimumPort {
            range = low...max(low, target.maximumPort ?? low)
        } else if natPending.isICMP {
            range = 1...65535
        } else if original < 512 {
            range = 1...511
        } else if original < 1024 {
            range = 600...1023
        } else {
            range = 1024...65535
        }
        if !target.flags.contains(.fullyRandom) && range.contains(original) && !isTaken(natPending) { return true }
        let size = Int(range.upperBound) - Int(range.lowerBound) + 1
        let start = target.flags.isDisjoint(with: [.random, .fullyRandom])
            ? Int(truncatingIfNeeded: natPending.hashValue & 0x7fff_ffff) % size
            : Int(nextRandom() % UInt64(size))
        for step in 0..<size {
            natPending.sourcePort = UInt16(Int(range.lowerBound) + (start + step) % size)
            if !isTaken(natPending) { return true }
        }
        natPending.sourcePort = original
        return false
    }

    /// A translated original tuple is taken when its reply tuple already
    /// belongs to a live connection.
    private func isTaken(_ translated: ConnTuple) -> Bool {
        guard let reply = translated.inverted() else { return true }
        return conntrack.isInUse(reply, now: currentTime)
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

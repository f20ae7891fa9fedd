// Neighbour resolution for TAP interfaces, as Linux's ARP (net/ipv4/arp.c,
// RFC 826) and ND (net/ipv6/ndisc.c, RFC 4861 §7) do it, over the table in
// NeighbourTable.swift:
//
// - Out: the next hop (the route's gateway, else the destination on-link)
//   is looked up; a valid entry gives the MAC at once (no allocation: one
//   dictionary lookup); otherwise the packet is copied into the entry's
//   queue and a solicitation goes out. When the answer comes the queue
//   leaves through the outbox; when it never does (3 probes, 1 s apart)
//   each queued packet is answered with ICMP host unreachable (IPv4, code
//   1) or address unreachable (ICMPv6, code 3), as ipv4_link_failure and
//   ndisc_error_report do, and dropped (neigh-failed).
// - In: ARP requests and NS for the firewall's own addresses on the
//   interface they came in by are answered (arp_ignore=1's rule: no proxy
//   ARP, no answers for the other interfaces' addresses) and teach the
//   asker's address (neigh_event_ns: STALE); replies and NAs update the
//   entry that asked (REACHABLE when a unicast reply or a solicited NA);
//   gratuitous ARP and unsolicited NA update an existing entry only
//   (arp_accept=0, Linux's default: no entry is made for them).
// - The firewall is a router: its NAs carry R, S (when solicited) and O.
//   Router advertisements are not sent (the hosts have static routes).

import Conntrack
import Wire

extension Engine {
    // MARK: Output

    /// Frames a forwarded packet for TAP interface `output`, or queues it
    /// for its neighbour (`.consumed`), or drops it.
    func frame(_ packet: inout PacketBuffer, _ output: InterfaceID, now: Timestamp) -> Verdict {
        guard let (hop, type) = nextHop(packet, output) else { return drop(.noRoute) }
        if let group = groupAddress(hop) {
            addEthernetHeader(&packet, destination: group, source: hardwareAddresses[output], type: type)
            return .forward(output)
        }
        let key = NeighbourKey(interface: output, address: hop)
        switch neighbours.resolve(key, now: now) {
        case .send(let mac):
            addEthernetHeader(&packet, destination: mac, source: hardwareAddresses[output], type: type)
            return .forward(output)
        case .queue(let position, let probe):
            let dropped = neighbours.enqueue(position, UnsafeRawBufferPointer(packet.bytes), virtio: packet.virtio)
            for _ in 0..<dropped { count(.neighbourQueueFull) }
            if probe { solicit(position) }
            return .consumed
        case .tableFull:
            return drop(.neighbourTableFull)
        }
    }

    /// The outbox's framer: packets the engine made (ICMP errors, echo
    /// replies, fragments, released queues) framed at the engine's latest time.
    func frameGenerated(_ packet: inout PacketBuffer, _ output: InterfaceID) -> Bool {
        guard output >= 0, output < interfaces.count, isEthernet[output] else { return true }
        if case .forward = frame(&packet, output, now: linkClock) { return true }
        return false
    }

    /// The address to resolve for an IP packet leaving by `output`: the
    /// gateway of its route if it has one, else its destination; and the EtherType.
    private func nextHop(_ packet: PacketBuffer, _ output: InterfaceID) -> (IPv6Address, UInt16)? {
        let bytes = UnsafeRawBufferPointer(packet.bytes)
        guard bytes.count >= 20 else { return nil }
        if bytes[0] >> 4 == 4 {
            let destination = IPv4Address(loadingFrom: bytes, at: 16)
            var hop = ConnTuple.wide(.v4(destination))
            if let route = routes.lookup(destination), let gateway = route.gateway { hop = ConnTuple.wide(gateway) }
            return (hop, EtherType.ipv4)
        }
        guard bytes.count >= 40, bytes[0] >> 4 == 6 else { return nil }
        let destination = IPv6Address(loadingFrom: bytes, at: 24)
        var hop = destination
        if let route = routes.lookup(destination), let gateway = route.gateway { hop = ConnTuple.wide(gateway) }
        return (hop, EtherType.ipv6)
    }

    /// Multicast and broadcast destinations need no resolution (RFC 1112
    /// §6.4, RFC 2464 §7, and ff:ff:ff:ff:ff:ff for IPv4 broadcast).
    private func groupAddress(_ hop: IPv6Address) -> MACAddress? {
        if hop.isIPv4Mapped {
            let v4 = hop.lowIPv4
            if v4.isMulticast { return MACAddress(ipv4Multicast: v4) }
            if v4.isBroadcast { return .broadcast }
            for broadcast in broadcastAddresses where broadcast == v4 { return .broadcast }
            return nil
        }
        return hop.isMulticast ? MACAddress(ipv6Multicast: hop) : nil
    }

    // MARK: Timers

    /// When the next neighbour timer fires (a probe to send, a state to
    /// change); the runner wakes for it.
    public var nextNeighbourDeadline: Timestamp? {
        hasEthernet && neighbours.nextDeadline != .max ? neighbours.nextDeadline : nil
    }

    /// Runs the neighbour timers due by `now` (also part of `tick`).
    public func runNeighbourTimers(now: Timestamp) {
        guard hasEthernet else { return }
        linkClock = max(linkClock, now)
        neighbours.expire(now: now, actions: &neighbourActions)
        performNeighbourActions()
    }

    private func performNeighbourActions() {
        while !neighbourActions.isEmpty {
            let action = neighbourActions.removeFirst()
            switch action {
            case .probe(let position, _): solicit(position)
            case .release(let position): releaseQueue(position)
            case .fail(let position): failQueue(position)
            }
        }
    }

    /// The queue of an entry that became valid, through the outbox (framed there).
    private func releaseQueue(_ position: Int) {
        let interface = neighbours.entries[position].key.interface
        for queued in neighbours.takeQueue(position) {
            guard let slot = outbox.reserve() else {
                count(.outboxFull)
                continue
            }
            queued.bytes.withUnsafeBytes { _ = outbox.buffers[slot].load($0) }
            outbox.buffers[slot].virtio = queued.virtio
            outbox.commit(slot, interface: interface)
        }
    }

    /// neigh_invalidate: every queued packet is reported unreachable to its
    /// sender and dropped.
    private func failQueue(_ position: Int) {
        for var queued in neighbours.takeQueue(position) {
            count(.neighbourFailed)
            var parsed = ParsedPacket.empty
            queued.bytes.withUnsafeMutableBytes { bytes in
                guard (try? PacketParser.parse(bytes, virtio: queued.virtio, into: &parsed)) != nil else { return }
                sendICMPError(.hostUnreachable, about: bytes, parsed: parsed, now: linkClock)
            }
        }
    }

    // MARK: Solicitations

    /// Sends the probe the entry's state calls for: broadcast ARP or an NS
    /// to the solicited-node group, or (PROBE) unicast to the known MAC.
    func solicit(_ position: Int) {
        let entry = neighbours.entries[position]
        let unicast = neighbours.probeIsUnicast(position)
        neighbours.countProbe(position)
        let interface = entry.key.interface
        let own = hardwareAddresses[interface]
        if entry.key.address.isIPv4Mapped {
            let target = entry.key.address.lowIPv4
            guard case .v4(let source)? = ownAddress(on: interface, toward: .v4(target)) else { return }
            let arp = ARPMessage(operation: ARPMessage.request, senderMAC: own, senderIP: source, targetMAC: .zero,
                                 targetIP: target)
            sendARP(arp, to: unicast ? entry.address : .broadcast, interface: interface)
        } else {
            let target = entry.key.address
            guard case .v6(let source)? = ownAddress(on: interface, toward: .v6(target)) else { return }
            let destination = unicast ? target : target.solicitedNodeMulticast
            let message = NeighbourMessage(isSolicitation: true, source: source, destination: destination,
                                           target: target, linkLayerAddress: own)
            sendND(message, to: unicast ? entry.address : MACAddress(ipv6Multicast: destination), interface: interface)
        }
    }

    /// The interface's address of the target's family on the target's
    /// subnet, else its first of that family (arp_solicit's
    /// inet_select_addr; for ND, RFC 4861 §7.2.2 allows any of the interface's).
    private func ownAddress(on interface: InterfaceID, toward target: IPAddress) -> IPAddress? {
        var first: IPAddress? = nil
        for own in interfaces[interface].addresses where own.address.isV4 == target.isV4 {
            if own.prefix.contains(target) { return own.address }
            if first == nil { first = own.address }
        }
        return first
    }

    private func isOwnAddress(_ address: IPAddress, on interface: InterfaceID) -> Bool {
        interfaces[interface].addresses.contains { $0.address == address }
    }

    private func sendARP(_ message: ARPMessage, to destination: MACAddress, interface: InterfaceID) {
        guard let slot = outbox.reserve() else {
            count(.outboxFull)
            return
        }
        var buffer = outbox.buffers[slot]
        // Ethernet's minimum frame (60 bytes before the FCS): the ARP body padded with zeros.
        buffer.length = 60 - EthernetHeader.length
        buffer.bytes.initializeMemory(as: UInt8.self, repeating: 0)
        message.store(to: buffer.bytes)
        addEthernetHeader(&buffer, destination: destination, source: hardwareAddresses[interface], type: EtherType.arp)
        outbox.buffers[slot] = buffer
        outbox.commit(slot, interface: interface, framed: true)
        statistics.generated &+= 1
    }

    private func sendND(_ message: NeighbourMessage, to destination: MACAddress, interface: InterfaceID) {
        guard let slot = outbox.reserve() else {
            count(.outboxFull)
            return
        }
        var buffer = outbox.buffers[slot]
        buffer.length = NeighbourMessage.packetLength
        buffer.length = message.write(to: buffer.bytes)
        addEthernetHeader(&buffer, destination: destination, source: hardwareAddresses[interface], type: EtherType.ipv6)
        outbox.buffers[slot] = buffer
        outbox.commit(slot, interface: interface, framed: true)
        statistics.generated &+= 1
    }

    // MARK: Input

    /// arp_process: answer requests for our own addresses on this
    /// interface, learn from them, and let replies and gratuitous ARP
    /// update entries that exist.
    func receiveARP(_ body: UnsafeRawBufferPointer, _ header: EthernetHeader, input: InterfaceID,
                    now: Timestamp) -> Verdict {
        guard let arp = ARPMessage(body), arp.operation == ARPMessage.request || arp.operation == ARPMessage.reply,
              !arp.senderMAC.isMulticast, !arp.targetIP.isMulticast, !arp.targetIP.isLoopback,
              !arp.senderIP.isMulticast, !arp.senderIP.isLoopback, !arp.senderIP.isBroadcast else {
            return drop(.arpInvalid)
        }
        let ours = isOwnAddress(.v4(arp.targetIP), on: input)
        let own = hardwareAddresses[input]
        // An ARP probe (RFC 5227 §2.1.1, sender 0.0.0.0) for our address is
        // answered to its sender's MAC and teaches nothing.
        if arp.senderIP.isUnspecified {
            guard arp.operation == ARPMessage.request, ours else { return .consumed }
            sendARP(ARPMessage(operation: ARPMessage.reply, senderMAC: own, senderIP: arp.targetIP,
                               targetMAC: arp.senderMAC, targetIP: arp.senderIP), to: arp.senderMAC, interface: input)
            return .consumed
        }
        if isOwnAddress(.v4(arp.senderIP), on: input) { return .consumed }
        let key = NeighbourKey(interface: input, address: ConnTuple.wide(.v4(arp.senderIP)))
        if arp.operation == ARPMessage.request && ours {
            // neigh_event_ns: the asker is a neighbour now (STALE), then the reply.
            if !neighbours.update(key, address: arp.senderMAC, state: .stale, override: true, create: true, now: now,
                                  actions: &neighbourActions) {
                count(.neighbourTableFull)
            }
            performNeighbourActions()
            sendARP(ARPMessage(operation: ARPMessage.reply, senderMAC: own, senderIP: arp.targetIP,
                               targetMAC: arp.senderMAC, targetIP: arp.senderIP), to: arp.senderMAC, interface: input)
            return .consumed
        }
        if let position = neighbours.lookup(key) {
            let reachable = arp.operation == ARPMessage.reply && header.destination == own
            let override = now > saturatingAdd(neighbours.entries[position].updated, neighbours.parameters.lockTime)
                || arp.isGratuitous
            _ = neighbours.update(key, address: arp.senderMAC, state: reachable ? .reachable : .stale,
                                  override: override, create: false, now: now, actions: &neighbourActions)
            performNeighbourActions()
        }
        if arp.operation == ARPMessage.request && !arp.isGratuitous { return drop(.neighbourNotOurs) }
        return .consumed
    }

    /// ndisc_recv_ns / ndisc_recv_na for a validated message.
    func receiveND(_ message: NeighbourMessage, _ header: EthernetHeader, input: InterfaceID,
                   now: Timestamp) -> Verdict {
        let own = hardwareAddresses[input]
        let ours = isOwnAddress(.v6(message.target), on: input)
        if message.isSolicitation {
            guard ours else { return drop(.neighbourNotOurs) }
            if message.source.isUnspecified {
                // Duplicate address detection for our address: defend it
                // with an NA to all nodes (RFC 4862 §5.4.3, ndisc_recv_ns).
                let answer = NeighbourMessage(isSolicitation: false, source: message.target, destination: .allNodes,
                                              target: message.target, linkLayerAddress: own, router: true,
                                              solicited: false, override: true)
                sendND(answer, to: MACAddress(ipv6Multicast: .allNodes), interface: input)
                return .consumed
            }
            if let asker = message.linkLayerAddress {
                let key = NeighbourKey(interface: input, address: message.source)
                if !neighbours.update(key, address: asker, state: .stale, override: true, weakOverride: true,
                                      create: true, now: now, actions: &neighbourActions) {
                    count(.neighbourTableFull)
                }
                performNeighbourActions()
            }
            let answer = NeighbourMessage(isSolicitation: false, source: message.target, destination: message.source,
                                          target: message.target, linkLayerAddress: own, router: true,
                                          solicited: true, override: true)
            sendND(answer, to: message.linkLayerAddress ?? header.source, interface: input)
            return .consumed
        }
        // An NA for our own address is another node's duplicate: nothing to learn.
        guard !ours else { return .consumed }
        let key = NeighbourKey(interface: input, address: message.target)
        if neighbours.lookup(key) != nil {
            _ = neighbours.update(key, address: message.linkLayerAddress,
                                  state: message.solicited ? .reachable : .stale, override: message.override,
                                  weakOverride: true, create: false, now: now, actions: &neighbourActions)
            performNeighbourActions()
        }
        return .consumed
    }

    // MARK: Listing

    /// The table as `tunwall neigh` lists it: by interface, then address.
    public func neighbourRecords() -> [NeighbourRecord] {
        var records: [NeighbourRecord] = []
        for entry in neighbours.entries where entry.live {
            let address: IPAddress = entry.key.address.isIPv4Mapped ? .v4(entry.key.address.lowIPv4) : .v6(entry.key.address)
            records.append(NeighbourRecord(interface: interfaces[entry.key.interface].name, address: address,
                                           hardwareAddress: entry.state.isValid ? entry.address : nil,
                                           state: entry.state))
        }
        return records.sorted { ($0.interface, $0.address.description) < ($1.interface, $1.address.description) }
    }
}

// Layer 2 for TAP interfaces: what comes before and after the IP pipeline
// when an interface carries Ethernet frames. The engine stays an IP
// engine: a frame's header is checked and taken off on the way in (its
// addresses kept in PacketContext.link for rules and log lines), and put
// back on the way out once the next hop's MAC is known (NeighbourStage).
//
//   frame in ─▶ too short?           ethernet-malformed
//             ─▶ unicast, not ours?  otherhost (Linux: PACKET_OTHERHOST, dropped by ip_rcv)
//             ─▶ 802.1Q / 802.1ad?   vlan-tagged (no VLAN sub-interfaces here)
//             ─▶ ARP                 NeighbourStage.receiveARP
//             ─▶ IPv6 NS / NA        NeighbourStage.receiveND
//             ─▶ IPv4 / IPv6         header off, the IP pipeline, then framed for a TAP output
//             ─▶ anything else       unhandled-ethertype (no protocol handler: rx_nohandler)
//
// A TAP device with IFF_VNET_HDR counts the virtio header's csum_start and
// hdr_len from the start of the frame, a TUN device from the IP header:
// both move by the 14 bytes of the Ethernet header as it comes off and on.

import Conntrack
import Wire

/// What a frame's Ethernet header said (all zero for a packet from a TUN interface).
struct LinkFacts {
    var source = MACAddress.zero
    var destination = MACAddress.zero
    var type: UInt16 = 0
    var isEthernet = false
}

extension Engine {
    /// EthernetHeader.length as the virtio header's field type.
    static let ethernetHeaderLength: UInt16 = 14

    /// `process` for an engine with TAP interfaces.
    func processLink(_ packet: inout PacketBuffer, from input: InterfaceID, now: Timestamp) -> Verdict {
        guard input >= 0, input < interfaces.count else { return drop(.unknownInterface) }
        linkClock = now
        var link = LinkFacts()
        if isEthernet[input] {
            guard let header = EthernetHeader(UnsafeRawBufferPointer(packet.bytes)) else {
                return drop(.ethernetMalformed)
            }
            if !header.destination.isMulticast && header.destination != hardwareAddresses[input] {
                return drop(.otherHost)
            }
            switch header.type {
            case EtherType.ipv4, EtherType.ipv6: break
            case EtherType.arp:
                let body = UnsafeRawBufferPointer(packet.bytes.suffix(from: EthernetHeader.length))
                return receiveARP(body, header, input: input, now: now)
            case EtherType.vlan, EtherType.qinq: return drop(.vlanTagged)
            default: return drop(.unhandledEtherType)
            }
            removeEthernetHeader(&packet)
            if header.type == EtherType.ipv6 {
                switch NeighbourMessage.parse(UnsafeRawBufferPointer(packet.bytes)) {
                case .other: break
                case .invalid: return drop(.ndiscInvalid)
                case .message(let message): return receiveND(message, header, input: input, now: now)
                }
            }
            link = LinkFacts(source: header.source, destination: header.destination, type: header.type, isEthernet: true)
        }
        let verdict = processIP(&packet, from: input, now: now, link: link)
        guard case .forward(let output) = verdict, output >= 0, output < interfaces.count, isEthernet[output] else {
            return verdict
        }
        return frame(&packet, output, now: now)
    }

    private func removeEthernetHeader(_ packet: inout PacketBuffer) {
        packet.start += EthernetHeader.length
        packet.length -= EthernetHeader.length
        if packet.virtio.flags.contains(.needsChecksum) {
            packet.virtio.checksumStart = packet.virtio.checksumStart >= Self.ethernetHeaderLength
                ? packet.virtio.checksumStart - Self.ethernetHeaderLength : 0
        }
        if packet.virtio.headerLength >= Self.ethernetHeaderLength {
            packet.virtio.headerLength -= Self.ethernetHeaderLength
        }
    }

    /// Puts the Ethernet header in the headroom in front of the IP packet.
    func addEthernetHeader(_ packet: inout PacketBuffer, destination: MACAddress, source: MACAddress, type: UInt16) {
        guard packet.start >= EthernetHeader.length else { return }
        packet.start -= EthernetHeader.length
        packet.length += EthernetHeader.length
        EthernetHeader(destination: destination, source: source, type: type).store(to: packet.bytes)
        if packet.virtio.flags.contains(.needsChecksum) {
            packet.virtio.checksumStart &+= Self.ethernetHeaderLength
        }
        if packet.virtio.headerLength > 0 { packet.virtio.headerLength &+= Self.ethernetHeaderLength }
    }
}

// Neighbour Discovery's two address-resolution messages (RFC 4861 §4.3,
// §4.4): Neighbor Solicitation (type 135) and Neighbor Advertisement (type
// 136), each an ICMPv6 message directly after a 40-byte IPv6 header (no
// extension headers: Linux's ndisc_rcv sees them only after those are
// gone, and tunwall does not accept ND behind any), with a source or
// target link-layer address option (types 1 and 2, 8 bytes for Ethernet).
//
//   NS: type 135, code 0, checksum, reserved (4), target (16), options
//   NA: type 136, code 0, checksum, R S O flags + reserved (4), target (16), options
//
// Example: "who has fd00:1::1?" from fd00:1::2 goes to the solicited-node
// group ff02::1:ff00:1 (MAC 33:33:ff:00:00:01) with hop limit 255 and the
// asker's MAC in a source link-layer address option.

public struct NeighbourMessage: Hashable, Sendable {
    public static let solicitationType: UInt8 = 135
    public static let advertisementType: UInt8 = 136
    /// ICMPv6 header (4) + reserved/flags (4) + target (16).
    public static let bodyLength = 24
    /// An Ethernet link-layer address option: type, length 1 (8 octets), MAC.
    public static let optionLength = 8

    public var isSolicitation: Bool
    public var source: IPv6Address
    public var destination: IPv6Address
    public var target: IPv6Address
    /// The source link-layer address of an NS, the target link-layer address of an NA.
    public var linkLayerAddress: MACAddress?
    public var router = false
    public var solicited = false
    public var override = false

    public init(isSolicitation: Bool, source: IPv6Address, destination: IPv6Address, target: IPv6Address,
                linkLayerAddress: MACAddress?, router: Bool = false, solicited: Bool = false, override: Bool = false) {
        self.isSolicitation = isSolicitation
        self.source = source
        self.destination = destination
        self.target = target
        self.linkLayerAddress = linkLayerAddress
        self.router = router
        self.solicited = solicited
        self.override = override
    }

    /// What an IPv6 packet is to ND.
    public enum Parsed: Hashable, Sendable {
        /// Not an NS or NA (or not directly after the IPv6 header): the IP layer's business.
        case other
        /// An NS or NA that fails RFC 4861's validation (§7.1.1, §7.1.2): silently discarded.
        case invalid
        case message(NeighbourMessage)
    }

    /// Reads an NS or NA from a whole IPv6 packet and validates it as RFC
    /// 4861 §7.1.1 (NS) and §7.1.2 (NA) require: hop limit 255, ICMP code
    /// 0, a valid checksum, at least 24 bytes, a target that is not
    /// multicast, options of non-zero length; an NS from the unspecified
    /// address goes to a solicited-node group and carries no source
    /// link-layer option; an NA to a multicast address is not solicited.
    public static func parse(_ packet: UnsafeRawBufferPointer) -> Parsed {
        guard packet.count >= 40 + 4, packet[0] >> 4 == 6, packet[6] == 58 else { return .other }
        let type = packet[40]
        guard type == solicitationType || type == advertisementType else { return .other }
        let payloadLength = Int(packet.be16(4))
        guard payloadLength >= bodyLength, 40 + payloadLength <= packet.count else { return .invalid }
        guard packet[7] == 255, packet[41] == 0 else { return .invalid }
        let source = IPv6Address(loadingFrom: packet, at: 8)
        let destination = IPv6Address(loadingFrom: packet, at: 24)
        let icmp = UnsafeRawBufferPointer(rebasing: packet[40..<40 + payloadLength])
        let pseudo = Checksum.pseudoHeaderSum(source: source, destination: destination, protocol: .icmpv6,
                                              length: payloadLength)
        guard Checksum.sum(icmp, initial: pseudo) == 0xffff else { return .invalid }
        let target = IPv6Address(loadingFrom: icmp, at: 8)
        guard !target.isMulticast else { return .invalid }
        var message = NeighbourMessage(isSolicitation: type == solicitationType, source: source,
                                       destination: destination, target: target, linkLayerAddress: nil)
        if !message.isSolicitation {
            let flags = icmp[4]
            message.router = flags & 0x80 != 0
            message.solicited = flags & 0x40 != 0
            message.override = flags & 0x20 != 0
            if destination.isMulticast && message.solicited { return .invalid }
        }
        var offset = bodyLength
        let wanted: UInt8 = message.isSolicitation ? 1 : 2
        while offset + 2 <= icmp.count {
            let optionType = icmp[offset], units = Int(icmp[offset + 1])
            guard units > 0, offset + units * 8 <= icmp.count else { return .invalid }
            if optionType == wanted && units == 1 {
                message.linkLayerAddress = MACAddress(loadingFrom: icmp, at: offset + 2)
            }
            offset += units * 8
        }
        guard offset == icmp.count else { return .invalid }
        if message.isSolicitation && source.isUnspecified
            && (!destination.isSolicitedNodeMulticast || message.linkLayerAddress != nil) {
            return .invalid
        }
        return .message(message)
    }

    /// Bytes `write` produces: IPv6 header, body, one link-layer option.
    public static let packetLength = 40 + bodyLength + optionLength

    /// Writes the whole IPv6 packet (hop limit 255, checksum filled) into
    /// `out`, which holds at least `packetLength` bytes; returns its length.
    @discardableResult
    public func write(to out: UnsafeMutableRawBufferPointer) -> Int {
        let hasOption = linkLayerAddress != nil
        let icmpLength = Self.bodyLength + (hasOption ? Self.optionLength : 0)
        out.setBE32(0x6000_0000, at: 0)
        out.setBE16(UInt16(truncatingIfNeeded: icmpLength), at: 4)
        out[6] = 58
        out[7] = 255
        source.store(to: out, at: 8)
        destination.store(to: out, at: 24)
        let icmp = out.slice(40..<40 + icmpLength)
        icmp[0] = isSolicitation ? Self.solicitationType : Self.advertisementType
        icmp[1] = 0
        icmp.setBE16(0, at: 2)
        var flags: UInt8 = 0
        if !isSolicitation {
            if router { flags |= 0x80 }
            if solicited { flags |= 0x40 }
            if override { flags |= 0x20 }
        }
        icmp.setBE32(UInt32(truncatingIfNeeded: flags) << 24, at: 4)
        target.store(to: icmp, at: 8)
        if let linkLayerAddress {
            icmp[24] = isSolicitation ? 1 : 2
            icmp[25] = 1
            linkLayerAddress.store(to: icmp, at: 26)
        }
        let pseudo = Checksum.pseudoHeaderSum(source: source, destination: destination, protocol: .icmpv6,
                                              length: icmpLength)
        icmp.setBE16(~Checksum.sum(icmp.readOnly, initial: pseudo), at: 2)
        return 40 + icmpLength
    }
}

extension IPv6Address {
    /// RFC 4291 §2.7.1: ff02::1:ff00:0/104 plus the address's low 24 bits.
    public var solicitedNodeMulticast: IPv6Address {
        IPv6Address(high: 0xff02_0000_0000_0000, low: 0x0000_0001_ff00_0000 | (low & 0xff_ffff))
    }

    public var isSolicitedNodeMulticast: Bool {
        high == 0xff02_0000_0000_0000 && low & 0xffff_ffff_ff00_0000 == 0x0000_0001_ff00_0000
    }

    /// ff02::1, all nodes on the link (RFC 4291 §2.7.1).
    public static let allNodes = IPv6Address(high: 0xff02_0000_0000_0000, low: 1)
}

// ARP for IPv4 over Ethernet (RFC 826): a 28-byte body after the Ethernet
// header. hardware type 1 (Ethernet), protocol type 0x0800, hardware length
// 6, protocol length 4, opcode 1 (request) or 2 (reply), then sender MAC,
// sender IP, target MAC, target IP.
//
// Example: "who has 10.0.1.1? tell 10.0.1.2" is op 1, sender 02:..:02 /
// 10.0.1.2, target 00:00:00:00:00:00 / 10.0.1.1, sent to ff:ff:ff:ff:ff:ff.
// A gratuitous ARP announces the sender's own address: sender IP ==
// target IP (RFC 5227 §3), request or reply.

public struct ARPMessage: Hashable, Sendable {
    public static let length = 28
    public static let request: UInt16 = 1
    public static let reply: UInt16 = 2

    public var operation: UInt16
    public var senderMAC: MACAddress
    public var senderIP: IPv4Address
    public var targetMAC: MACAddress
    public var targetIP: IPv4Address

    public init(operation: UInt16, senderMAC: MACAddress, senderIP: IPv4Address, targetMAC: MACAddress,
                targetIP: IPv4Address) {
        self.operation = operation
        self.senderMAC = senderMAC
        self.senderIP = senderIP
        self.targetMAC = targetMAC
        self.targetIP = targetIP
    }

    /// Nil unless the body is Ethernet/IPv4 ARP (htype 1, ptype 0x0800, hlen
    /// 6, plen 4) of at least 28 bytes, as arp_rcv and arp_process check; a
    /// longer body (Ethernet padding to 60 bytes) is fine.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length, bytes.be16(0) == 1, bytes.be16(2) == EtherType.ipv4,
              bytes[4] == 6, bytes[5] == 4 else { return nil }
        operation = bytes.be16(6)
        senderMAC = MACAddress(loadingFrom: bytes, at: 8)
        senderIP = IPv4Address(loadingFrom: bytes, at: 14)
        targetMAC = MACAddress(loadingFrom: bytes, at: 18)
        targetIP = IPv4Address(loadingFrom: bytes, at: 24)
    }

    /// Writes the 28 bytes; the caller made room.
    public func store(to bytes: UnsafeMutableRawBufferPointer) {
        bytes.setBE16(1, at: 0)
        bytes.setBE16(EtherType.ipv4, at: 2)
        bytes[4] = 6
        bytes[5] = 4
        bytes.setBE16(operation, at: 6)
        senderMAC.store(to: bytes, at: 8)
        senderIP.store(to: bytes, at: 14)
        targetMAC.store(to: bytes, at: 18)
        targetIP.store(to: bytes, at: 24)
    }

    /// RFC 5227 §3 / Linux's arp_is_garp: the sender announces its own address.
    public var isGratuitous: Bool { senderIP == targetIP }
}

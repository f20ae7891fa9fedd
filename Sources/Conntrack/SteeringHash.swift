// The queue the kernel gives a packet of a multi-queue TUN device when
// tunwall's steering program is attached (Sources/CTunwall/CSteering.c,
// TUNSETSTEERINGEBPF): the same function in Swift, so that NAT can choose a
// port whose replies the kernel sends to the worker that owns the
// connection (SteeringMembership.kernelSteersByPorts; NATStage.chooseSource).
// VPP's NAT does the same with a port range per worker thread; here a port
// fits a worker when the hash says so, and any other port still works (the
// reply is handed off, as without the program).
//
// The key is what NAT keeps on both sides of a connection: the two ports
// XORed (TCP, UDP, UDP-Lite, SCTP, DCCP: the same value in both directions),
// or an ICMP echo's identifier. drivers/net/tun.c, tun_ebpf_select_queue:
// the queue is the program's return value as a u16, modulo the number of
// queues.

public enum SteeringHash {
    /// The program's return value for a 16-bit key: the key times 2^32/φ, the upper half.
    @inline(__always)
    public static func value(key: UInt16) -> UInt16 {
        UInt16(truncatingIfNeeded: (UInt32(truncatingIfNeeded: key) &* 0x9E37_79B1) >> 16)
    }

    /// The worker (queue) of a packet with these two ports, in either order.
    @inline(__always)
    public static func worker(ports first: UInt16, _ second: UInt16, workers: Int) -> Int {
        Int(value(key: first ^ second)) % max(1, workers)
    }

    /// The worker (queue) of an ICMP or ICMPv6 echo with this identifier.
    @inline(__always)
    public static func worker(echoIdentifier identifier: UInt16, workers: Int) -> Int {
        Int(value(key: identifier)) % max(1, workers)
    }
}

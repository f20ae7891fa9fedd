// TunDevice: one Linux TUN device, opened through /dev/net/tun
// (drivers/net/tun.c, include/uapi/linux/if_tun.h; ioctls TUNSETIFF,
// TUNSETVNETHDRSZ, TUNSETOFFLOAD; netdevice(7) SIOCSIFTXQLEN, SIOCGIFFLAGS,
// SIOCSIFFLAGS).
//
// Example: `TunDevice(name: "lan0")` makes a point-to-point device lan0 whose
// every read returns one IP packet behind a 10-byte virtio_net_hdr. With the
// offloads on, the kernel may hand over a 64 KB TCP super-packet (gso_type 1,
// gso_size 1448) in one read, and accepts one in one write: that is the
// batching, since recvmmsg/sendmmsg do not work on TUN.
//
// The fd is non-blocking: read returns nil and write returns false when the
// device has nothing or the queue is full, and the event loop decides.
// The device can be moved to another namespace (ip link set lan0 netns NS)
// after it is opened; the fd keeps working. It vanishes when the fd closes.
//
// `tap: true` opens the same device as IFF_TAP: every read and write is an
// Ethernet frame (14-byte header) behind the same virtio header, whose
// csum_start and hdr_len then count from the frame's first byte. The
// netdev gets a random MAC of its own; the firewall's MAC lives in the
// engine (the MAC the other side talks to is whatever ARP/ND answered).
import CTunwall
import Glibc
import SystemIO

/// A TUN device (IFF_TUN | IFF_NO_PI, optionally IFF_VNET_HDR). Not Sendable:
/// one thread owns a device, as one thread owns its event loop.
public final class TunDevice {
    /// Size of struct virtio_net_hdr (no mergeable buffers): set with TUNSETVNETHDRSZ.
    public static let virtioHeaderSize = 10

    /// The kernel's name for the device (the one asked for, or the one it chose for "tw%d").
    public let name: String
    /// The /dev/net/tun descriptor; -1 after `close()`, so that a late read
    /// fails with EBADF instead of reading a descriptor that was reused.
    public private(set) var fileDescriptor: Int32
    /// True when every read and write starts with the 10-byte virtio_net_hdr (IFF_VNET_HDR).
    public let hasVirtioHeader: Bool
    /// True for IFF_TAP (Ethernet frames), false for IFF_TUN (IP packets).
    public let isTAP: Bool

    /// Opens /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC) and attaches it to
    /// `name` with TUNSETIFF: IFF_TUN | IFF_NO_PI, plus IFF_VNET_HDR and
    /// TUNSETVNETHDRSZ 10 when `virtioHeader`; when both `virtioHeader` and
    /// `offloads`, TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 (offloads
    /// need the header to describe them, so without it they are not asked for).
    /// Needs CAP_NET_ADMIN. A name of IFNAMSIZ (16) bytes or more, or with a
    /// NUL in it, is refused with ENAMETOOLONG / EINVAL.
    ///
    /// `multiQueue` adds IFF_MULTI_QUEUE: the first open makes the device,
    /// each further open with the same name and flags adds a queue (at most
    /// 256, drivers/net/tun.c MAX_TAP_QUEUES), and the kernel spreads the
    /// packets it sends to userspace over the queues by flow hash
    /// (tun_automq_select_queue: the queue that last wrote the flow, else
    /// the hash scaled to the number of queues). One worker reads each queue.
    public init(name: String, tap: Bool = false, virtioHeader: Bool = true, offloads: Bool = true, multiQueue: Bool = false) throws(SystemError) {
        if name.utf8.contains(0) { throw SystemError(call: "ioctl(TUNSETIFF)", errno: EINVAL) }
        if name.utf8.count >= Int(ctw_IFNAMSIZ) { throw SystemError(call: "ioctl(TUNSETIFF)", errno: ENAMETOOLONG) }

        let fd = Int32(try Syscall.require("open(/dev/net/tun)") {
            Int(open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC))
        })
        var flags = (tap ? ctw_IFF_TAP : ctw_IFF_TUN) | ctw_IFF_NO_PI
        if virtioHeader { flags |= ctw_IFF_VNET_HDR }
        if multiQueue { flags |= ctw_IFF_MULTI_QUEUE }
        var actualName = [CChar](repeating: 0, count: Int(ctw_IFNAMSIZ))
        do {
            _ = try Syscall.require("ioctl(TUNSETIFF)") {
                Int(ctw_tun_attach(fd, name, flags, &actualName))
            }
            if virtioHeader {
                _ = try Syscall.require("ioctl(TUNSETVNETHDRSZ)") {
                    Int(ctw_tun_set_vnet_header_size(fd, Int32(Self.virtioHeaderSize)))
                }
                if offloads {
                    _ = try Syscall.require("ioctl(TUNSETOFFLOAD)") {
                        Int(ctw_tun_set_offload(fd, ctw_TUN_F_CSUM | ctw_TUN_F_TSO4 | ctw_TUN_F_TSO6))
                    }
                }
            }
        } catch {
            Syscall.close(fd)
            throw error
        }
        self.fileDescriptor = fd
        self.hasVirtioHeader = virtioHeader
        self.isTAP = tap
        self.name = String(decoding: actualName.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { close() }

    /// Reads one packet (with its 10-byte virtio_net_hdr first when
    /// hasVirtioHeader) into `buffer`; nil when nothing is waiting (EAGAIN).
    /// A buffer smaller than the packet gets its first bytes only (the rest is
    /// lost), so give it 65536 + 10 bytes when offloads are on.
    @inline(__always)
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int? {
        let fd = fileDescriptor
        return try Syscall.call("read(\(name))") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Writes one packet (virtio header first when hasVirtioHeader); false on
    /// EAGAIN (queue full: the caller drops and counts). The kernel refuses a
    /// malformed packet or virtio header with EINVAL, and any write while the
    /// link is down with EIO: per-packet errors the caller counts, not fatal ones.
    @inline(__always)
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> Bool {
        let fd = fileDescriptor
        return try Syscall.call("write(\(name))") { Glibc.write(fd, bytes.baseAddress, bytes.count) } != nil
    }

    /// TUNSETQUEUE: attaches this queue to its multi-queue device again, or
    /// detaches it (IFF_DETACH_QUEUE: the kernel stops steering packets to
    /// it while the fd stays open; a worker leaving detaches first so that no
    /// packet is queued to an fd nobody reads).
    public func setQueueAttached(_ attached: Bool) throws(SystemError) {
        _ = try Syscall.require("ioctl(TUNSETQUEUE)") { Int(ctw_tun_set_queue(fileDescriptor, attached ? 1 : 0)) }
    }

    /// TUNSETSTEERINGEBPF: the device's queue-steering program
    /// (SteeringProgram), set through any of its queues; -1 removes it.
    public func setSteeringProgram(_ program: Int32) throws(SystemError) {
        let result = ctw_tun_set_steering(fileDescriptor, program)
        if result < 0 { throw SystemError(call: "ioctl(\(name), TUNSETSTEERINGEBPF)", errno: -result) }
    }

    /// SIOCSIFTXQLEN through an AF_INET datagram socket in the *current*
    /// namespace, so call it before moving the device. The default is 500;
    /// 1000 or more keeps bulk TCP from dropping at the TUN queue.
    public func setTransmitQueueLength(_ length: Int) throws(SystemError) {
        guard let queueLength = Int32(exactly: length), queueLength >= 0 else {
            throw SystemError(call: "ioctl(SIOCSIFTXQLEN)", errno: EINVAL)
        }
        let socket = try Self.controlSocket()
        defer { Syscall.close(socket) }
        _ = try Syscall.require("ioctl(SIOCSIFTXQLEN)") { Int(ctw_ifreq_set_txqlen(socket, name, queueLength)) }
    }

    /// Brings the link up (SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP) in the
    /// current namespace. Usually the namespace's side does this (ip link set
    /// NAME up) after the device is moved there.
    public func setUp() throws(SystemError) {
        let socket = try Self.controlSocket()
        defer { Syscall.close(socket) }
        var flags: Int16 = 0
        _ = try Syscall.require("ioctl(SIOCGIFFLAGS)") { Int(ctw_ifreq_get_flags(socket, name, &flags)) }
        if flags & ctw_IFF_UP != 0 { return }
        _ = try Syscall.require("ioctl(SIOCSIFFLAGS)") { Int(ctw_ifreq_set_flags(socket, name, flags | ctw_IFF_UP)) }
    }

    /// Closes the fd, which removes the device. Idempotent; deinit calls it too.
    public func close() {
        Syscall.close(fileDescriptor)
        fileDescriptor = -1
    }

    /// netdevice(7): interface ioctls go through any socket; an AF_INET
    /// datagram socket is the customary one.
    private static func controlSocket() throws(SystemError) -> Int32 {
        Int32(try Syscall.require("socket(AF_INET, SOCK_DGRAM)") {
            Int(socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
        })
    }
}

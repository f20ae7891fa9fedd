// Tests of TunDevice on real TUN devices (need root, CAP_NET_ADMIN).
//
// The end-to-end test sends nothing from the root namespace: it moves the
// device into a namespace it created (twt-PID), lets that namespace's kernel
// ping 10.99.0.2 through it, reads the echo request from the fd, writes an
// echo reply back, and checks that ping got it. The namespace is deleted in a
// defer, whatever happens. Packets are parsed by hand (TunIOTests may not use Wire).
import Foundation
import Glibc
import Testing
import TestSupport

@testable import TunIO
import SystemIO

@Suite(.tags(.lab), .serialized, .enabled(if: isRoot, "TUN devices need root"), .timeLimit(.minutes(5)))
struct TunDeviceTests {
    /// "twtNNNNN" + a letter per test: unique per test process, within IFNAMSIZ.
    static func deviceName(_ suffix: String) -> String { "twt\(getpid() % 100000)\(suffix)" }

    @Test func virtioDeviceHasTheFlagsAndReadsNilWhenEmpty() throws {
        let device = try TunDevice(name: Self.deviceName("a"))
        defer { device.close() }
        #expect(device.name == Self.deviceName("a"))
        #expect(device.hasVirtioHeader)
        #expect(device.fileDescriptor >= 0)
        // IFF_TUN 0x1 | IFF_NO_PI 0x1000 | IFF_VNET_HDR 0x4000
        #expect(sysfs(device.name, "tun_flags") == "0x5001")
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536 + 10, alignment: 16)
        defer { buffer.deallocate() }
        #expect(try device.read(into: buffer) == nil)

        try device.setTransmitQueueLength(1000)
        #expect(sysfs(device.name, "tx_queue_len") == "1000")
        #expect(throws: SystemError(call: "ioctl(SIOCSIFTXQLEN)", errno: EINVAL)) { try device.setTransmitQueueLength(-1) }
        #expect(throws: SystemError(call: "ioctl(SIOCSIFTXQLEN)", errno: EINVAL)) { try device.setTransmitQueueLength(1 << 40) }
    }

    /// Several workers (issue 17): each open with IFF_MULTI_QUEUE adds a
    /// queue to the same device; TUNSETQUEUE detaches and attaches one.
    @Test func multiQueueDeviceTakesAQueuePerOpen() throws {
        let name = Self.deviceName("q")
        let first = try TunDevice(name: name, multiQueue: true)
        defer { first.close() }
        let second = try TunDevice(name: name, multiQueue: true)
        defer { second.close() }
        #expect(second.name == name)
        // IFF_TUN 0x1 | IFF_MULTI_QUEUE 0x100 | IFF_NO_PI 0x1000 | IFF_VNET_HDR 0x4000
        #expect(sysfs(name, "tun_flags") == "0x5101")
        #expect(FileManager.default.fileExists(atPath: "/sys/class/net/\(name)/queues/rx-1"), "two queues")
        try second.setQueueAttached(false)
        #expect(throws: SystemError.self) { try second.setQueueAttached(false) }   // already detached: EINVAL
        try second.setQueueAttached(true)
        // A device made single-queue refuses a multi-queue open of its name.
        let single = try TunDevice(name: Self.deviceName("r"))
        defer { single.close() }
        #expect(throws: SystemError.self) { try TunDevice(name: Self.deviceName("r"), multiQueue: true) }
    }

    @Test func plainDeviceAndSetUp() throws {
        let device = try TunDevice(name: Self.deviceName("b"), virtioHeader: false)
        #expect(!device.hasVirtioHeader)
        #expect(sysfs(device.name, "tun_flags") == "0x1001")
        // Keep IPv6 from sending router solicitations into the fd once up.
        try? "1".write(toFile: "/proc/sys/net/ipv6/conf/\(device.name)/disable_ipv6", atomically: false, encoding: .utf8)
        #expect(flags(device.name) & 0x1 == 0)
        try device.setUp()
        try device.setUp()  // already up: fine
        #expect(flags(device.name) & 0x1 == 0x1)  // IFF_UP

        let name = device.name
        device.close()
        device.close()  // idempotent
        #expect(device.fileDescriptor == -1)
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(name)"))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
        defer { buffer.deallocate() }
        #expect(throws: SystemError(call: "read(\(name))", errno: EBADF)) { try device.read(into: buffer) }
    }

    @Test func kernelChoosesTheNameForAPattern() throws {
        let device = try TunDevice(name: "twt%d")
        defer { device.close() }
        #expect(device.name.hasPrefix("twt") && device.name != "twt%d")
        #expect(FileManager.default.fileExists(atPath: "/sys/class/net/\(device.name)"))
    }

    @Test func badNamesThrowInsteadOfTrapping() {
        #expect(throws: SystemError(call: "ioctl(TUNSETIFF)", errno: ENAMETOOLONG)) { try TunDevice(name: "a-name-far-too-long") }
        #expect(throws: SystemError(call: "ioctl(TUNSETIFF)", errno: EINVAL)) { try TunDevice(name: "nul\u{0}in") }
        #expect(throws: SystemError.self) { try TunDevice(name: "bad name/") }
    }

    @Test func echoRequestFromANamespaceAndOurReplyBack() throws {
        let namespace = "twt-\(getpid())"
        let device = try TunDevice(name: Self.deviceName("e"))
        defer { device.close() }
        try device.setTransmitQueueLength(1000)
        try shell("ip", "netns", "add", namespace)
        defer { _ = try? shell("ip", "netns", "delete", namespace) }
        try shell("ip", "link", "set", device.name, "netns", namespace)
        try shell("ip", "-n", namespace, "addr", "add", "10.99.0.1/24", "dev", device.name)
        try shell("ip", "-n", namespace, "link", "set", device.name, "up")

        let havePing = FileManager.default.isExecutableFile(atPath: "/usr/bin/ping") || FileManager.default.isExecutableFile(atPath: "/bin/ping")
        let sender = Process()
        sender.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sender.arguments = havePing
            ? ["ip", "netns", "exec", namespace, "ping", "-n", "-c", "1", "-W", "3", "10.99.0.2"]
            : ["ip", "netns", "exec", namespace, "python3", "-c",
               "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'tunwall', ('10.99.0.2', 9999))"]
        sender.standardOutput = FileHandle.nullDevice
        sender.standardError = FileHandle.nullDevice
        try sender.run()
        defer { if sender.isRunning { sender.terminate() }; sender.waitUntilExit() }

        // Read until the IPv4 packet to 10.99.0.2 (IPv6 link-local chatter may come first).
        let loop = try EventLoop()
        try loop.add(device.fileDescriptor, token: 0)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536 + 10, alignment: 16)
        defer { buffer.deallocate() }
        var packet: [UInt8]? = nil
        let deadline = Date().addingTimeInterval(5)
        while packet == nil && Date() < deadline {
            _ = try loop.wait(timeoutMilliseconds: 200) { _ in }
            while let count = try device.read(into: buffer) {
                let bytes = Array(buffer[0..<count])
                let ip = bytes.dropFirst(TunDevice.virtioHeaderSize)
                if ip.count >= 20, ip[ip.startIndex] >> 4 == 4, Array(ip[(ip.startIndex + 16)..<(ip.startIndex + 20)]) == [10, 99, 0, 2] {
                    packet = bytes
                    break
                }
            }
        }
        let received = try #require(packet)
        let header = Array(received[0..<10])
        let ip = Array(received[10...])
        #expect(header[1] == 0)  // gso_type VIRTIO_NET_HDR_GSO_NONE
        #expect(Array(ip[12..<16]) == [10, 99, 0, 1])
        #expect(Int(ip[2]) << 8 | Int(ip[3]) == ip.count)  // total length = what was read
        guard havePing else {
            #expect(ip[9] == 17)  // UDP
            return
        }
        #expect(ip[9] == 1)  // ICMP
        let headerLength = Int(ip[0] & 0x0f) * 4
        #expect(ip[headerLength] == 8)  // echo request

        // The reply: swap the addresses, type 0, fresh checksums, and a zero
        // virtio header (no GSO, checksums complete).
        var reply = ip
        reply.replaceSubrange(12..<16, with: ip[16..<20])
        reply.replaceSubrange(16..<20, with: ip[12..<16])
        reply[8] = 64
        reply[10] = 0; reply[11] = 0
        let ipSum = internetChecksum(reply[0..<headerLength])
        reply[10] = UInt8(ipSum >> 8); reply[11] = UInt8(ipSum & 0xff)
        reply[headerLength] = 0
        reply[headerLength + 2] = 0; reply[headerLength + 3] = 0
        let icmpSum = internetChecksum(reply[headerLength...])
        reply[headerLength + 2] = UInt8(icmpSum >> 8); reply[headerLength + 3] = UInt8(icmpSum & 0xff)
        let frame = [UInt8](repeating: 0, count: TunDevice.virtioHeaderSize) + reply
        let written = try frame.withUnsafeBytes { bytes throws(SystemError) in try device.write(bytes) }
        #expect(written)

        sender.waitUntilExit()
        #expect(sender.terminationStatus == 0, "ping should have received our echo reply")
    }
}

// MARK: - Helpers

/// /sys/class/net/NAME/FILE, trimmed.
func sysfs(_ name: String, _ file: String) -> String? {
    (try? String(contentsOfFile: "/sys/class/net/\(name)/\(file)", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The device's flags from sysfs (e.g. 0x1003 = IFF_UP | IFF_BROADCAST | ...).
func flags(_ name: String) -> Int {
    guard let text = sysfs(name, "flags"), text.hasPrefix("0x"), let value = Int(text.dropFirst(2), radix: 16) else { return -1 }
    return value
}

struct CommandFailed: Error, CustomStringConvertible {
    let description: String
}

/// Runs a command found on PATH; throws with its stderr when it fails.
@discardableResult
func shell(_ arguments: String...) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandFailed(description: "\(arguments.joined(separator: " ")): exit \(process.terminationStatus): \(errorText)")
    }
    return text
}

/// RFC 1071 Internet checksum of `bytes`.
func internetChecksum<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
    var sum: UInt32 = 0
    var iterator = bytes.makeIterator()
    while let high = iterator.next() {
        let low = iterator.next() ?? 0
        sum &+= UInt32(high) << 8 | UInt32(low)
    }
    while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}

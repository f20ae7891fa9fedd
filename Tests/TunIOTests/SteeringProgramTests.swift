// The queue-steering eBPF program (Sources/CTunwall/CSteering.c) against its
// Swift twin (Conntrack/SteeringHash.swift), which NAT relies on to choose
// ports whose replies the kernel queues to the owning worker: the program is
// run by the kernel itself (BPF_PROG_TEST_RUN) on the same packets, and then
// on a real multi-queue device, where the kernel's queue for each datagram a
// namespace sends must be the one the Swift function names. Needs root (bpf(2),
// TUN devices); the datagrams leave a namespace this test made.
import Foundation
import Glibc
import Testing
import TestSupport

import CTunwall
@testable import Conntrack
@testable import TunIO
import SystemIO

@Suite(.tags(.lab), .serialized, .enabled(if: isRoot, "bpf(2) and TUN devices need root"), .timeLimit(.minutes(3)))
struct SteeringProgramTests {
    /// The program's return value for an IP packet, run by the kernel.
    static func run(_ program: Int32, _ packet: [UInt8]) throws -> UInt32 {
        var result: UInt32 = 0
        let code = packet.withUnsafeBufferPointer { ctw_steering_test_run(program, $0.baseAddress, $0.count, &result) }
        try #require(code == 0, "BPF_PROG_TEST_RUN: \(String(cString: strerror(-code))) on \(packet)")
        return result
    }

    static func ipv4(protocol proto: UInt8, source: [UInt8] = [10, 0, 1, 2], destination: [UInt8] = [203, 0, 113, 10],
                     fragment: UInt16 = 0, options: Int = 0, payload: [UInt8]) -> [UInt8] {
        let headerLength = 20 + options
        let total = headerLength + payload.count
        var header: [UInt8] = [UInt8(0x40 | headerLength / 4), 0, UInt8(total >> 8), UInt8(total & 0xff), 0x12, 0x34,
                               UInt8(fragment >> 8), UInt8(fragment & 0xff), 64, proto, 0, 0]
        header += source + destination
        header += [UInt8](repeating: 1, count: options)  // NOPs
        return header + payload
    }

    static func ipv6(next: UInt8, payload: [UInt8]) -> [UInt8] {
        var header: [UInt8] = [0x60, 0, 0, 0, UInt8(payload.count >> 8), UInt8(payload.count & 0xff), next, 64]
        header += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2]
        header += [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]
        return header + payload
    }

    static func ports(_ source: UInt16, _ destination: UInt16) -> [UInt8] {
        [UInt8(source >> 8), UInt8(source & 0xff), UInt8(destination >> 8), UInt8(destination & 0xff)]
            + [UInt8](repeating: 0, count: 16)
    }

    static func echo(type: UInt8, identifier: UInt16) -> [UInt8] {
        [type, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff), 0, 1] + [UInt8](repeating: 0, count: 8)
    }

    @Test func programAndSwiftAgreeOnEveryKindOfPacket() throws {
        var loaded = ctw_steering()
        let failure = ctw_steering_load(&loaded)
        try #require(failure == 0, "bpf(2): \(String(cString: strerror(-failure)))")
        let program = loaded.program
        defer {
            close(loaded.program)
            close(loaded.map)
            munmap(loaded.owners, SteeringExceptions.keys * 8)
        }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let a = UInt16.random(in: 0...65535, using: &random), b = UInt16.random(in: 0...65535, using: &random)
            let expected = UInt32(SteeringHash.value(key: a ^ b))
            // TCP, UDP, UDP-Lite, SCTP, DCCP; both directions; a header with options; IPv6.
            for proto: UInt8 in [6, 17, 136, 132, 33] {
                #expect(try Self.run(program, Self.ipv4(protocol: proto, payload: Self.ports(a, b))) == expected)
            }
            #expect(try Self.run(program, Self.ipv4(protocol: 6, source: [203, 0, 113, 10], destination: [198, 51, 100, 1],
                                                    payload: Self.ports(b, a))) == expected)
            #expect(try Self.run(program, Self.ipv4(protocol: 17, options: 8, payload: Self.ports(a, b))) == expected)
            #expect(try Self.run(program, Self.ipv6(next: 6, payload: Self.ports(b, a))) == expected)
            #expect(try Self.run(program, Self.ipv6(next: 17, payload: Self.ports(a, b))) == expected)
            let echoValue = UInt32(SteeringHash.value(key: a))
            #expect(try Self.run(program, Self.ipv4(protocol: 1, payload: Self.echo(type: 8, identifier: a))) == echoValue)
            #expect(try Self.run(program, Self.ipv4(protocol: 1, payload: Self.echo(type: 0, identifier: a))) == echoValue)
            #expect(try Self.run(program, Self.ipv6(next: 58, payload: Self.echo(type: 128, identifier: a))) == echoValue)
            #expect(try Self.run(program, Self.ipv6(next: 58, payload: Self.echo(type: 129, identifier: a))) == echoValue)
            // The Swift side names the same worker for a translated tuple (what NAT checks).
            for workers in 2...4 {
                #expect(SteeringHash.worker(ports: a, b, workers: workers) == Int(UInt16(truncatingIfNeeded: expected)) % workers)
            }
        }
        // A datagram's fragments go by its addresses: the first (with the
        // ports) and the later ones (without) reach the same queue.
        let first = try Self.run(program, Self.ipv4(protocol: 17, fragment: 0x2000, payload: Self.ports(1234, 53)))
        let later = try Self.run(program, Self.ipv4(protocol: 17, fragment: 0x0003, payload: [UInt8](repeating: 7, count: 24)))
        #expect(first == later)
        let whole = try Self.run(program, Self.ipv4(protocol: 17, payload: Self.ports(1234, 53)))
        #expect(whole == UInt32(SteeringHash.value(key: 1234 ^ 53)))
        // So do ICMP errors and protocols without ports (here GRE): by addresses, in either direction.
        let unreachable = try Self.run(program, Self.ipv4(protocol: 1, payload: [3, 3, 0, 0] + [UInt8](repeating: 0, count: 28)))
        let gre = try Self.run(program, Self.ipv4(protocol: 47, payload: [UInt8](repeating: 0, count: 8)))
        let greBack = try Self.run(program, Self.ipv4(protocol: 47, source: [203, 0, 113, 10], destination: [10, 0, 1, 2],
                                                      payload: [UInt8](repeating: 0, count: 8)))
        #expect(unreachable == gre && gre == greBack)
        let v6Fragment = try Self.run(program, Self.ipv6(next: 44, payload: [17, 0, 0, 1, 0, 0, 0, 9] + Self.ports(1234, 53)))
        let v6Later = try Self.run(program, Self.ipv6(next: 44, payload: [17, 0, 0, 8, 0, 0, 0, 9] + [UInt8](repeating: 0, count: 20)))
        #expect(v6Fragment == v6Later)
        // An exception written into the mapped map: that key's packets go to
        // the owner written there (in either direction), the others still by hash.
        let exceptions = SteeringExceptions(mapped: UnsafeMutableRawPointer(loaded.owners))
        let key: UInt16 = 1234 ^ 53
        exceptions.add(key: key, owner: 3)
        #expect(try Self.run(program, Self.ipv4(protocol: 17, payload: Self.ports(1234, 53))) == 3)
        #expect(try Self.run(program, Self.ipv6(next: 6, payload: Self.ports(53, 1234))) == 3)
        #expect(exceptions.worker(key: key, workers: 4) == 3)
        #expect(try Self.run(program, Self.ipv4(protocol: 17, payload: Self.ports(1235, 53))) == UInt32(SteeringHash.value(key: 1235 ^ 53)))
        exceptions.add(key: key, owner: 3)
        exceptions.remove(key: key)
        #expect(try Self.run(program, Self.ipv4(protocol: 17, payload: Self.ports(1234, 53))) == 3, "one connection still needs it")
        exceptions.remove(key: key)
        #expect(try Self.run(program, Self.ipv4(protocol: 17, payload: Self.ports(1234, 53))) == whole)
        // A TCP header cut off before its ports: the load fails, the program
        // ends with 0 (queue 0), no fault.
        #expect(try Self.run(program, Self.ipv4(protocol: 6, payload: [])) == 0)
    }

    /// The real thing: a four-queue device with the program attached, moved
    /// into a namespace that sends one datagram from each of 64 source ports;
    /// each must come out of the queue SteeringHash names.
    @Test func kernelQueuesEachDatagramWhereSwiftSays() throws {
        let name = "twt\(getpid() % 100000)s"
        let namespace = "twt-\(getpid())-s"
        var queues: [TunDevice] = []
        defer { for queue in queues { queue.close() } }
        for _ in 0..<4 { queues.append(try TunDevice(name: name, multiQueue: true)) }
        let (exceptions, reason) = SteeringProgram.attach(to: [queues[2]])
        let owners = try #require(exceptions, "\(reason ?? "")")
        // One flow is an exception: queued to the worker after its hash's.
        let exceptionKey = UInt16(20000) ^ 7777
        owners.add(key: exceptionKey, owner: (SteeringHash.worker(ports: 20000, 7777, workers: 4) + 1) % 4)
        try shell("ip", "netns", "add", namespace)
        defer { _ = try? shell("ip", "netns", "delete", namespace) }
        try shell("ip", "link", "set", name, "netns", namespace)
        try shell("ip", "-n", namespace, "addr", "add", "10.98.0.1/24", "dev", name)
        try shell("ip", "-n", namespace, "link", "set", name, "up")
        let sourcePorts = (0..<64).map { 20000 + $0 * 37 }
        let script = "import socket\nfor p in \(sourcePorts):\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            + "    s.bind(('10.98.0.1', p)); s.sendto(b'q', ('10.98.0.2', 7777)); s.close()\n"
        try shell("ip", "netns", "exec", namespace, "python3", "-c", script)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536 + 10, alignment: 16)
        defer { buffer.deallocate() }
        var seen: [Int: Int] = [:]   // source port → queue
        let deadline = Date().addingTimeInterval(5)
        while seen.count < sourcePorts.count && Date() < deadline {
            for (index, queue) in queues.enumerated() {
                while let count = try queue.read(into: buffer) {
                    let ip = Array(buffer[TunDevice.virtioHeaderSize..<count])
                    guard ip.count >= 28, ip[0] >> 4 == 4, ip[9] == 17, Array(ip[16..<20]) == [10, 98, 0, 2] else { continue }
                    let offset = Int(ip[0] & 0x0f) * 4
                    seen[Int(ip[offset]) << 8 | Int(ip[offset + 1])] = index
                }
            }
            usleep(20_000)
        }
        #expect(seen.count == sourcePorts.count)
        var used = Set<Int>()
        for port in sourcePorts {
            let expected = owners.worker(key: UInt16(port) ^ 7777, workers: 4)
            #expect(seen[port] == expected, "source port \(port)")
            used.insert(expected)
        }
        #expect(used.count == 4, "64 flows spread over all four queues")
        #expect(seen[20000] == (SteeringHash.worker(ports: 20000, 7777, workers: 4) + 1) % 4, "the exception's queue")
    }
}

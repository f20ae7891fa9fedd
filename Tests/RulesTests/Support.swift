// Helpers for the Rules tests: packets as the engine fills them, parsing with
// the interfaces bound, the test directories, and a throwaway network
// namespace to ask the real nft about a file.

import Conntrack
import Foundation
import Rules
import Testing
import Wire

/// Interfaces the tests bind: lan0 = 0, wan0 = 1, dmz0 = 2, lo = 3.
let interfaceNames = ["lan0", "wan0", "dmz0", "lo"]
let lan = 0, wan = 1, dmz = 2, loopback = 3

func parse(_ text: String, file: String = "test.nft") throws -> Ruleset {
    let ruleset = try Ruleset.parse(text, file: file)
    ruleset.bind(interfaceNames: interfaceNames)
    return ruleset
}

func address(_ text: String) -> IPv6Address {
    if let v4 = IPv4Address(text) { return IPv6Address(ipv4Mapped: v4) }
    return IPv6Address(text)!
}

/// A packet as the engine fills RulePacket (IPv4 addresses IPv4-mapped).
func packet(_ source: String, _ destination: String, _ l4: IPProtocol = .tcp, sport: UInt16 = 40000, dport: UInt16 = 80,
            flags: TCPFlags = .syn, state: ConnState = .new, iif: Int = lan, oif: Int = wan, length: Int = 60) -> RulePacket {
    var p = RulePacket()
    p.family = IPv4Address(source) != nil ? .ipv4 : .ipv6
    p.source = address(source)
    p.destination = address(destination)
    p.l4Protocol = l4
    if l4 == .tcp || l4 == .udp {
        p.sourcePort = sport
        p.destinationPort = dport
    }
    if l4 == .tcp { p.tcpFlags = flags }
    p.ctState = state
    p.inputInterface = iif
    p.outputInterface = oif
    p.length = length
    p.ttl = 64
    return p
}

func icmp(_ source: String, _ destination: String, type: UInt8, code: UInt8 = 0, state: ConnState = .new,
          iif: Int = lan, oif: Int = wan) -> RulePacket {
    let v6 = IPv4Address(source) == nil
    var p = packet(source, destination, v6 ? .icmpv6 : .icmp, state: state, iif: iif, oif: oif, length: 84)
    p.icmpType = type
    p.icmpCode = code
    return p
}

extension Ruleset {
    /// Evaluates and throws the log away.
    func verdict(_ hook: Hook, _ packet: RulePacket) -> RuleVerdict {
        var copy = packet
        var log: [String] = []
        return evaluate(hook, &copy, log: &log)
    }
}

enum Paths {
    static let testDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let invalid = testDirectory.appendingPathComponent("Invalid")
    static let repository = testDirectory.deletingLastPathComponent().deletingLastPathComponent()

    static func files(in directory: URL, extension ext: String) -> [URL] {
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return [] }
        return enumerator.compactMap { $0 as? URL }.filter { $0.pathExtension == ext }
            .sorted { $0.path < $1.path }
    }
}

/// The real nft, in a network namespace of its own (never the root namespace's rules).
final class NFTNamespace {
    let name = "twr-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    static var available: Bool {
        let files = FileManager.default
        let nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].contains { files.isExecutableFile(atPath: $0) }
        let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].contains { files.isExecutableFile(atPath: $0) }
        return getuid() == 0 && nft && ip
    }

    init() throws {
        let result = NFTNamespace.run(["ip", "netns", "add", name])
        guard result.status == 0 else { throw NamespaceError(message: result.output) }
    }

    deinit {
        _ = NFTNamespace.run(["ip", "netns", "del", name])
    }

    /// Loads a file for real inside the namespace (after flushing what was there): the kernel checks it too.
    func load(_ path: String) -> (status: Int32, output: String) {
        _ = NFTNamespace.run(["ip", "netns", "exec", name, "nft", "flush", "ruleset"])
        return NFTNamespace.run(["ip", "netns", "exec", name, "nft", "-f", path])
    }

    func check(_ path: String) -> (status: Int32, output: String) {
        _ = NFTNamespace.run(["ip", "netns", "exec", name, "nft", "flush", "ruleset"])
        return NFTNamespace.run(["ip", "netns", "exec", name, "nft", "-c", "-f", path])
    }

    func listRuleset() -> String {
        NFTNamespace.run(["ip", "netns", "exec", name, "nft", "list", "ruleset"]).output
    }

    static func run(_ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            return (-1, "\(error)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    struct NamespaceError: Error { var message: String }
}

/// Writes `text` to a temporary file and returns its path.
func temporaryFile(_ text: String, name: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rules-tests-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent("\(UUID().uuidString)-\(name)")
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

func removeTemporaryFile(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
    // The directory goes too once the last test using it is done with it.
    _ = rmdir((path as NSString).deletingLastPathComponent)
}

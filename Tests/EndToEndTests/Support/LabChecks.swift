// What the lab tests check outside the traffic itself: that a server really
// listens before the first packet is sent (so no client needs a retry that
// would also hide a firewall dropping the first packets), and what a lab
// leaves on the machine once it is down (namespaces, the processes in them,
// and so the TUN devices: a non-persistent TUN device lives only as long as
// the firewall process holding its file descriptor, tuntap.rst).

import Foundation
import Testing
import TestSupport

/// The limit given to every lab suite: a hung `lab up` or client fails its
/// test instead of holding CI for 90 minutes. Generous for a slow 2-core runner.
let labTimeLimit: TimeLimitTrait = .timeLimit(.minutes(10))

enum LabChecks {
    /// Waits until something in `lab`'s namespace of `host` listens on
    /// `port` (TCP, or bound UDP with `udp`), as `ss` sees it from inside that
    /// namespace; on `address` too when given. Throws after `seconds`.
    static func waitUntilListening(lab: String, host: String, port: Int, address: String? = nil, udp: Bool = false,
                                   seconds: Double = 15) throws {
        let deadline = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < deadline {
            let run = try Tool.labExec(lab, host, ["ss", "-H", udp ? "-lun" : "-ltn", "sport = :\(port)"])
            last = run.stdout + run.stderr
            // ss -H: State Recv-Q Send-Q Local:Port Peer:Port; the fourth column is ours.
            let locals = run.stdout.split(separator: "\n").compactMap { line in
                line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first.map(String.init)
            }
            if locals.contains(where: { local in
                guard local.hasSuffix(":\(port)") else { return false }
                guard let address else { return true }
                return local == "\(address):\(port)" || local == "[\(address)]:\(port)"
            }) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw LabCheckFailure("nothing listens on \(address ?? "*"):\(port)/\(udp ? "udp" : "tcp") in \(lab)'s \(host) "
                              + "after \(seconds) s (ss: \(last))")
    }

    /// The namespaces `ip netns list` shows for `lab` (tw-LAB-HOST).
    static func namespaces(of lab: String) -> [String] {
        let list = (try? Tool.run(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "list"]).stdout) ?? ""
        return list.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0.hasPrefix("tw-\(lab)-") && !$0.dropFirst("tw-\(lab)-".count).contains("-") }
    }

    /// The inode of each of `lab`'s namespaces now (what /proc/PID/ns/net of a process in it names).
    static func namespaceInodes(of lab: String) -> [String: UInt64] {
        var inodes: [String: UInt64] = [:]
        for namespace in namespaces(of: lab) {
            var status = stat()
            if stat("/run/netns/\(namespace)", &status) == 0 { inodes[namespace] = UInt64(status.st_ino) }
        }
        return inodes
    }

    /// Processes whose network namespace is one of `inodes`: a namespace
    /// `ip netns delete` unmounted lives on while one of them is in it, with
    /// its devices (the firewall's TUN devices among them).
    static func processes(inNamespaces inodes: some Collection<UInt64>) -> [String] {
        // The kernel reuses a freed namespace's inode number: one that now
        // belongs to a namespace another lab (running in parallel) mounted
        // is that lab's, not a leftover of ours.
        var reused: Set<UInt64> = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [] {
            var status = stat()
            if stat("/run/netns/\(name)", &status) == 0 { reused.insert(UInt64(status.st_ino)) }
        }
        let wanted = Set(inodes.filter { !reused.contains($0) }.map { "net:[\($0)]" })
        guard !wanted.isEmpty, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.filter { $0.allSatisfy(\.isNumber) }.compactMap { pid in
            guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net"),
                  wanted.contains(link) else { return nil }
            let commandLine = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            return "process \(pid) (\(String(decoding: commandLine.map { $0 == 0 ? 32 : $0 }, as: UTF8.self))) in \(link)"
        }
    }

    /// Processes holding an open TUN device (/dev/net/tun) whose command line
    /// names `lab`'s state directory: the firewall of that lab (`tunwall run
    /// /run/tunwall/labs/LAB/firewall.json`), which keeps its devices alive.
    static func tunHolders(of lab: String) -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.filter { $0.allSatisfy(\.isNumber) }.compactMap { pid in
            let commandLine = String(decoding: ((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data())
                .map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            guard commandLine.contains("/labs/\(lab)/"),
                  let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return nil }
            let tun = fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == "/dev/net/tun" }
            return tun.isEmpty ? nil : "process \(pid) (\(commandLine)) holds \(tun.count) TUN device(s)"
        }
    }

    /// Everything of `lab` still on the machine: its namespaces, processes in
    /// the namespaces it had (`inodes`, read while it was up), its firewall
    /// holding TUN devices, processes naming its state directory.
    static func leftovers(of lab: String, inodes: some Collection<UInt64>) -> [String] {
        var found = namespaces(of: lab).map { "namespace \($0)" }
        found += processes(inNamespaces: inodes)
        found += tunHolders(of: lab)
        if let processes = try? Tool.run(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-f", "labs/\(lab)/"]).stdout {
            found += processes.split(separator: "\n").map { "process \($0) naming labs/\(lab)/" }
        }
        return found
    }

    /// The pid in a pid file; nil unless it is a positive number (kill(0, …)
    /// would signal our whole process group, kill(-1, …) every process).
    static func pid(inFile path: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else { return nil }
        return pid
    }

    /// `tunwall stats --lab LAB`'s count for one drop reason (0 when not listed).
    static func dropCount(lab: String, _ reason: String) throws -> UInt64 {
        let stats = try Tool.run(Tool.binary, ["stats", "--lab", lab])
        guard stats.status == 0 else { throw LabCheckFailure("tunwall stats --lab \(lab): \(stats.stderr)") }
        for line in stats.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, fields[0] == reason, let count = UInt64(fields[1]) { return count }
        }
        return 0
    }
}

struct LabCheckFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Hands one value from a thread to the test that waits for it.
/// @unchecked Sendable: the value is written once before the semaphore is
/// signalled and read only after the wait, so the semaphore orders both.
final class Handoff<T>: @unchecked Sendable {
    private var value: T?
    private let done = DispatchSemaphore(value: 0)
    func set(_ newValue: T) {
        value = newValue
        done.signal()
    }
    /// The value, or nil if none came within `seconds`.
    func wait(seconds: Double = 60) -> T? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return value
    }
}

extension LabChecks {
    /// What a command that builds a lab of its own (the demo) showed while it ran.
    struct WatchedRun {
        var run: Run
        /// The lab's name, from the command's pid.
        var lab: String
        /// Every namespace of that lab seen while the command ran, with its inode.
        var inodes: [String: UInt64]
    }

    /// Runs `tunwall ARGUMENTS` and, while it runs, watches for the namespaces
    /// of the lab `labName(pid)` names: the test learns which lab the command
    /// really made (and that it made one) instead of guessing its name.
    static func runWatchingLab(_ arguments: [String], timeout: Double = 240,
                               labName: (pid_t) -> String) throws -> WatchedRun {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-watch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outFile = directory.appendingPathComponent("out"), errFile = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        let process = Process()
        process.executableURL = Tool.binary
        process.arguments = arguments
        let out = try FileHandle(forWritingTo: outFile), err = try FileHandle(forWritingTo: errFile)
        process.standardOutput = out
        process.standardError = err
        try Tool.start(process)
        try? out.close()
        try? err.close()
        let watchdog = Tool.Watchdog(pid: process.processIdentifier, seconds: timeout)
        let lab = labName(process.processIdentifier)
        var inodes: [String: UInt64] = [:]
        while process.isRunning {
            inodes.merge(namespaceInodes(of: lab)) { old, _ in old }
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.waitUntilExit()
        watchdog.cancel()
        let run = Run(status: process.terminationStatus,
                      stdout: (try? String(contentsOf: outFile, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: errFile, encoding: .utf8)) ?? "")
        return WatchedRun(run: run, lab: lab, inodes: inodes)
    }
}

/// A lab up for one test (`lab up TOPOLOGY --name NAME --daemon`) with a
/// directory of its own, and maybe a ruleset written there and loaded with
/// `tunwall reload`; `down()` takes the lab and the directory away.
struct LabWorkspace {
    struct Failure: Error, CustomStringConvertible { let description: String }

    let name: String
    let directory: URL

    init(_ topology: String, name: String, ruleset: (file: String, text: String)? = nil) throws {
        self.name = name
        let path = repository.appendingPathComponent(topology).path
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-\(name)")
        let up = try Tool.run(Tool.binary, ["lab", "up", path, "--name", name, "--daemon"])
        guard up.status == 0 else {
            down()
            throw Failure(description: "lab up failed: \(up.stderr)")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            if let ruleset {
                let rules = directory.appendingPathComponent(ruleset.file)
                try ruleset.text.write(to: rules, atomically: true, encoding: .utf8)
                let reload = try Tool.run(Tool.binary, ["reload", rules.path, "--lab", name])
                guard reload.status == 0 else { throw Failure(description: "reload: \(reload.stderr)") }
            }
        } catch {
            down()
            throw error
        }
    }

    func down() { Self.takeDown(name, directory) }

    /// `lab down NAME` (whatever still runs in its namespaces stops), and the directory goes.
    static func takeDown(_ name: String, _ directory: URL) {
        _ = try? Tool.run(Tool.binary, ["lab", "down", name])
        try? FileManager.default.removeItem(at: directory)
    }
}

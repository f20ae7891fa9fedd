// What the Lab library hands a test as typed values, and `tunwall lab list
// --json` prints: a lab's status (LabRecord), and the firewall's state as
// the firewall itself encodes it on its control socket (ConntrackRecord,
// ExpectationRecord, StatisticsRecord: the same Codable types as
// `tunwall conntrack -L -o json` and `tunwall stats --json`).

#if canImport(Glibc)
import Glibc
#endif
import Conntrack
import Engine
import Foundation
import TunIO

// Re-exported, so `import Lab` alone names them.
@_exported import struct Conntrack.ConntrackRecord
@_exported import struct Conntrack.ConntrackTupleRecord
@_exported import struct Conntrack.ExpectationRecord
@_exported import struct Engine.StatisticsRecord

/// One lab, as `tunwall lab list` describes it.
public struct LabRecord: Codable, Sendable, Equatable {
    public var name: String
    /// The firewall runs (a tunwall process, or the kernel with `--kernel`).
    public var running: Bool
    public var firewallPID: Int32?
    public var kernel: Bool
    /// The hosts whose namespaces exist.
    public var hosts: [String]
    /// The topology file it was started from, if any.
    public var source: String?
    /// The lab's namespaces that exist (tw-LAB-fw first) and its state directory.
    public var namespaces: [String]
    public var stateDirectory: String?
    /// The firewall's control socket (`--socket` of conntrack, stats, reload).
    public var controlSocket: String

    public init(_ status: LabStatus) {
        name = status.name
        running = status.isRunning
        firewallPID = status.firewallPID
        kernel = status.isKernel
        hosts = status.hosts
        source = status.source
        namespaces = status.namespaces
        stateDirectory = status.hasStateDirectory ? status.paths.directory : nil
        controlSocket = Lab.controlSocketPath(status.name)
    }

    /// `tunwall lab list --json`: one line, keys sorted.
    public static func json(_ records: [LabRecord]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(records)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }
}

extension LabSession {
    /// The firewall's connections (conntrack -L), oldest first.
    public func connections() throws(LabError) -> [ConntrackRecord] {
        try ask("conntrack -L -o json")
    }

    /// The expectations helpers created (conntrack -L expect).
    public func expectations() throws(LabError) -> [ExpectationRecord] {
        try ask("conntrack -L expect -o json")
    }

    /// The firewall's counters (tunwall stats).
    public func statistics() throws(LabError) -> StatisticsRecord {
        try ask("stats --json")
    }

    /// Replaces the running ruleset with the nft text `ruleset`, atomically
    /// (`tunwall reload`): a ruleset with errors is refused with them, and
    /// the old one keeps running.
    public func setRuleset(_ ruleset: String) throws(LabError) {
        let file = "/tmp/tunwall-labsession-\(name)-\(UInt32.random(in: 0...UInt32.max)).nft"
        try writeFile(file, Data(ruleset.utf8))
        defer { unlink(file) }
        let answer = try send("reload \(file)")
        if answer.hasPrefix("error") { throw LabError("the firewall refused the ruleset: \(answer)") }
    }

    /// Changes one interface's impairments with `tunwall impair`'s words:
    /// a direction ("in" or "out", out when left out), then netem's words,
    /// or "clear", or "show": `try lab.impair("wan0", "out delay 50ms 10ms
    /// loss 2%")`. Words that do not parse are refused with the reason and
    /// what runs stays. Returns the firewall's answer (the settings in force).
    @discardableResult
    public func impair(_ interface: String, _ words: String) throws(LabError) -> String {
        let answer = try send("impair \(interface) \(words)")
        if answer.hasPrefix("error") { throw LabError(answer.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return answer
    }

    /// Follows the firewall's conntrack events (`conntrack -E` lines:
    /// "    [NEW] tcp …", " [UPDATE] …", "[DESTROY] …") on a thread of its own,
    /// handing each line to `receive` until `receive` returns false or the
    /// lab goes down (the thread itself ends with the lab).
    public func watchEvents(_ receive: @escaping @Sendable (String) -> Bool) {
        let path = Lab.controlSocketPath(name)
        Thread.detachNewThread {
            var pending = ""
            var done = false
            try? ControlClient.stream("conntrack -E", to: path) { text in
                guard !done else { return }
                pending += text
                while let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending = String(pending[pending.index(after: newline)...])
                    if !receive(line) { done = true; return }
                }
            }
        }
    }

    private func ask<T: Decodable>(_ line: String) throws(LabError) -> T {
        let answer = try send(line)
        do {
            return try JSONDecoder().decode(T.self, from: Data(answer.utf8))
        } catch {
            throw LabError("lab \(name): unexpected answer to '\(line)': \(answer.prefix(200))")
        }
    }

    private func send(_ line: String) throws(LabError) -> String {
        do {
            return try ControlClient.send(line, to: Lab.controlSocketPath(name))
        } catch {
            throw LabError("lab \(name): the firewall's control socket: \(error)")
        }
    }
}

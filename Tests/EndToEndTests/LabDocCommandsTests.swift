// The command examples of README.md and Topologies/README.md, run as
// written in labs of their own (issue 15: "check every command in README,
// Topologies/README and docs with a test that runs them"). Every fenced
// block that shows a `tunwall` command is in `plans`: run, or not run with
// the reason (DocCommandsTests.everyBlockWithCommandsIsPlanned holds the
// list to the docs, and parse-checks every command either way).
//
// Each line runs in bash, in a directory of its own that links Topologies/
// and docs/ (so relative paths work and `-o file.bin` lands there), with the
// built tunwall first on PATH, and must exit 0. What is changed, and why:
//   - the lab's name: `lab up` gets `--name NAME --daemon` (the README's
//     first `lab up` stays in the foreground until Ctrl-C, and names taken
//     from the file could meet another run's), `lab exec` and the commands
//     that ask a firewall get `--lab NAME` (other labs may be up, so "the
//     only lab up" is not ours to rely on; a shown `--lab X` names ours);
//   - `.build/release/tunwall` is the tunwall under test;
//   - absolute paths the docs leave to the reader are files made here:
//     /srv/ftp (with file.bin and pub/file.bin), /srv/tftp (file.bin),
//     /path/to/vsftpd.conf (anonymous, anon_root /srv/ftp, as the lab FTP
//     tests configure vsftpd), /tmp/file.bin (what tftp gets);
//   - a line ending in `&` runs in the background until the lab goes down
//     (a server is seen listening first); one that follows until Ctrl-C
//     (`conntrack -E`) gets SIGINT after 2 s and must exit 0 then too.
// Setup lines (not in the docs) make the connections a command works on;
// checks after a block compare files. Needs root.

import Foundation
import Testing
import TestSupport

/// How one doc block (found by its first command line) is run.
struct DocPlan: Sendable, CustomStringConvertible {
    var file: String
    /// A line of each block run (the whole block runs), in order, in one lab.
    var blocks: [String]
    /// Nil: run. Otherwise why not.
    var notRun: String? = nil
    /// A lab brought up first (for blocks that do not bring their own).
    var topology: String? = nil
    /// Lines run after the lab is up, before the blocks.
    var setup: [String] = []
    /// Background lines (by a piece of their text) to wait for: host, TCP/UDP port.
    var listens: [String: (host: String, port: Int, udp: Bool)] = [:]
    /// Lines run after the blocks; each must exit 0.
    var checks: [String] = []

    var description: String { "\(file): \(blocks[0])" }
}

extension DocPlan {
    static let all: [DocPlan] = [
        DocPlan(file: "README.md", blocks: ["swift build -c release && .build/release/tunwall demo"],
                notRun: "builds the release configuration (minutes); DemoTests runs `tunwall demo` itself"),
        DocPlan(file: "README.md", blocks: [".build/release/tunwall lab up Topologies/basic.json",
                                            ".build/release/tunwall lab exec client -- ping -c 2 203.0.113.10"]),
        DocPlan(file: "README.md", blocks: ["source <(tunwall completion bash)     # or: tunwall completion bash > /etc/bash_completion.d/tunwall"]),
        DocPlan(file: "README.md", blocks: ["tunwall conntrack -L -p tcp --state ESTABLISHED -s 10.0.1.0/24"],
                topology: "Topologies/ftp-masquerade.json",
                setup: [
                    // A TCP connection to port 21 (closed: it stays in TIME_WAIT for -D to delete)
                    // and a UDP one (for -U to mark).
                    "tunwall lab exec server -- tunwall ftp serve --listen 203.0.113.10 --root /srv/ftp &",
                    "tunwall lab exec client -- curl -s --max-time 5 ftp://203.0.113.10/",
                    "tunwall lab exec client -- python3 -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('203.0.113.10', 9))\"",
                ], listens: ["ftp serve": ("server", 21, false)]),
        DocPlan(file: "README.md", blocks: ["tunwall conntrack -L -o json | python3 -c 'import json,sys; print([e[\"reply\"][\"dst\"] for e in json.load(sys.stdin)])'"],
                topology: "Topologies/masquerade.json",
                setup: ["tunwall lab exec client -- ping -c 1 203.0.113.10"]),
        DocPlan(file: "README.md", blocks: ["tunwall impair wan0 out delay 50ms 10ms loss 2% rate 10mbit --lab mylab"],
                topology: "Topologies/basic.json"),
        DocPlan(file: "README.md", blocks: ["tunwall lab up Topologies/stateful.json --daemon"],
                checks: ["grep -q 'trace id .* rule icmp type echo-request meta nftrace set 1 (verdict continue)' background-1.txt",
                         "! grep -q 'echo reply' background-1.txt"]),
        DocPlan(file: "README.md", blocks: ["tunwall lab exec server -- tunwall ftp serve --listen 203.0.113.10 --root /srv/ftp --active-from-port-20"],
                topology: "Topologies/ftp-masquerade.json", listens: ["ftp serve": ("server", 21, false)]),
        DocPlan(file: "Topologies/README.md", blocks: ["tunwall lab up Topologies/ftp-masquerade.json --daemon"],
                listens: ["vsftpd": ("server", 21, false)], checks: ["cmp file.bin srv/ftp/pub/file.bin"]),
        DocPlan(file: "Topologies/README.md", blocks: ["tunwall lab up Topologies/ftp-dnat.json --daemon"],
                listens: ["pyftpdlib": ("server", 21, false)]),
        DocPlan(file: "Topologies/README.md", blocks: ["tunwall lab up Topologies/tftp-masquerade.json --daemon"],
                listens: ["in.tftpd": ("server", 69, true)], checks: ["cmp got.bin srv/tftp/file.bin"]),
        DocPlan(file: "Topologies/README.md", blocks: ["tunwall lab up Topologies/lan.json --daemon"],
                listens: ["exec server": ("server", 80, false)]),
        DocPlan(file: "Topologies/README.md", blocks: ["tunwall lab up Topologies/dmz.json --daemon"],
                listens: ["exec web1": ("web1", 80, false), "exec web2": ("web2", 80, false)]),
    ]
}

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabDocCommandsTests {
    static let runnable = DocPlan.all.filter { $0.notRun == nil }

    @Test(arguments: runnable)
    func blockRunsAsWritten(_ plan: DocPlan) throws {
        let index = DocPlan.all.firstIndex { $0.description == plan.description } ?? 0
        let name = "doc\(getpid() % 100_000)x\(index)"
        let directory = try Self.workspace(name)
        defer { try? FileManager.default.removeItem(at: directory) }
        var background: [Process] = []
        defer {
            _ = try? Tool.run(Tool.binary, ["lab", "down", name])
            for process in background where process.isRunning { process.terminate() }
        }
        var lines: [String] = []
        if let topology = plan.topology { lines.append("tunwall lab up \(topology)") }
        lines += plan.setup
        for first in plan.blocks {
            let block = try #require(DocBlock.all.first { $0.file == plan.file && $0.lines.contains(first) }, "no block has \(first)")
            lines += block.lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        }
        for line in lines {
            let command = Self.rewrite(line, lab: name, directory: directory)
            if command.hasSuffix("&") {
                let process = try Self.bash(String(command.dropLast()), in: directory,
                                            output: directory.appendingPathComponent("background-\(background.count + 1).txt"))
                background.append(process)
                if let wait = plan.listens.first(where: { line.contains($0.key) })?.value {
                    try LabChecks.waitUntilListening(lab: name, host: wait.host, port: wait.port, udp: wait.udp)
                } else {
                    Thread.sleep(forTimeInterval: 0.5)  // a stream client: let the firewall take it
                }
                continue
            }
            if plan.listens.keys.contains(where: { line.contains($0) }) {
                // A server the doc runs in the foreground (in its own terminal): here in the background.
                background.append(try Self.bash(command, in: directory,
                                                output: directory.appendingPathComponent("background-\(background.count + 1).txt")))
                let wait = plan.listens.first { line.contains($0.key) }!.value
                try LabChecks.waitUntilListening(lab: name, host: wait.host, port: wait.port, udp: wait.udp)
                continue
            }
            let streams = line.contains("conntrack -E")
            let run = try Self.run(streams ? "timeout --preserve-status -s INT 2 \(command)" : command, in: directory)
            #expect(run.status == 0, "\(plan.file): \(line)\nran: \(command)\n\(run.stdout)\(run.stderr)")
        }
        Thread.sleep(forTimeInterval: 0.3)  // background clients write what they saw
        for check in plan.checks {
            let run = try Self.run(check, in: directory)
            var shown = ""
            for file in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where file.hasPrefix("background-") {
                shown += "\(file):\n" + ((try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)) ?? "")
            }
            #expect(run.status == 0, "\(plan.file): check \(check) failed\n\(run.stdout)\(run.stderr)\n\(shown)")
        }
    }

    /// The line as it runs here (see the top of the file for what changes and why).
    static func rewrite(_ line: String, lab: String, directory: URL) -> String {
        var text = line.replacingOccurrences(of: ".build/release/tunwall", with: "tunwall")
        for (shown, made) in [("/srv/ftp", "srv/ftp"), ("/srv/tftp", "srv/tftp"), ("/path/to/vsftpd.conf", "vsftpd.conf"),
                              ("/tmp/file.bin", "got.bin")] {
            text = text.replacingOccurrences(of: shown, with: directory.appendingPathComponent(made).path)
        }
        if let named = text.range(of: #"--lab [^ ]+"#, options: .regularExpression) {
            text.replaceSubrange(named, with: "--lab \(lab)")
        }
        text = text.replacingOccurrences(of: " --daemon", with: "")
        if let up = text.range(of: #"tunwall lab up [^ ]+"#, options: .regularExpression) {
            text.replaceSubrange(up, with: text[up] + " --name \(lab) --daemon")
        }
        text = text.replacingOccurrences(of: "tunwall lab exec ", with: "tunwall lab exec --lab \(lab) ")
        text = text.replacingOccurrences(of: "tunwall nft ", with: "tunwall nft --lab \(lab) ")
        // The other commands that ask a firewall take --lab at the end of their piece of the line.
        var from = text.startIndex
        while let ask = text.range(of: #"tunwall (conntrack|stats|neigh|impair|monitor trace|list ruleset|reload)\b"#,
                                   options: .regularExpression, range: from..<text.endIndex) {
            let rest = text[ask.upperBound...]
            let end = [" | ", " && ", " #", " &"].compactMap { rest.range(of: $0)?.lowerBound }.min() ?? text.endIndex
            let after = text.distance(from: text.startIndex, to: ask.upperBound)  // (indices do not survive the insert)
            if !text[ask.upperBound..<end].contains("--lab") {
                text.insert(contentsOf: " --lab \(lab)", at: end)
            }
            from = text.index(text.startIndex, offsetBy: after)
        }
        return text
    }

    /// A directory for one plan: Topologies/ and docs/ linked, the files the docs name made.
    static func workspace(_ name: String) throws -> URL {
        let manager = FileManager.default
        let directory = manager.temporaryDirectory.appendingPathComponent("tunwall-doc-\(name)")
        try? manager.removeItem(at: directory)
        for folder in ["srv/ftp/pub", "srv/tftp", "empty"] {
            try manager.createDirectory(at: directory.appendingPathComponent(folder), withIntermediateDirectories: true,
                                        attributes: [.posixPermissions: 0o755])
        }
        try manager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        for link in ["Topologies", "docs"] {
            try manager.createSymbolicLink(at: directory.appendingPathComponent(link), withDestinationURL: repository.appendingPathComponent(link))
        }
        let content = Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        for file in ["srv/ftp/file.bin", "srv/ftp/pub/file.bin", "srv/tftp/file.bin"] {
            try content.write(to: directory.appendingPathComponent(file))
            try manager.setAttributes([.posixPermissions: 0o644], ofItemAtPath: directory.appendingPathComponent(file).path)
        }
        let config = FTPServer.vsftpdConfig(family: .ipv4, address: "203.0.113.10",
                                            root: directory.appendingPathComponent("srv/ftp"),
                                            empty: directory.appendingPathComponent("empty"),
                                            log: directory.appendingPathComponent("vsftpd.log"))
        try Data(config.utf8).write(to: directory.appendingPathComponent("vsftpd.conf"))
        return directory
    }

    static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = Tool.binary.deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")
        environment["MANWIDTH"] = "80"
        return environment
    }

    static func run(_ command: String, in directory: URL) throws -> Run {
        try Tool.run(URL(fileURLWithPath: "/bin/bash"), ["-c", "cd '\(directory.path)' && \(command)"], timeout: 120,
                     environment: environment)
    }

    static func bash(_ command: String, in directory: URL, output: URL) throws -> Process {
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "cd '\(directory.path)' && exec \(command)"]
        process.environment = environment
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try Tool.start(process)
        return process
    }
}

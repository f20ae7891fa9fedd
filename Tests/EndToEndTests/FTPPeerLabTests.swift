// The lab's own FTP peers (`tunwall ftp serve`, `tunwall ftp get|put|ls`)
// across real namespaces, through the firewall of Topologies/basic.json
// (plain forwarding): our client against our server in all four modes,
// IPv4 and IPv6; our server against curl (PASV, EPSV, PORT, EPRT); our
// client against Debian's pyftpdlib. Files are compared byte for byte; the
// server's log shows that each client used the mode under test, and active
// data connections come from port 20. Needs root; Support/FTPPrograms.swift
// has the lab, pyftpdlib and curl helpers these share with LabFTPTests. And
// first, without root, the command line itself over loopback.

import Foundation
import Testing
import TestSupport

/// `tunwall ftp serve` on the lab's server host, with its tree ROOT/pub/file.bin
/// and ROOT/upload/, its log in a file; active data from port 20.
final class TunwallFTPServer {
    let root: URL
    let log: URL
    let content: Data
    private let output: URL
    private let process: Process
    private let pid: pid_t

    init(lab: FTPLab, name: String, listen: String, content: Data, extra: [String] = []) throws {
        let directory = lab.directory.appendingPathComponent("ours-\(name)")
        root = directory.appendingPathComponent("root")
        log = directory.appendingPathComponent("server.log")
        output = directory.appendingPathComponent("server.out")
        self.content = content
        try makeDirectory(root.appendingPathComponent("pub"))
        try makeDirectory(root.appendingPathComponent("upload"))
        try writeShared(content, to: root.appendingPathComponent("pub/file.bin"))
        let pidFile = directory.appendingPathComponent("server.pid")
        // The shell writes its pid, then becomes the server: the pid to stop it by.
        process = try lab.background("server", ["sh", "-c", "echo $$ > \"$0\"; exec \"$@\"", pidFile.path, Tool.binary.path,
                                                "ftp", "serve", "--listen", listen, "--root", root.path, "--log", log.path,
                                                "--active-from-port-20", "--timeout", "10"] + extra, output: output)
        var started: pid_t = 0
        var listening = false
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, process.isRunning, started == 0 || !listening {
            // 0 until the file holds a positive pid; stop() signals only a positive one.
            if started == 0, let written = LabChecks.pid(inFile: pidFile.path) { started = written }
            listening = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").hasPrefix("listening on ")
            if !listening { Thread.sleep(forTimeInterval: 0.02) }
        }
        pid = started
        guard listening else {
            stop()
            throw FTPFailure("tunwall ftp serve --listen \(listen) did not listen within 10 s: "
                             + ((try? String(contentsOf: output, encoding: .utf8)) ?? ""))
        }
    }

    func logText(from offset: Int = 0) -> String {
        String(decoding: ((try? Data(contentsOf: log)) ?? Data()).dropFirst(offset), as: UTF8.self)
    }

    var logSize: Int { ((try? Data(contentsOf: log)) ?? Data()).count }

    /// SIGTERM by its pid; the lab's teardown ends whatever is left.
    func stop() {
        if pid > 0 { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    }
}

/// The modes our client has, and which of them work over each family.
enum PeerMode: String, CaseIterable {
    case passive, epsv, active, eprt

    var command: String {
        switch self {
        case .passive: "PASV"
        case .epsv: "EPSV"
        case .active: "PORT"
        case .eprt: "EPRT"
        }
    }

    var isActive: Bool { self == .active || self == .eprt }

    static func modes(_ family: FTPFamily) -> [PeerMode] {
        family == .ipv4 ? allCases : [.epsv, .eprt]
    }
}

/// The command line without root or namespaces: both ends on 127.0.0.1.
@Suite(labTimeLimit) struct FTPPeerCLITests {
    @Test func serveGetPutAndListOnLoopback() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-ftpcli-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        try makeDirectory(directory.appendingPathComponent("root/pub"))
        try makeDirectory(directory.appendingPathComponent("root/upload"))
        let content = try randomBytes(200_000)
        try content.write(to: directory.appendingPathComponent("root/pub/file.bin"))
        let log = directory.appendingPathComponent("server.log")

        // Port 0: the kernel picks one, and the first log line says which.
        let server = Process()
        server.executableURL = Tool.binary
        server.arguments = ["ftp", "serve", "--listen", "127.0.0.1:0", "--root", directory.appendingPathComponent("root").path,
                            "--log", log.path, "--once", "3", "--timeout", "5"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try Tool.start(server)
        defer { if server.isRunning { server.terminate() } }
        var port: String?
        let deadline = Date().addingTimeInterval(10)
        while port == nil, Date() < deadline, server.isRunning {
            port = captures(#"^listening on 127\.0\.0\.1:(\d+), "#, in: (try? String(contentsOf: log, encoding: .utf8)) ?? "")?.first
            if port == nil { Thread.sleep(forTimeInterval: 0.02) }
        }
        let host = "127.0.0.1:\(try #require(port, "the server did not say where it listens"))"

        let downloaded = directory.appendingPathComponent("downloaded.bin")
        let get = try Tool.tunwall("ftp", "get", "ftp://\(host)/pub/file.bin", "--mode", "active", "--out", downloaded.path,
                                   "--transcript")
        #expect(get.status == 0 && get.stderr.isEmpty, "\(get.stderr)")
        #expect(try Data(contentsOf: downloaded) == content)
        let transcript = get.stdout.split(separator: "\n").map(String.init)
        #expect(transcript.first == "<- 220 tunwall FTP server ready.")
        #expect(transcript.contains { $0.hasPrefix("-> PORT 127,0,0,1,") })
        #expect(transcript.contains("<- 200 PORT command successful. Consider using PASV."))
        #expect(transcript.last?.hasPrefix("== 200000 bytes received; data connection 127.0.0.1:") == true)

        let put = try Tool.tunwall("ftp", "put", host, "upload/", "--in", downloaded.path, "--mode", "passive")
        #expect(put.status == 0 && put.stdout.isEmpty && put.stderr.isEmpty, "\(put.stderr)")
        #expect(try Data(contentsOf: directory.appendingPathComponent("root/upload/downloaded.bin")) == content)

        let list = try Tool.tunwall("ftp", "ls", "ftp://\(host)/upload", "--names")
        #expect(list.status == 0 && list.stdout == "downloaded.bin\r\n", "\(list.stderr)")

        // --once 3: the server ends by itself, with status 0, after the third session.
        let end = Date().addingTimeInterval(5)
        while server.isRunning, Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        #expect(!server.isRunning && server.terminationStatus == 0)
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.last == "stopped after 3 sessions")
        #expect(lines.contains { $0.hasPrefix("[1] <- PORT 127,0,0,1,") })
        #expect(lines.contains("[2] <- STOR upload/downloaded.bin"))
        #expect(lines.contains("[3] -> 226 Directory send OK."))
    }

    @Test func usageErrorsAndFailures() throws {
        for arguments in [["ftp"], ["ftp", "fetch"], ["ftp", "get"], ["ftp", "get", "ftp://1.2.3.4/"],
                          ["ftp", "get", "ftp://1.2.3.4/x", "--mode", "sideways"], ["ftp", "put", "1.2.3.4", "x"],
                          ["ftp", "get", "files.example.org", "x"], ["ftp", "ls", "1.2.3.4", "--timeout", "0"],
                          ["ftp", "serve", "--root", "/tmp"], ["ftp", "serve", "--listen", "1.2.3.4:99999", "--root", "/tmp"],
                          ["ftp", "serve", "--listen", "1.2.3.4", "--root", "/tmp", "--once", "0"]] {
            let run = try Tool.run(Tool.binary, arguments)
            #expect(run.status == 2 && run.stderr.hasPrefix("tunwall: ftp") && run.stderr.contains("Run 'tunwall ftp")
                    && run.stderr.hasSuffix(" --help' for more.\n"),
                    "\(arguments): \(run.status) \(run.stderr)")
        }
        let help = try Tool.tunwall("ftp", "--help")
        #expect(help.status == 0 && help.stdout.contains("tunwall ftp serve --listen ADDR[:PORT] --root DIR"))
        #expect(try Tool.tunwall("--help").stdout.contains("ftp serve"), "in the main usage with every command")

        let missing = try Tool.tunwall("ftp", "serve", "--listen", "127.0.0.1:0", "--root", "/nonexistent/ftp")
        #expect(missing.status == 1 && missing.stderr == "tunwall ftp serve: /nonexistent/ftp: No such file or directory\n")
    }
}

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct FTPPeerLabTests {
    static let suffix = getpid() % 100_000

    /// "ftp://203.0.113.10/PATH", "ftp://[2001:db8:1::10]/PATH".
    func url(_ family: FTPFamily, _ path: String) -> String {
        "ftp://" + (family == .ipv4 ? FTPTopology.plain.serverAddress(family) : "[\(FTPTopology.plain.serverAddress(family))]") + "/" + path
    }

    /// `tunwall ftp ARGS...` on the client host.
    func ourClient(_ lab: FTPLab, _ arguments: [String]) throws -> Run {
        try lab.exec("client", ["timeout", "-k", "2", "30", Tool.binary.path, "ftp"] + arguments + ["--timeout", "5"])
    }

    /// The data connection line of --transcript: (from, to).
    func dataConnection(_ stdout: String) -> (from: String, to: String)? {
        captures(#"(?m)^== \d+ bytes \w+; data connection (\S+) → (\S+)$"#, in: stdout).map { ($0[0], $0[1]) }
    }

    // MARK: - Ours against ours

    @Test func ourClientAgainstOurServer() throws {
        let lab = try FTPLab(.plain, name: "fpo\(Self.suffix)")
        defer { lab.down() }
        let content = try randomBytes(1_000_000)
        let servers: [FTPFamily: TunwallFTPServer] = [
            .ipv4: try TunwallFTPServer(lab: lab, name: "v4", listen: "203.0.113.10", content: content),
            .ipv6: try TunwallFTPServer(lab: lab, name: "v6", listen: "[2001:db8:1::10]:21", content: content),
        ]
        defer { servers.values.forEach { $0.stop() } }
        let local = lab.directory.appendingPathComponent("client")
        try makeDirectory(local)

        for family in FTPFamily.allCases {
            let server = servers[family]!
            let serverAddress = FTPTopology.plain.serverAddress(family)
            let clientAddress = FTPTopology.plain.clientPublic(family)
            for mode in PeerMode.modes(family) {
                let label = "[ours \(family.rawValue) \(mode)]"
                let logStart = server.logSize
                let downloaded = local.appendingPathComponent("\(family)-\(mode).bin")
                let get = try ourClient(lab, ["get", url(family, "pub/file.bin"), "--mode", mode.rawValue,
                                              "--out", downloaded.path, "--transcript"])
                #expect(get.status == 0 && get.stderr.isEmpty, "\(label) get: \(get.stderr)\n\(tail(get.stdout))")
                #expect((try? Data(contentsOf: downloaded)) == content, "\(label) the download differs")
                #expect(get.stdout.contains("\n-> \(mode.command)"), "\(label) transcript:\n\(get.stdout)")
                #expect(get.stdout.contains("\n<- 226 Transfer complete.\n"))
                // Who connected to whom: the server from port 20 in active modes.
                if let (from, to) = dataConnection(get.stdout) {
                    let server20 = family == .ipv4 ? "\(serverAddress):20" : "[\(serverAddress)]:20"
                    if mode.isActive {
                        #expect(from == server20 && to.contains(clientAddress), "\(label) data \(from) → \(to)")
                    } else {
                        #expect(from.contains(clientAddress) && to.contains(serverAddress), "\(label) data \(from) → \(to)")
                    }
                } else {
                    Issue.record("\(label) no data connection line in:\n\(get.stdout)")
                }
                let seen = server.logText(from: logStart)
                #expect(captures(#"\] <- \#(mode.command)\b"#, in: seen) != nil, "\(label) server log:\n\(tail(seen))")
                switch mode {
                case .active:
                    #expect(captures(#"<- PORT (\d+,\d+,\d+,\d+),\d+,\d+"#, in: seen)?.first == clientAddress.replacingOccurrences(of: ".", with: ","))
                    #expect(seen.contains("] -> 200 PORT command successful."))
                case .eprt:
                    #expect(seen.contains("] <- EPRT |\(family == .ipv4 ? 1 : 2)|\(clientAddress)|"), "\(label):\n\(tail(seen))")
                case .passive:
                    #expect(seen.contains("] -> 227 Entering Passive Mode (\(serverAddress.replacingOccurrences(of: ".", with: ",")),"))
                case .epsv:
                    #expect(seen.contains("] -> 229 Entering Extended Passive Mode (|||"))
                }

                let put = try ourClient(lab, ["put", url(family, "upload/"), "--in", downloaded.path, "--mode", mode.rawValue])
                #expect(put.status == 0 && put.stdout.isEmpty, "\(label) put: \(put.stderr)")
                #expect((try? Data(contentsOf: server.root.appendingPathComponent("upload/\(family)-\(mode).bin"))) == content,
                        "\(label) the upload differs")

                let list = try ourClient(lab, ["ls", url(family, "pub"), "--mode", mode.rawValue])
                #expect(list.status == 0 && list.stdout.hasPrefix("-rw-r--r--") && list.stdout.hasSuffix(" file.bin\r\n"),
                        "\(label) ls: \(list.stderr)\(list.stdout.debugDescription)")
                let names = try ourClient(lab, ["ls", url(family, "upload"), "--names", "--mode", mode.rawValue])
                #expect(names.status == 0 && names.stdout.contains("\(family)-\(mode).bin\r\n"), "\(label) ls --names: \(names.stderr)")
            }
        }

        // Failures: one line on stderr, exit 1.
        let missing = try ourClient(lab, ["get", url(.ipv4, "pub/missing"), "--out", "/dev/null"])
        #expect(missing.status == 1 && missing.stderr == "tunwall ftp: RETR pub/missing: 550 Failed to open file.\n", "\(missing.stderr)")
        let pasv6 = try ourClient(lab, ["get", url(.ipv6, "pub/file.bin"), "--mode", "passive", "--out", "/dev/null"])
        #expect(pasv6.status == 1 && pasv6.stderr == "tunwall ftp: PASV cannot work over IPv6 (it names an IPv4 address); use epsv\n")
        let usage = try ourClient(lab, ["get", url(.ipv4, "pub/file.bin"), "--mode", "sideways"])
        #expect(usage.status == 2 && usage.stderr.hasPrefix("tunwall: ftp get: --mode: \"sideways\" is not passive, epsv, active or eprt"))
    }

    // MARK: - Our server against curl

    /// curl in each mode it can be made to use against `tunwall ftp serve` on
    /// [::]:21 (one server for both families): download, upload, listing.
    @Test func ourServerAgainstCurl() throws {
        try FTPPrograms.require()
        let lab = try FTPLab(.plain, name: "fpc\(Self.suffix)")
        defer { lab.down() }
        let server = try TunwallFTPServer(lab: lab, name: "dual", listen: "[::]", content: try randomBytes(1_000_000))
        defer { server.stop() }
        let local = lab.directory.appendingPathComponent("curl")
        try makeDirectory(local)
        let upload = local.appendingPathComponent("upload-source.bin")
        try writeShared(try randomBytes(700_000), to: upload)

        for family in FTPFamily.allCases {
            for mode in FTPClientKind.curl.modes(family) {
                for operation in [FTPOperation.retr, .stor, .list, .nlst] {
                    let label = "[curl \(family.rawValue) \(mode.rawValue) \(operation.rawValue)]"
                    let name = "\(family)-\(mode.rawValue)-\(operation.rawValue)".lowercased()
                    let remote = switch operation {
                    case .retr: "pub/file.bin"
                    case .stor: "upload/\(name).bin"
                    case .list, .nlst: "pub"
                    }
                    let target = operation == .stor ? upload : local.appendingPathComponent(name)
                    let command = FTPClientCommand(client: .curl, mode: mode, operation: operation,
                                                   host: FTPTopology.plain.serverAddress(family), family: family,
                                                   local: target, remote: remote)
                    let logStart = server.logSize
                    let run = try lab.exec("client", command.argv(script: lab.clientScript))
                    let seen = server.logText(from: logStart)
                    #expect(run.status == 0, "\(label) curl exited \(run.status):\n\(tail(run.stderr))\n--- server:\n\(tail(seen))")
                    switch operation {
                    case .retr: #expect((try? Data(contentsOf: target)) == server.content, "\(label) the download differs")
                    case .stor:
                        #expect((try? Data(contentsOf: server.root.appendingPathComponent(remote))) == (try? Data(contentsOf: upload)),
                                "\(label) the upload differs")
                    case .list, .nlst:
                        // (curl turns a listing's CRLF into LF, as it does for any TYPE A download.)
                        let text = (try? String(contentsOf: target, encoding: .utf8)) ?? ""
                        let expected = operation == .list ? text.hasPrefix("-rw-r--r--") && text.hasSuffix(" file.bin\n") : text == "file.bin\n"
                        #expect(expected, "\(label) \(text.debugDescription)")
                    }
                    // curl used the mode under test (it falls back by itself otherwise), and nothing else.
                    #expect(seen.contains("] <- \(mode.rawValue)"), "\(label) server log:\n\(tail(seen))")
                    for other in FTPMode.allCases where other != mode {
                        #expect(!seen.contains("] <- \(other.rawValue)"), "\(label) curl sent \(other.rawValue) too")
                    }
                    if mode.isActive {
                        let server20 = family == .ipv4 ? "203.0.113.10:20" : "[2001:db8:1::10]:20"
                        #expect(seen.contains("data connection from \(server20) to "), "\(label) server log:\n\(tail(seen))")
                    }
                }
            }
        }
    }

    // MARK: - Our client against pyftpdlib

    @Test func ourClientAgainstPyftpdlib() throws {
        try FTPPrograms.require()
        let lab = try FTPLab(.plain, name: "fpy\(Self.suffix)")
        defer { lab.down() }
        let local = lab.directory.appendingPathComponent("client")
        try makeDirectory(local)
        for family in FTPFamily.allCases {
            let server = try FTPServer(.pyftpdlib, family: family, lab: lab, address: FTPTopology.plain.serverAddress(family),
                                       content: try randomBytes(1_000_000))
            defer { server.stop() }
            for mode in PeerMode.modes(family) {
                let label = "[pyftpdlib \(family.rawValue) \(mode)]"
                let logStart = server.logSize
                let downloaded = local.appendingPathComponent("\(family)-\(mode).bin")
                let get = try ourClient(lab, ["get", url(family, "pub/file.bin"), "--mode", mode.rawValue,
                                              "--out", downloaded.path, "--transcript"])
                #expect(get.status == 0, "\(label) get: \(get.stderr)\n\(tail(get.stdout))\n--- pyftpdlib:\n\(tail(server.logText(from: logStart)))")
                #expect((try? Data(contentsOf: downloaded)) == server.content, "\(label) the download differs")
                #expect(get.stdout.contains("\n-> \(mode.command)"), "\(label) transcript:\n\(get.stdout)")
                #expect(captures(#"<- \#(mode.command)\b"#, in: server.logText(from: logStart)) != nil,
                        "\(label) pyftpdlib's log lacks \(mode.command)")

                let put = try ourClient(lab, ["put", url(family, "upload/"), "--in", downloaded.path, "--mode", mode.rawValue])
                #expect(put.status == 0, "\(label) put: \(put.stderr)")
                #expect((try? Data(contentsOf: server.upload.appendingPathComponent("\(family)-\(mode).bin"))) == server.content,
                        "\(label) the upload differs")

                let list = try ourClient(lab, ["ls", url(family, "pub"), "--mode", mode.rawValue])
                #expect(list.status == 0 && list.stdout.contains(" file.bin\r\n"), "\(label) ls: \(list.stderr)\(list.stdout.debugDescription)")
                let names = try ourClient(lab, ["ls", url(family, "pub"), "--names", "--mode", mode.rawValue])
                #expect(names.status == 0 && names.stdout.contains("file.bin"), "\(label) ls --names: \(names.stderr)\(names.stdout.debugDescription)")
            }
        }
    }
}

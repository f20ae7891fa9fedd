// `tunwall demo`: the default topology (a client behind masquerade, an FTP
// server outside, the FTP helper attached by rule), the built-in FTP server
// and client (so nothing but Swift and iproute2 is needed), one passive and
// one active download, and everything the firewall saw written into one
// folder: the topology and ruleset, the trace (JSON lines), a pcap per
// interface and direction, the conntrack table, the firewall's log, the
// control-channel transcripts. The lab is always torn down.
//
// Each step runs the tunwall binary itself (`lab up`, `lab exec … ftp serve`,
// `lab exec … ftp get`, `conntrack -L`, `lab down`), so the demo exercises
// exactly the commands a user types.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SystemIO

public struct DemoResult: Sendable {
    public var passive: Bool
    public var active: Bool
    /// Problems met on the way (empty when both transfers worked).
    public var problems: [String]
}

public enum Demo {
    /// The lab's topology: client 10.0.1.2 / fd00:1::2 behind masquerade, server 203.0.113.10 / 2001:db8:1::10.
    public static let topology = """
        {
          "description": "tunwall demo: an FTP client behind masquerade, an FTP server outside; the FTP helper follows port 21",
          "firewall": {
            "interfaces": [
              {"name": "lan0", "host": "client", "addresses": ["10.0.1.1/24", "fd00:1::1/64"]},
              {"name": "wan0", "host": "server", "addresses": ["203.0.113.1/24", "2001:db8:1::1/64"]}
            ],
            "ruleset": "demo.nft"
          },
          "hosts": [
            {"name": "client",
             "interfaces": [{"device": "lan0", "addresses": ["10.0.1.2/24", "fd00:1::2/64"]}],
             "routes": [{"to": "default", "via": "10.0.1.1"}, {"to": "default", "via": "fd00:1::1"}]},
            {"name": "server",
             "interfaces": [{"device": "wan0", "addresses": ["203.0.113.10/24", "2001:db8:1::10/64"]}],
             "routes": [{"to": "default", "via": "203.0.113.1"}, {"to": "default", "via": "2001:db8:1::1"}]}
          ]
        }

        """

    public static let ruleset = """
        #!/usr/sbin/nft -f
        # tunwall demo: stateful forwarding, masquerade, and the FTP helper on port 21.
        flush ruleset

        table inet filter {
        \tct helper ftp-standard {
        \t\ttype "ftp" protocol tcp;
        \t}
        \tchain prerouting {
        \t\ttype filter hook prerouting priority filter;
        \t\ttcp dport 21 ct helper set "ftp-standard"
        \t}
        \tchain forward {
        \t\ttype filter hook forward priority filter; policy drop;
        \t\tct state established,related accept
        \t\tiifname "lan0" ct state new accept
        \t}
        }

        table inet nat {
        \tchain postrouting {
        \t\ttype nat hook postrouting priority srcnat;
        \t\toifname "wan0" masquerade
        \t}
        }

        """

    /// Runs the demo with `binary` (this tunwall) into `directory` (made if
    /// missing) as lab `name`. `say` gets progress lines.
    public static func run(binary: String, directory: String, name: String, say: (String) -> Void) throws(LabError) -> DemoResult {
        try makeDirectories(directory)
        try makeDirectories(directory + "/served")
        try makeDirectories(directory + "/downloads")
        try writeFile(directory + "/topology.json", Data(topology.utf8))
        try writeFile(directory + "/demo.nft", Data(ruleset.utf8))
        // The file served: 1 MB of a pattern anyone can check.
        var content = [UInt8](repeating: 0, count: 1 << 20)
        var state: UInt32 = 0x7457_616c
        for index in content.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            content[index] = UInt8(truncatingIfNeeded: state >> 24)
        }
        try writeFile(directory + "/served/file.bin", Data(content))

        var problems: [String] = []
        func tunwall(_ arguments: [String], output: String) -> ExitStatus {
            do {
                return try ChildProcess.spawn(binary, arguments, output: .appendingTo(output), placement: .sameGroup)
                    .waitForExit()
            } catch {
                problems.append("\(arguments.prefix(3).joined(separator: " ")): \(error)")
                return .unknown
            }
        }

        say("bringing up the lab (client behind masquerade, FTP server outside) as \(name)")
        // A pcap file per interface and direction: lan0-in.pcap beside
        // wan0-out.pcap is the demo's "before and after" of the rewrite.
        let up = tunwall(["lab", "up", directory + "/topology.json", "--name", name, "--daemon",
                          "--trace-json", directory + "/trace.jsonl", "--pcap", directory + "/pcap", "--pcap-format", "pcap"],
                         output: directory + "/lab-up.txt")
        guard up == .exited(0) else {
            problems.append("lab up failed (\(up)); see \(directory)/lab-up.txt")
            _ = tunwall(["lab", "down", name], output: directory + "/lab-down.txt")
            return DemoResult(passive: false, active: false, problems: problems)
        }
        var server: ChildProcess? = nil
        defer {
            if let server { kill(server.pid, SIGTERM); _ = server.waitForExit() }
            say("taking the lab down")
            // The firewall's log goes away with the lab: keep a copy.
            if let log = try? readFile(Lab.stateDirectory(name) + "/log") { try? writeFile(directory + "/firewall.log", log) }
            _ = tunwall(["lab", "down", name], output: directory + "/lab-down.txt")
        }

        say("starting the built-in FTP server on 203.0.113.10:21 (active mode from port 20)")
        do {
            server = try ChildProcess.spawn(binary, ["lab", "exec", "--lab", name, "server", "--", binary, "ftp", "serve",
                                                     "--listen", "203.0.113.10:21", "--root", directory + "/served",
                                                     "--active-from-port-20"],
                                            output: .appendingTo(directory + "/ftp-server.log"), placement: .newGroup)
        } catch {
            problems.append("the FTP server did not start: \(error)")
            return DemoResult(passive: false, active: false, problems: problems)
        }
        // Wait until it listens (a client retry would only add noise to the trace).
        for _ in 0..<100 where !listening(name: name, binary: binary, directory: directory) {
            usleep(50_000)
        }

        var results: [Bool] = []
        for mode in ["passive", "active"] {
            say("downloading file.bin in \(mode) mode")
            let out = directory + "/downloads/\(mode).bin"
            let status = tunwall(["lab", "exec", "--lab", name, "client", "--", binary, "ftp", "get",
                                  "ftp://203.0.113.10/file.bin", "--mode", mode, "--out", out, "--transcript",
                                  "--timeout", "20"],
                                 output: directory + "/transcript-\(mode).txt")
            let same = (try? readFile(out)).map { [UInt8]($0) == content } ?? false
            if status != .exited(0) { problems.append("the \(mode) download failed (\(status)); see transcript-\(mode).txt") }
            else if !same { problems.append("the \(mode) download arrived changed") }
            results.append(status == .exited(0) && same)
        }
        _ = tunwall(["conntrack", "-L", "--lab", name], output: directory + "/conntrack.txt")
        _ = tunwall(["stats", "--lab", name], output: directory + "/stats.txt")
        return DemoResult(passive: results[0], active: results[1], problems: problems)
    }

    /// True once something listens on the server's port 21.
    private static func listening(name: String, binary: String, directory: String) -> Bool {
        let file = directory + "/.listen-check"
        defer { unlink(file) }
        guard let status = try? ChildProcess.spawn(binary, ["lab", "exec", "--lab", name, "server", "--", "cat", "/proc/net/tcp"],
                                                   output: .appendingTo(file), placement: .sameGroup).waitForExit(),
              status == .exited(0), let text = try? readFile(file) else { return false }
        // 203.0.113.10:21 in /proc/net/tcp's little-endian hex, state 0A (LISTEN).
        return String(decoding: text, as: UTF8.self).contains("0A7100CB:0015 00000000:0000 0A")
    }
}

// The `tunwall` command as a user runs it (Support/Tool.swift runs it): its
// output and exit status, without root.

import Foundation
import Testing
import TestSupport
import Wire

let fixture = repository.appendingPathComponent("Tests/WireTests/Fixtures/captured.pcap")

@Suite(labTimeLimit) struct CLITests {
    @Test func helpAndVersion() throws {
        let help = try Tool.tunwall("--help")
        #expect(help.status == 0)
        #expect(help.stdout.contains("pcap summary FILE"))
        let version = try Tool.tunwall("version")
        #expect(version.status == 0 && version.stdout == "tunwall 0.1.0\n")
        let bare = try Tool.tunwall()
        #expect(bare.status == 2 && bare.stderr.contains("Usage: tunwall"))
    }

    @Test func usageErrors() throws {
        let unknown = try Tool.tunwall("frobnicate")
        #expect(unknown.status == 2 && unknown.stderr.hasPrefix("tunwall: unknown command 'frobnicate'"))
        #expect(try Tool.tunwall("pcap").status == 2)
        #expect(try Tool.tunwall("pcap", "summary").status == 2)
        #expect(try Tool.tunwall("version", "extra").status == 2)
        // Bad netem words are refused before anything is sent to a firewall.
        let impair = try Tool.tunwall("impair", "wan0", "out", "delay", "50ms", "lose", "2%", "--socket", "/nonexistent/tunwall.sock")
        #expect(impair.status == 2 && impair.stderr.hasPrefix("tunwall: impair: unknown word \"lose\" (did you mean \"loss\"?)"),
                "\(impair.stderr)")
        #expect(try Tool.tunwall("impair").status == 2)
        // Good words, no firewall: the control socket's error, exit 1.
        #expect(try Tool.tunwall("impair", "wan0", "delay", "5ms", "--socket", "/nonexistent/tunwall.sock").status == 1)
    }

    @Test func summarizesTheCapture() throws {
        let run = try Tool.tunwall("pcap", "summary", fixture.path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        let lines = run.stdout.split(separator: "\n")
        let records = try PcapReader(bytes: [UInt8](Data(contentsOf: fixture))).records()
        #expect(lines.count == records.count)
        #expect(lines.allSatisfy { $0.range(of: #"^\d\d:\d\d:\d\d\.\d{6} IP6? "#, options: .regularExpression) != nil })
        #expect(!run.stdout.contains("invalid"))
    }

    @Test func refusesWhatIsNotPcap() throws {
        let text = try Tool.temporaryFile(Array("hello, this is not a capture\n".utf8), name: "text")
        defer { try? FileManager.default.removeItem(at: text) }
        let run = try Tool.tunwall("pcap", "summary", text.path)
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr == "tunwall: \(text.path): not a pcap file (magic 0x6c6c6568)\n")

        let missing = try Tool.tunwall("pcap", "summary", "/nonexistent/tunwall.pcap")
        #expect(missing.status == 1)
        #expect(missing.stderr == "tunwall: /nonexistent/tunwall.pcap: No such file or directory\n")
    }

    @Test func truncatedFilePrintsWholePacketsThenOneError() throws {
        var writer = PcapWriter()
        let syn = Packet.tcp(IPv4Address(10, 0, 1, 2), 40000, IPv4Address(203, 0, 113, 10), 21, flags: .syn)
        writer.append(syn.encoded(), seconds: 3600, nanoseconds: 5000)
        writer.append(syn.encoded(), seconds: 3601, nanoseconds: 0)
        let cut = try Tool.temporaryFile(Array(writer.bytes.dropLast(5)), name: "cut")
        defer { try? FileManager.default.removeItem(at: cut) }
        let run = try Tool.tunwall("pcap", "summary", cut.path)
        #expect(run.status == 1)
        #expect(run.stdout == "01:00:00.000005 IP 10.0.1.2.40000 > 203.0.113.10.21: Flags [S], seq 0, win 64240, length 0\n")
        #expect(run.stderr.split(separator: "\n").count == 1)
        #expect(run.stderr.contains("truncated packet 2"))

        let headerOnly = try Tool.temporaryFile(Array(writer.bytes.prefix(12)), name: "header")
        defer { try? FileManager.default.removeItem(at: headerOnly) }
        let short = try Tool.tunwall("pcap", "summary", headerOnly.path)
        #expect(short.status == 1 && short.stderr.contains("truncated pcap file header"))
    }

    /// What the writer produces is a file tcpdump reads, packet for packet.
    @Test(.enabled(if: Tool.which("tcpdump") != nil, "tcpdump is not installed"))
    func tcpdumpReadsOurPcap() throws {
        let records = try PcapReader(bytes: [UInt8](Data(contentsOf: fixture))).records()
        for precision in [PcapTimestampPrecision.microseconds, .nanoseconds] {
            var writer = PcapWriter(precision: precision)
            for record in records { writer.append(record) }
            let file = try Tool.temporaryFile(writer.bytes, name: "rewritten")
            defer { try? FileManager.default.removeItem(at: file) }
            let run = try Tool.run(Tool.which("tcpdump")!, ["-nn", "-r", file.path])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.split(separator: "\n").count == records.count)
            #expect(run.stderr.contains("link-type RAW"))
        }
    }

    /// Differential check: our summary of every captured packet is tcpdump's
    /// line (`tcpdump -nn -S -t`), except that tcpdump adds an application-layer
    /// note (": HTTP: GET ...") and we add the fragment note "(frag id:len@off)".
    @Test(.enabled(if: Tool.which("tcpdump") != nil, "tcpdump is not installed"))
    func summariesMatchTcpdump() throws {
        let theirs = try Tool.run(Tool.which("tcpdump")!, ["-nn", "-S", "-t", "-r", fixture.path])
        #expect(theirs.status == 0)
        let ours = try Tool.tunwall("pcap", "summary", fixture.path)
        let tcpdumpLines = theirs.stdout.split(separator: "\n").map { line -> String in
            guard let range = line.range(of: #", length \d+: [A-Z]+.*$"#, options: .regularExpression) else { return String(line) }
            let kept = line[range].prefix { $0 != ":" }
            return String(line[..<range.lowerBound]) + kept
        }
        let ourLines = ours.stdout.split(separator: "\n").map { line -> String in
            let text = line.dropFirst(16)  // "HH:MM:SS.uuuuuu "
            guard let range = text.range(of: #" \(frag \d+:\d+@\d+\+?\)$"#, options: .regularExpression) else { return String(text) }
            return String(text[..<range.lowerBound])
        }
        #expect(ourLines.count == tcpdumpLines.count)
        for (index, (mine, reference)) in zip(ourLines, tcpdumpLines).enumerated() {
            #expect(mine == reference, "packet \(index)")
        }
    }

    /// A SYN in on lan0 at 01:00:00.000005, out on wan0 4 µs later, as pcapng.
    static func forwardedSYN() -> PcapngWriter {
        var writer = PcapngWriter(interfaceNames: ["lan0", "wan0"])
        let syn = Packet.tcp(IPv4Address(10, 0, 1, 2), 40000, IPv4Address(203, 0, 113, 10), 21, flags: .syn)
        writer.append(syn.encoded(), interface: 0, direction: .inbound, seconds: 3600, nanoseconds: 5000)
        writer.append(syn.encoded(), interface: 1, direction: .outbound, seconds: 3600, nanoseconds: 9000)
        return writer
    }

    /// A pcapng capture: each line names the packet's interface and direction.
    @Test func summarizesPcapng() throws {
        let writer = Self.forwardedSYN()
        let file = try Tool.temporaryFile(writer.bytes, name: "summary.pcapng")
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try Tool.tunwall("pcap", "summary", file.path)
        #expect(run.status == 0 && run.stderr.isEmpty, "\(run.stderr)")
        #expect(run.stdout == """
            01:00:00.000005 lan0 In IP 10.0.1.2.40000 > 203.0.113.10.21: Flags [S], seq 0, win 64240, length 0
            01:00:00.000009 wan0 Out IP 10.0.1.2.40000 > 203.0.113.10.21: Flags [S], seq 0, win 64240, length 0

            """)
        let cut = try Tool.temporaryFile(Array(writer.bytes.dropLast(3)), name: "cut.pcapng")
        defer { try? FileManager.default.removeItem(at: cut) }
        let damaged = try Tool.tunwall("pcap", "summary", cut.path)
        #expect(damaged.status == 1 && damaged.stdout.split(separator: "\n").count == 1 && damaged.stderr.contains(cut.path))
    }

    /// Wireshark's reading of what PcapngWriter writes: every packet's
    /// interface name and direction (issue 15's check).
    @Test(.enabled(if: Tool.which("tshark") != nil, "tshark is not installed"))
    func tsharkReadsInterfaceNamesAndDirections() throws {
        let file = try Tool.temporaryFile(Self.forwardedSYN().bytes, name: "tshark.pcapng")
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try Tool.run(Tool.which("tshark")!, ["-T", "fields", "-e", "frame.interface_name",
                                                       "-e", "frame.packet_flags_direction", "-r", file.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "lan0\t0x00000001\nwan0\t0x00000002\n", "\(run.stdout)")
    }

    /// `tunwall check` is `nft -c -f`: silent on a good file, nft-style
    /// errors with file:line:col and exit 1 on a bad one.
    @Test func checkRulesets() throws {
        let good = repository.appendingPathComponent("Topologies/basic-stateful.nft").path
        let ok = try Tool.tunwall("check", good)
        #expect(ok.status == 0 && ok.stdout.isEmpty && ok.stderr.isEmpty, "\(ok.stderr)")
        let bad = try Tool.temporaryFile(Array("table inet t {\n\tchain c {\n\t\ttcp dport 99999 accept\n\t}\n}\n".utf8), name: "bad.nft")
        defer { try? FileManager.default.removeItem(at: bad) }
        let refused = try Tool.tunwall("check", bad.path)
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("\(bad.path):3:"), "\(refused.stderr)")
        #expect(refused.stderr.contains("Error: "))
        #expect(try Tool.tunwall("check").status == 2)
        let missing = try Tool.tunwall("check", "/nonexistent.nft")
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent.nft"))
    }
}

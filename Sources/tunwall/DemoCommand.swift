// `tunwall demo [--out DIR]`: the README's main command. Runs Lab's Demo (a
// client behind masquerade downloads a file from an FTP server outside, in
// passive then active mode, with the built-in FTP peers), then tells what
// happened: the control channel as it crossed the firewall, with every helper
// decision; the expectations; the conntrack table; and where the trace, the
// pcaps and the ladder diagram are. Exit status 0 only if both downloads
// arrived intact; the lab is torn down either way.

#if canImport(Glibc)
import Glibc
#endif
import Diagram
import Foundation
import Lab
import TunIO

enum DemoCommand {
    static func run(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.isEmpty else { return Commands.usageError(arguments, "unexpected argument '\(arguments.words[0])'") }
        let directory = arguments.value("--out")
        guard geteuid() == 0 else {
            Output.error("tunwall: demo needs root (it creates network namespaces and TUN devices)")
            return 1
        }
        let folder = absolutePath(directory ?? "tunwall-demo-" + timestamp())
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let name = "demo\(getpid() % 100_000)"
        let result: DemoResult
        do {
            result = try Demo.run(binary: binary, directory: folder, name: name) { Output.line("demo: " + $0) }
        } catch {
            Output.error("tunwall: demo: \(error)")
            return 1
        }
        Output.line("")
        report(folder)
        for problem in result.problems { Output.error("demo: \(problem)") }
        let verdict = { (ok: Bool) in ok ? "ok" : "FAILED" }
        Output.line("passive download: \(verdict(result.passive)); active download: \(verdict(result.active))")
        Output.line("everything is in \(folder)")
        return result.passive && result.active ? 0 : 1
    }

    /// The control channel, the expectations and the conntrack table; the diagram files.
    static func report(_ folder: String) {
        guard let data = FileManager.default.contents(atPath: folder + "/trace.jsonl"),
              let trace = try? TraceDiagram.read(data, file: "trace.jsonl") else {
            Output.error("demo: no readable trace in \(folder)/trace.jsonl")
            return
        }
        let hostOf = Dictionary(trace.header.interfaces.map { ($0.name, $0.laneName) }, uniquingKeysWith: { a, _ in a })
        Output.line("== The control channel as it crossed the firewall (\(trace.packets.count) packets in the trace)")
        var expectations: [String] = []
        for record in trace.packets {
            // Helper decisions, and the first packet of each data connection (the one the expectation let in).
            let ftpSteps = record.steps.filter { $0.kind == "ftp" || ($0.kind == "conntrack" && $0.state == "related") }
            guard record.packet.text != nil || !ftpSteps.isEmpty else { continue }
            let from = record.inInterface.flatMap { hostOf[$0] } ?? "firewall"
            let to = record.outInterface.flatMap { hostOf[$0] } ?? "firewall"
            var line = "#\(record.n) \(from) -> \(to)"
            if let text = record.packet.text {
                line += "  " + text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\r\n", with: " | ")
            } else {
                line += "  " + record.packet.summary
            }
            Output.line(line)
            for step in ftpSteps { Output.line("      \(step.kind): \(step.text)") }
            if let sent = record.sent?.text, sent != record.packet.text {
                Output.line("      left as: " + sent.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            for step in record.steps where step.event == "expect" { expectations.append("#\(record.n) " + step.text) }
        }
        Output.line("")
        Output.line("== Expectations the FTP helper made (each used once by its data connection)")
        for expectation in expectations { Output.line(expectation) }
        Output.line("")
        Output.line("== conntrack -L at the end")
        if let table = FileManager.default.contents(atPath: folder + "/conntrack.txt") {
            let lines = String(decoding: table, as: UTF8.self).split(separator: "\n").filter { !$0.hasPrefix("conntrack v") }
            Output.line(lines.joined(separator: "\n"))
        }
        Output.line("")
        for (name, text) in [("diagram.svg", TraceDiagram.svg(trace)), ("diagram.html", TraceDiagram.html(trace))] {
            FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(text.utf8))
        }
        Output.line("== Files")
        Output.line("  \(folder)/diagram.html    the ladder diagram (open it in a browser); diagram.svg alone")
        Output.line("  \(folder)/trace.jsonl     every decision, as JSON lines (docs/trace-schema.md)")
        Output.line("  \(folder)/pcap/           lan0-in.pcap, lan0-out.pcap, wan0-in.pcap, wan0-out.pcap (Wireshark, tshark)")
        Output.line("  \(folder)/firewall.log    the firewall's log; transcript-*.txt the client's view")
    }

    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))-\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))"
    }
}

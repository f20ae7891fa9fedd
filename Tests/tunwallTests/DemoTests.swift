// `tunwall demo`, as the README tells a user to run it: exits 0 after a
// passive and an active download, leaves no namespace, TUN device or process
// behind, and leaves a folder with a trace every line of which the diagram
// reader accepts (the schema), pcaps tcpdump reads, and a well-formed SVG
// diagram that contains every packet of the trace. Needs root.

import Diagram
import Foundation
import FoundationXML
import Testing

@Suite(.enabled(if: isRoot, "the demo needs root (namespaces, TUN devices)"), .serialized)
struct DemoTests {
    @Test func demoRunsAndCleansUp() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-demo-test-\(getpid())")
        defer { try? FileManager.default.removeItem(at: folder) }
        // The demo's namespaces are tw-demoNNNNN-*; other suites' labs come and go meanwhile.
        func demoNamespaces() throws -> [Substring] {
            try Tool.run(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "list"]).stdout.split(separator: "\n")
                .filter { $0.hasPrefix("tw-demo") }
        }
        let namespacesBefore = try demoNamespaces()
        let run = try Tool.run(Tool.binary, ["demo", "--out", folder.path])
        #expect(run.status == 0, "tunwall demo failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("passive download: ok; active download: ok"))
        #expect(run.stdout.contains("ftp: rewrote \"PORT 10,0,1,2,"), "the narrated control channel shows the rewrite")
        #expect(run.stdout.contains("== Expectations the FTP helper made"))
        #expect(run.stdout.contains("helper=ftp"), "the conntrack table is printed")

        // Nothing left behind: namespaces, labs, processes.
        #expect(try demoNamespaces() == namespacesBefore)
        let labs = try Tool.run(Tool.binary, ["lab", "list"])
        #expect(!labs.stdout.contains("demo\(getpid() % 100_000)"))
        let processes = try Tool.run(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-f", "ftp serve .*\(folder.path)/served"])
        #expect(processes.stdout.isEmpty, "an FTP server outlived the demo: \(processes.stdout)")

        // The trace: every line read by the diagram's strict reader.
        let trace = try TraceDiagram.read(try Data(contentsOf: folder.appendingPathComponent("trace.jsonl")), file: "trace.jsonl")
        #expect(trace.packets.count > 20)
        #expect(trace.header.interfaces.map(\.laneName) == ["client", "server"])
        // The diagram: well-formed XML with every packet of the trace in it.
        let svg = try Data(contentsOf: folder.appendingPathComponent("diagram.svg"))
        let parser = XMLParser(data: svg)
        #expect(parser.parse(), "diagram.svg is not well-formed: \(String(describing: parser.parserError))")
        let text = String(decoding: svg, as: UTF8.self)
        let missing = trace.packets.map(\.n).filter { !text.contains("data-n=\"\($0)\"") }
        #expect(missing.isEmpty, "packets missing from the diagram: \(missing.prefix(10))")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("diagram.html").path))
        // The pcaps: tcpdump reads them and sees the rewritten PORT leave on wan0.
        if let tcpdump = Tool.which("tcpdump") {
            let out = try Tool.run(tcpdump, ["-nn", "-A", "-r", folder.appendingPathComponent("pcap/wan0-out.pcap").path])
            #expect(out.status == 0 && out.stdout.contains("PORT 203,0,113,1,"), "wan0-out.pcap shows the rewritten PORT")
            let inside = try Tool.run(tcpdump, ["-nn", "-A", "-r", folder.appendingPathComponent("pcap/lan0-in.pcap").path])
            #expect(inside.stdout.contains("PORT 10,0,1,2,"), "lan0-in.pcap shows PORT as the client sent it")
        }
    }
}

// `tunwall demo`, as the README tells a user to run it: exits 0 after a
// passive and an active download, leaves no namespace, TUN device or process
// behind, and leaves a folder with a trace every line of which the diagram
// reader accepts (the schema), pcaps tcpdump reads, and a well-formed SVG
// diagram that contains every packet of the trace. Needs root.

import Diagram
import Foundation
import FoundationXML
import Testing
import TestSupport
import Wire

@Suite(.tags(.lab), .enabled(if: isRoot, "the demo needs root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct DemoTests {
    @Test func demoRunsAndCleansUp() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-demo-test-\(getpid())")
        defer { try? FileManager.default.removeItem(at: folder) }
        // The demo names its lab after its own pid (demoNNNNN, DemoCommand.swift),
        // not ours: watch for that lab's namespaces while it runs. Other suites'
        // labs come and go meanwhile and are none of this test's business.
        let watched = try LabChecks.runWatchingLab(["demo", "--out", folder.path]) { "demo\($0 % 100_000)" }
        let run = watched.run, lab = watched.lab
        #expect(run.status == 0, "tunwall demo failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("passive download: ok; active download: ok"))
        #expect(run.stdout.contains("ftp: rewrote \"PORT 10,0,1,2,"), "the narrated control channel shows the rewrite")
        #expect(run.stdout.contains("== Expectations the FTP helper made"))
        #expect(run.stdout.contains("helper=ftp"), "the conntrack table is printed")

        // The lab the checks below look for is the one the demo made...
        #expect(watched.inodes.keys.sorted() == ["tw-\(lab)-client", "tw-\(lab)-fw", "tw-\(lab)-server"],
                "the demo's namespaces, seen while it ran: \(watched.inodes)")
        #expect(run.stdout.contains("as \(lab)\n"), "the demo says which lab it brings up")
        // ...and nothing of it is left: namespaces, processes in them, the
        // firewall holding the TUN devices (lan0, wan0 die with it), the lab's state.
        let left = LabChecks.leftovers(of: lab, inodes: watched.inodes.values)
        #expect(left.isEmpty, "the demo left behind: \(left)")
        let labs = try Tool.run(Tool.binary, ["lab", "list"])
        #expect(labs.status == 0 && !labs.stdout.contains(lab), "\(labs.stdout)")
        #expect(!FileManager.default.fileExists(atPath: "/run/tunwall/labs/\(lab)"), "the lab's state directory is gone")
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
        // The pcaps: our reader finds the PORT as the client sent it on lan0 and
        // rewritten on wan0; tcpdump (a reader we did not write) must agree.
        // Without tcpdump that half is a recorded failure, never a silent pass
        // (Scripts/test.sh installs it).
        for (file, port) in [("pcap/lan0-in.pcap", "PORT 10,0,1,2,"), ("pcap/wan0-out.pcap", "PORT 203,0,113,1,")] {
            let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(file)))
            let payloads = try PcapReader(bytes: bytes).records().map { String(decoding: $0.data, as: UTF8.self) }
            #expect(payloads.contains { $0.contains(port) }, "\(file) holds \(payloads.count) packets, none with \(port)")
        }
        if let tcpdump = Tool.which("tcpdump") {
            let out = try Tool.run(tcpdump, ["-nn", "-A", "-r", folder.appendingPathComponent("pcap/wan0-out.pcap").path])
            #expect(out.status == 0 && out.stdout.contains("PORT 203,0,113,1,"), "wan0-out.pcap shows the rewritten PORT")
            let inside = try Tool.run(tcpdump, ["-nn", "-A", "-r", folder.appendingPathComponent("pcap/lan0-in.pcap").path])
            #expect(inside.stdout.contains("PORT 10,0,1,2,"), "lan0-in.pcap shows PORT as the client sent it")
        } else {
            Issue.record("tcpdump is not installed: the pcaps were not read by tcpdump (Scripts/test.sh installs it)")
        }
    }
}

// The Lab API as another project's test would use it (public API only, no
// @testable): bring Topologies/basic.json up from Swift, serve a file with
// the built-in FTP server in one host (a LabProcess handle: wait until it
// listens, wait for it to end), fetch it with the built-in client in the
// other, read what the commands printed, and take the lab down; then a
// topology made of Swift values with a ruleset given as text, the firewall's
// connections and counters as typed values, a process stopped by a signal,
// and a mistake in the values refused as a file's would be. Needs root.

import Foundation
import Lab
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "labs need root"), .serialized, labTimeLimit)
struct LabSessionExampleTests {
    @Test func aTopologyFromSwift() throws {
        let name = "les\(getpid() % 100_000)"
        let lab = try LabSession(topology: repository.appendingPathComponent("Topologies/basic.json").path,
                                 name: name, tunwall: Tool.binary.path)
        defer { lab.down() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-les-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("hello through the firewall\n".utf8).write(to: directory.appendingPathComponent("hello.txt"))

        // The server host serves one session, then exits; the test waits
        // until it listens (as ss would show it), not a fixed time.
        let server = try lab.start("server", [Tool.binary.path, "ftp", "serve", "--listen", "203.0.113.10",
                                              "--root", directory.path, "--once", "1"])
        try server.waitUntilListening(port: 21)
        let fetched = try lab.run("client", [Tool.binary.path, "ftp", "get", "ftp://203.0.113.10/hello.txt", "--out", "-",
                                             "--mode", "active", "--timeout", "10"])
        #expect(fetched.status == .exited(0), "\(fetched.output)")
        #expect(fetched.output.contains("hello through the firewall"), "\(fetched.output)")
        #expect(server.wait(timeout: 30) == .exited(0), "the server served its one session: \(server.output)")

        let ping = try lab.run("client", ["ping", "-c", "1", "-W", "2", "203.0.113.10"])
        #expect(ping.status == .exited(0) && ping.output.contains("1 received"), "\(ping.output)")
        let report = lab.down()
        #expect(report != nil)
        #expect(LabChecks.namespaces(of: name).isEmpty)
    }

    @Test func aTopologyOfSwiftValues() throws {
        let topology = try Topology.star([
            .init(interface: "lan0", firewall: ["10.0.1.1/24", "fd00:1::1/64"], host: "client",
                  addresses: ["10.0.1.2/24", "fd00:1::2/64"]),
            .init(interface: "wan0", firewall: ["203.0.113.1/24"], host: "server", addresses: ["203.0.113.10/24"]),
        ], description: "client behind masquerade")
        let name = "lev\(getpid() % 100_000)"
        let lab = try LabSession(topology: topology, ruleset: """
            table ip nat {
                chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
            }
            """, name: name, tunwall: Tool.binary.path)
        defer { lab.down() }
        let ping = try lab.run("client", ["ping", "-n", "-c", "1", "-W", "2", "203.0.113.10"])
        #expect(ping.status == .exited(0), "\(ping.output)")
        let pings = try lab.connections().filter { $0.protocol == "icmp" }
        #expect(pings.count == 1 && pings.first?.reply.dst == "203.0.113.1", "masqueraded: \(pings)")
        #expect(try lab.statistics().forwarded >= 2)

        // A process that ignores nothing: SIGTERM ends it, and the handle says so.
        let sleeper = try lab.start("server", ["sleep", "60"])
        #expect(sleeper.isRunning)
        sleeper.signal(SIGTERM)
        #expect(sleeper.wait(timeout: 5) == .killed(signal: SIGTERM))
        // One that exits before it listens is reported with what it printed.
        let failing = try lab.start("server", ["sh", "-c", "echo no such server; exit 3"])
        #expect(throws: LabError.self) { try failing.waitUntilListening(port: 9, timeout: 5) }
        #expect(failing.output == "no such server\n")

        #expect(throws: LabError.self) {
            try Topology.star([.init(interface: "lan0", firewall: ["10.0.1.300/24"], host: "client", addresses: ["10.0.1.2/24"])])
        }
    }
}

// The example's test: echo-server in a lab's "server" namespace, echo-client
// in its "client" namespace, a tunwall firewall masquerading between them
// (tunwall's Topologies/masquerade.json). Needs root; the tunwall binary is
// $TUNWALL, or the repository's .build/debug/tunwall.

import Foundation
import Lab
import Testing

@Suite(.serialized) struct EchoThroughTheFirewallTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../..").standardized
    static let tunwall = ProcessInfo.processInfo.environment["TUNWALL"]
        ?? repository.appendingPathComponent(".build/debug/tunwall").path
    /// The example's own programs, built beside this test bundle.
    static func program(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
    }
    static let isRoot = getuid() == 0

    @Test(.enabled(if: isRoot, "needs root (namespaces, TUN devices)"))
    func echoThroughMasquerade() throws {
        let lab = try LabSession(topology: Self.repository.appendingPathComponent("Topologies/masquerade.json").path,
                                 name: "echo\(getpid() % 100_000)", tunwall: Self.tunwall)
        defer { lab.down() }
        let server = try lab.start("server", [Self.program("echo-server"), "7777"])
        try server.waitUntilListening(port: 7777)
        #expect(server.output.contains("listening on port 7777"))

        for address in ["203.0.113.10", "2001:db8:1::10"] {
            let result = try lab.run("client", [Self.program("echo-client"), address, "7777", "hello through \(address)"])
            #expect(result.status == .exited(0), "\(result.output)")
            #expect(result.output == "HELLO THROUGH \(address.uppercased())\n")
        }
        // The firewall's view, as typed values: the connections went out
        // masqueraded (the reply tuple names the firewall's public address).
        let echoes = try lab.connections().filter { $0.original.dport == 7777 }
        #expect(echoes.count == 2, "\(echoes)")
        for entry in echoes {
            #expect(entry.protocol == "tcp" && entry.status.contains("SRC_NAT"), "\(entry)")
            #expect(["203.0.113.1", "2001:db8:1::1"].contains(entry.reply.dst), "\(entry)")
        }
        let statistics = try lab.statistics()
        #expect(statistics.forwarded >= 16, "both exchanges forwarded: \(statistics.forwarded)")

        // A slow WAN: 100 ms each way on the server's side, so one exchange
        // (handshake and line) takes at least two round trips of 200 ms.
        try lab.impair("wan0", "out delay 100ms")
        try lab.impair("wan0", "in delay 100ms")
        let started = Date()
        let slow = try lab.run("client", [Self.program("echo-client"), "203.0.113.10", "7777", "slowly"])
        #expect(slow.output == "SLOWLY\n", "\(slow.output)")
        #expect(Date().timeIntervalSince(started) >= 0.4, "two round trips through the delay")
        try lab.impair("wan0", "clear")
        #expect(throws: LabError.self) { try lab.impair("wan0", "out delay soon") }

        // A ruleset that refuses the port, swapped in atomically: the next
        // exchange fails, and the drop is counted.
        try lab.setRuleset("""
            table inet filter {
                chain forward { type filter hook forward priority filter; tcp dport 7777 drop; }
            }
            table inet nat {
                chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
            }
            """)
        let refused = try lab.run("client", [Self.program("echo-client"), "203.0.113.10", "7777", "dropped"], timeout: 20)
        #expect(refused.status != .exited(0), "\(refused.output)")
        #expect(try lab.statistics().drops["rule-drop", default: 0] > 0)

        server.stop()
        #expect(!server.isRunning)
    }
}

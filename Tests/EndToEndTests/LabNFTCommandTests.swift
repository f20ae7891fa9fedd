// `tunwall nft` on a running lab (issue 15): a client the named set does not
// hold cannot reach the server; `tunwall nft add element` lets it in at once,
// `delete element` shuts it out again, a refused command changes nothing and
// says what nft says; and `limit rate` is measured roughly with a ping flood.
// Servers are seen listening before the first packet. Needs root.

import Foundation
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabNFTCommandTests {
    let name = "nftc\(getpid() % 100_000)"

    func tunwall(_ arguments: [String]) throws -> Run { try Tool.run(Tool.binary, arguments) }
    func exec(_ host: String, _ command: [String]) throws -> Run { try Tool.labExec(name, host, command) }
    func background(_ host: String, _ command: [String]) throws -> Process { try Tool.labBackground(name, host, command) }

    static let ruleset = """
        table inet filter {
        \tset allowed {
        \t\ttype ipv4_addr
        \t}

        \tchain forward {
        \t\ttype filter hook forward priority filter; policy drop;
        \t\ticmp type echo-request limit rate over 5/second drop
        \t\tct state vmap { invalid : drop, established : accept, related : accept }
        \t\tip saddr @allowed tcp dport 8080 accept
        \t\ticmp type echo-request accept
        \t}
        }

        """

    @Test func addElementLetsAClientInAndLimitRateHolds() throws {
        let lab = try LabWorkspace("Topologies/stateful.json", name: name, ruleset: ("sets.nft", LabNFTCommandTests.ruleset))
        defer { lab.down() }
        let directory = lab.directory

        try "hello\n".write(to: directory.appendingPathComponent("hello.txt"), atomically: true, encoding: .utf8)
        let server = try background("server", ["python3", "-m", "http.server", "8080", "--bind", "203.0.113.10",
                                               "--directory", directory.path])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: name, host: "server", port: 8080, address: "203.0.113.10")
        func fetch() throws -> Run {
            try exec("client", ["curl", "-sS", "--fail", "--max-time", "3", "http://203.0.113.10:8080/hello.txt"])
        }

        // Not in the set: the SYN is dropped, curl times out.
        let blocked = try fetch()
        #expect(blocked.status == 28, "a client outside @allowed times out: \(blocked.status) \(blocked.stderr)")

        // Added at runtime: in at once, with the connection table kept.
        let add = try tunwall(["nft", "--lab", name, "add", "element", "inet", "filter", "allowed", "{", "10.0.1.2", "}"])
        #expect(add.status == 0 && add.stderr.isEmpty, "add element: \(add.stderr)")
        let allowed = try fetch()
        #expect(allowed.status == 0 && allowed.stdout == "hello\n", "after add element: \(allowed.status) \(allowed.stderr)")
        let listing = try tunwall(["nft", "--lab", name, "list", "ruleset", "-a"])
        #expect(listing.stdout.contains("elements = { 10.0.1.2 }") && listing.stdout.contains("# handle"),
                "\(listing.stdout)")

        // A refused command: nft's words, exit 1, nothing changed.
        let refused = try tunwall(["nft", "--lab", name, "delete", "rule", "inet", "filter", "forward", "handle", "999"])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("Error: Could not process rule: No such file or directory\n"), "\(refused.stderr)")
        #expect(try fetch().status == 0, "the running ruleset is unchanged")

        // Deleted again: shut out again.
        let delete = try tunwall(["nft", "--lab", name, "delete", "element", "inet", "filter", "allowed", "{", "10.0.1.2", "}"])
        #expect(delete.status == 0, "delete element: \(delete.stderr)")
        #expect(try fetch().status == 28)

        // limit rate over 5/second (burst 5): a flood of 50 pings in about a second gets
        // roughly the burst plus five a second through.
        let ping = try exec("client", ["ping", "-n", "-q", "-c", "50", "-i", "0.02", "-W", "1", "203.0.113.10"])
        let received = ping.stdout.split(separator: "\n").first { $0.contains("received") }
            .flatMap { line in line.split(separator: ",").first { $0.contains("received") } }
            .flatMap { Int($0.trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) }
        let count = try #require(received, "ping's summary: \(ping.stdout) \(ping.stderr)")
        #expect((6...16).contains(count), "50 pings in ~1 s through limit rate 5/second burst 5: \(count) answered")
    }
}

// TFTP through the TFTP helper (issue 11, item 3) with real programs:
// tftpd-hpa's in.tftpd in the server's namespace, tftp-hpa's tftp as the
// client, through Topologies/tftp-masquerade.json and tftp-dnat.json, over
// IPv4 and IPv6, once through tunwall and once through the Linux kernel with
// the same ruleset (`lab up --kernel`, nf_conntrack_tftp + nf_nat_tftp: the
// oracle). The server answers every request from a new port of its own
// (RFC 1350 §4), which both rulesets let in only as RELATED: so a transfer
// works only through the helper's expectation, and the same transfer with
// the `ct helper set` line removed must fail, with the firewall's drop seen
// growing. Needs root.

import Foundation
import Testing
import TestSupport
import TestSeeds

/// The two TFTP topologies: where the server listens and where the client sends.
enum TFTPTopology: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case masquerade = "tftp-masquerade"
    case dnat = "tftp-dnat"

    /// The server's own addresses (IPv4, IPv6), where in.tftpd listens.
    var listen: [String] { self == .masquerade ? ["203.0.113.10", "2001:db8:1::10"] : ["10.0.2.10", "fd00:2::10"] }
    /// The addresses the client sends its requests to: the published ones under DNAT.
    var dial: [String] { self == .masquerade ? listen : ["203.0.113.1", "2001:db8:1::1"] }
    var testDescription: String { rawValue }
}

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabTFTPTests {
    static let size = 1 << 20

    /// A lab of `topology` (its ruleset replaced by `ruleset` when given, in
    /// a temporary directory beside a copy of the topology), with one
    /// in.tftpd per server address, seen listening before anything is sent.
    final class TFTPLab {
        let name: String
        let kernel: Bool
        let directory: URL
        /// The server's root (in.tftpd --secure), writable by nobody for --create.
        let serverRoot: URL
        /// Where the client reads and writes its files (same filesystem, another namespace).
        let clientRoot: URL
        private var servers: [Process] = []

        init(_ topology: TFTPTopology, kernel: Bool, name: String, ruleset: String? = nil, servers: Bool = true) throws {
            self.name = name
            self.kernel = kernel
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-tftp-\(name)")
            serverRoot = directory.appendingPathComponent("server")
            clientRoot = directory.appendingPathComponent("client")
            try? FileManager.default.removeItem(at: directory)
            for path in [directory, serverRoot, clientRoot] {
                try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
            }
            // in.tftpd drops to nobody: it must traverse our directory and write in its root.
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: serverRoot.path)

            var file = repository.appendingPathComponent("Topologies/\(topology.rawValue).json")
            if let ruleset {
                let json = try String(contentsOf: file, encoding: .utf8)
                file = directory.appendingPathComponent("\(topology.rawValue).json")
                try json.replacingOccurrences(of: "\"\(topology.rawValue).nft\"", with: "\"changed.nft\"")
                    .write(to: file, atomically: true, encoding: .utf8)
                try ruleset.write(to: directory.appendingPathComponent("changed.nft"), atomically: true, encoding: .utf8)
            }
            let up = try Tool.run(Tool.binary, ["lab", "up", file.path, "--name", name, "--daemon"] + (kernel ? ["--kernel"] : []))
            do {
                guard up.status == 0 else { throw LabCheckFailure("lab up failed: \(up.stderr)") }
                if servers { try startServers(topology) }
            } catch {
                down()
                throw error
            }
        }

        /// in.tftpd in the foreground, one per address (it listens on one),
        /// chrooted to the server's root, allowed to create files for put.
        func startServers(_ topology: TFTPTopology) throws {
            for address in topology.listen {
                let bracketed = address.contains(":") ? "[\(address)]" : address
                servers.append(try Tool.labBackground(name, "server", [
                    "/usr/sbin/in.tftpd", "--foreground", "--listen", address.contains(":") ? "-6" : "-4",
                    "--address", "\(bracketed):69", "--secure", "--create", serverRoot.path]))
            }
            for address in topology.listen {
                try LabChecks.waitUntilListening(lab: name, host: "server", port: 69, address: address, udp: true)
            }
        }

        /// tftp-hpa's client in the client's namespace, one attempt (its own
        /// retransmissions aside, which the drop counters would show), binary mode.
        func tftp(_ address: String, _ command: String, _ arguments: String..., seconds: Int = 60) throws -> Run {
            try Tool.labExec(name, "client", ["timeout", String(seconds), "/usr/bin/tftp", address.contains(":") ? "-6" : "-4",
                                              "-m", "octet", address, "-c", command] + arguments)
        }

        /// The forward chain's `counter` (what fell through to policy drop), as the firewall lists it.
        func forwardPolicyCount() throws -> UInt64 {
            let list = kernel ? try Tool.labExec(name, "fw", ["nft", "list", "chain", "inet", "filter", "forward"])
                : try Tool.run(Tool.binary, ["list", "ruleset", "--lab", name])
            guard list.status == 0 else { throw LabCheckFailure("listing the ruleset of \(name): \(list.stderr)") }
            // The only bare counter of the forward chains: "counter packets N bytes M".
            for line in list.stdout.split(separator: "\n") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                    .map { $0.trimmingCharacters(in: .whitespaces) }
                if fields.count == 5, fields[0] == "counter", fields[1] == "packets", let count = UInt64(fields[2]) { return count }
            }
            throw LabCheckFailure("no counter in the forward chain of \(name):\n\(list.stdout)")
        }

        /// Datagrams the firewall itself received for a port nobody listens on
        /// (the kernel's UdpNoPorts + Udp6NoPorts; tunwall's local-no-service).
        func localNoServiceCount() throws -> UInt64 {
            if !kernel { return try LabChecks.dropCount(lab: name, "local-no-service") }
            let nstat = try Tool.labExec(name, "fw", ["nstat", "-asz"])
            guard nstat.status == 0 else { throw LabCheckFailure("nstat in \(name)'s fw: \(nstat.stderr)") }
            return nstat.stdout.split(separator: "\n").reduce(0) { sum, line in
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 2, fields[0] == "UdpNoPorts" || fields[0] == "Udp6NoPorts" else { return sum }
                return sum + (UInt64(fields[1]) ?? 0)
            }
        }

        /// Stops the servers, then takes the lab down, which also ends the
        /// transfer processes in.tftpd forked (still resending an answer the
        /// firewall dropped); only then are the servers waited for, since
        /// Foundation sees a server end only once those children are gone.
        func down() {
            for server in servers where server.isRunning { server.terminate() }
            _ = try? Tool.run(Tool.binary, ["lab", "down", name])
            for server in servers { server.waitUntilExit() }
            servers = []
            try? FileManager.default.removeItem(at: directory)
        }
    }

    func labName(_ topology: TFTPTopology, kernel: Bool, _ suffix: String = "") -> String {
        "tftp\(getpid() % 100_000)\(topology == .masquerade ? "m" : "d")\(kernel ? "k" : "")\(suffix)"
    }

    /// Get and put of a 1 MB seeded random file over IPv4 and IPv6, files
    /// compared byte for byte, and no packet dropped on the way (so no TFTP
    /// retransmission hid a drop). Before the servers start, a lone read
    /// request shows the expectation it makes (nobody answers it).
    @Test("get and put of 1 MB through the TFTP helper", arguments: TFTPTopology.allCases, [false, true])
    func getAndPut(topology: TFTPTopology, kernel: Bool) throws {
        let lab = try TFTPLab(topology, kernel: kernel, name: labName(topology, kernel: kernel), servers: false)
        defer { lab.down() }

        // The expectation of a request nobody answers yet (the server's
        // namespace refuses it with port unreachable, which changes nothing):
        // from the server, any port, to the client's port as the server sees it.
        let probe = try Tool.labExec(lab.name, "client", ["/usr/bin/python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(b"\\x00\\x01probe.bin\\x00octet\\x00", ("\(topology.dial[0])", 69))
            """])
        #expect(probe.status == 0, "\(probe.stderr)")
        let expectations = kernel ? try Tool.labExec(lab.name, "fw", ["cat", "/proc/net/nf_conntrack_expect"])
            : try Tool.run(Tool.binary, ["conntrack", "-L", "expect", "--lab", lab.name])
        let publicClient = topology == .masquerade ? "203.0.113.1" : "203.0.113.10"
        #expect(expectations.stdout.split(separator: "\n").contains { line in
            line.contains("src=\(topology.listen[0]) dst=\(publicClient)") && line.contains("tftp")
        }, "the read request's expectation:\n\(expectations.stdout)\(expectations.stderr)")

        try lab.startServers(topology)
        var random = SeededGenerator(seed: testSeed(0x7466_7470))
        let download = Data(random.bytes(Self.size)), upload = Data(random.bytes(Self.size))
        let served = lab.serverRoot.appendingPathComponent("download.bin")
        try download.write(to: served)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: served.path)
        let local = lab.clientRoot.appendingPathComponent("upload.bin")
        try upload.write(to: local)
        let forwardDropsBefore = try lab.forwardPolicyCount(), localDropsBefore = try lab.localNoServiceCount()

        for (family, address) in zip(["4", "6"], topology.dial) {
            let got = lab.clientRoot.appendingPathComponent("got\(family).bin")
            let get = try lab.tftp(address, "get", "download.bin", got.path)
            #expect(get.status == 0, "get over IPv\(family): \(get.stdout)\(get.stderr)")
            #expect((try? Data(contentsOf: got)) == download, "the file got over IPv\(family) is the server's")

            let put = try lab.tftp(address, "put", local.path, "put\(family).bin")
            #expect(put.status == 0, "put over IPv\(family): \(put.stdout)\(put.stderr)")
            #expect((try? Data(contentsOf: lab.serverRoot.appendingPathComponent("put\(family).bin"))) == upload,
                    "the file put over IPv\(family) is the client's")
        }
        #expect(try lab.forwardPolicyCount() == forwardDropsBefore, "nothing fell through to the forward policy")
        #expect(try lab.localNoServiceCount() == localDropsBefore, "no answer ended at the firewall itself")

        if kernel { return }
        // The requests carry the helper, and the answers came in as RELATED.
        let conntrack = try Tool.run(Tool.binary, ["conntrack", "-L", "--lab", lab.name])
        #expect(conntrack.stdout.split(separator: "\n").contains { $0.contains("dport=69") && $0.contains("helper=tftp") },
                "the requests to port 69 carry the helper:\n\(conntrack.stdout)")
        let stats = try Tool.run(Tool.binary, ["stats", "--lab", lab.name])
        #expect(stats.stdout.contains("transfers let in by an expectation"), "the answers came in as RELATED:\n\(stats.stdout)")
    }

    /// The same transfers with the `ct helper set` line removed: the server's
    /// answer from its new port is nobody's reply, and it is dropped where the
    /// ruleset says. Under DNAT it is a new flow out of the DMZ, which the
    /// forward policy drops (its counter grows); under masquerade it is
    /// addressed to the firewall itself, which has nothing listening there.
    @Test("without the helper the transfer fails", arguments: TFTPTopology.allCases, [false, true])
    func failsWithoutTheHelper(topology: TFTPTopology, kernel: Bool) throws {
        let ruleset = try String(contentsOf: repository.appendingPathComponent("Topologies/\(topology.rawValue).nft"), encoding: .utf8)
        let withoutHelper = ruleset.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("ct helper set") }.joined(separator: "\n")
        try #require(withoutHelper != ruleset, "the topology's ruleset sets the helper")
        let lab = try TFTPLab(topology, kernel: kernel, name: labName(topology, kernel: kernel, "n"), ruleset: withoutHelper)
        defer { lab.down() }
        try Data(repeating: 0x5a, count: Self.size).write(to: lab.serverRoot.appendingPathComponent("download.bin"))
        try FileManager.default.setAttributes([.posixPermissions: 0o644],
                                              ofItemAtPath: lab.serverRoot.appendingPathComponent("download.bin").path)
        let local = lab.clientRoot.appendingPathComponent("upload.bin")
        try Data(repeating: 0xa5, count: Self.size).write(to: local)

        // The count that must grow: where the server's answers end.
        let count = topology == .dnat ? lab.forwardPolicyCount : lab.localNoServiceCount
        // A get over IPv4 and a put over IPv6; tftp would retransmit for 25 s,
        // and the counter shows after 6 s that the answers are dropped.
        let before = try count()
        let got = lab.clientRoot.appendingPathComponent("got.bin")
        let get = try lab.tftp(topology.dial[0], "get", "download.bin", got.path, seconds: 6)
        #expect(get.status != 0, "the get must fail without the helper: \(get.stdout)\(get.stderr)")
        #expect((try? Data(contentsOf: got))?.count ?? 0 == 0, "no data arrived")
        let afterGet = try count()
        #expect(afterGet > before, "the server's answers to the read request were dropped (\(before) → \(afterGet))")

        let put = try lab.tftp(topology.dial[1], "put", local.path, "put.bin", seconds: 6)
        #expect(put.status != 0, "the put must fail without the helper: \(put.stdout)\(put.stderr)")
        let afterPut = try count()
        #expect(afterPut > afterGet, "the server's answers to the write request were dropped (\(afterGet) → \(afterPut))")
        let written = (try? Data(contentsOf: lab.serverRoot.appendingPathComponent("put.bin")))?.count ?? 0
        #expect(written == 0, "no data reached the server")
    }
}

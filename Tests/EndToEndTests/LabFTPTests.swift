// FTP through the firewall with real programs nobody here wrote: vsftpd and
// pyftpdlib as servers; curl, lftp and Python's ftplib as clients; downloads
// (RETR), uploads (STOR) and listings (LIST, NLST), in every data-connection
// mode each client can be made to use (PASV, EPSV, PORT, EPRT), over IPv4 and
// IPv6, files compared byte for byte.
//
// - Topologies/basic.json, no ruleset: plain forwarding, FTP works without help.
// - Topologies/ftp-masquerade.json: the client behind masquerade. Active mode
//   needs the FTP helper: the server must see PORT/EPRT name 203.0.113.1 /
//   2001:db8:1::1, and its connection back is RELATED.
// - Topologies/ftp-dnat.json: the server in a DMZ published as 203.0.113.1:21,
//   no passive range forwarded. Passive mode needs the helper: the client must
//   see a 227 naming 203.0.113.1; active data must come from 203.0.113.1.
//
// Then: without the helper (the same ruleset reloaded minus `ct helper set`)
// the transfers that need it fail within a bounded time; and an expectation
// is a narrow pinhole: while a data connection is announced, the outsider
// cannot use the announced port, nor the server the next one, and
// `conntrack -L expect` lists it. Needs root; every packet stays in the lab's
// namespaces (a vsftpd the Debian package may have started is not involved).
// Support/FTPPrograms.swift starts the programs.

import Foundation
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "lab tests need root (namespaces, TUN devices)"), .serialized, labTimeLimit)
struct LabFTPTests {
    static let suffix = getpid() % 100_000

    // MARK: - The matrix: every client, mode and operation against one server and family

    @Test("FTP through plain forwarding (basic.json, no ruleset)",
          arguments: FTPServerKind.allCases, FTPFamily.allCases)
    func plainForwarding(server: FTPServerKind, family: FTPFamily) throws {
        try transfers(.plain, server, family, lab: "ftpp\(Self.suffix)")
    }

    @Test("FTP from a client behind masquerade (ftp-masquerade.json)",
          arguments: FTPServerKind.allCases, FTPFamily.allCases)
    func clientBehindMasquerade(server: FTPServerKind, family: FTPFamily) throws {
        try transfers(.masquerade, server, family, lab: "ftpm\(Self.suffix)")
    }

    @Test("FTP to a DMZ server behind port forwarding (ftp-dnat.json)",
          arguments: FTPServerKind.allCases, FTPFamily.allCases)
    func serverBehindPortForwarding(server: FTPServerKind, family: FTPFamily) throws {
        try transfers(.dnat, server, family, lab: "ftpd\(Self.suffix)")
    }

    /// Brings up the topology and the server, runs every client × mode ×
    /// operation, each failure one issue naming its case, then checks that
    /// conntrack -L shows the helper on every control connection (and on
    /// none without a ruleset).
    func transfers(_ topology: FTPTopology, _ serverKind: FTPServerKind, _ family: FTPFamily, lab name: String) throws {
        try FTPPrograms.require()
        let lab = try FTPLab(topology, name: name)
        defer { lab.down() }
        let server = try FTPServer(serverKind, family: family, lab: lab, address: topology.serverAddress(family),
                                   content: try randomBytes(2_000_000))
        defer { server.stop() }
        let client = lab.directory.appendingPathComponent("client")
        try makeDirectory(client)
        let upload = client.appendingPathComponent("upload-source.bin")
        try writeShared(try randomBytes(1_500_000), to: upload)

        for clientKind in FTPClientKind.allCases {
            for mode in clientKind.modes(family) {
                let label = "\(topology) \(serverKind) \(family.rawValue) \(clientKind) \(mode.rawValue)"
                for operation in FTPOperation.allCases {
                    let ok = try check(FTPClientCase(topology: topology, server: server, client: clientKind, mode: mode,
                                                     operation: operation, family: family, label: label),
                                       lab: lab, directory: client, upload: upload)
                    if !ok { break }  // the first failure says it; the next operations would only repeat it
                }
            }
        }

        let listing = try lab.tunwall(["conntrack", "-L"])
        let control = listing.stdout.split(separator: "\n").filter { $0.hasPrefix("tcp") && $0.contains(" dport=21 ") }
        #expect(!control.isEmpty, "[\(topology) \(serverKind) \(family.rawValue)] conntrack -L lists the control connections:\n\(listing.stdout)\(listing.stderr)")
        if topology.hasHelper {
            let without = control.filter { !$0.contains("helper=ftp") }
            #expect(without.isEmpty,
                    "[\(topology) \(serverKind) \(family.rawValue)] conntrack -L shows every control connection with helper=ftp; \(without.count) of \(control.count) lack it:\n\(without.prefix(4).joined(separator: "\n"))")
        } else {
            #expect(!listing.stdout.contains("helper=ftp"),
                    "[\(topology) \(serverKind) \(family.rawValue)] no ruleset, so no helper:\n\(listing.stdout)")
        }
    }

    struct FTPClientCase {
        let topology: FTPTopology
        let server: FTPServer
        let client: FTPClientKind
        let mode: FTPMode
        let operation: FTPOperation
        let family: FTPFamily
        let label: String
    }

    /// One client command and everything it must show; records one issue
    /// naming the case if anything is wrong. Returns whether the command succeeded.
    func check(_ c: FTPClientCase, lab: FTPLab, directory: URL, upload: URL) throws -> Bool {
        let name = "\(c.client)-\(c.mode.rawValue)-\(c.operation.rawValue)".lowercased()
        let local = c.operation == .stor ? upload : directory.appendingPathComponent(name)
        let remote = switch c.operation {
        case .retr: "pub/file.bin"
        case .stor: "upload/\(name).bin"
        case .list, .nlst: "pub"
        }
        let command = FTPClientCommand(client: c.client, mode: c.mode, operation: c.operation,
                                       host: c.topology.serverPublic(c.family), family: c.family,
                                       local: local, remote: remote)
        var logStart = c.server.logSize
        var started = Date()
        var run = try lab.exec("client", command.argv(script: lab.clientScript))
        // curl in active mode gives up (exit 8, "Ctrl conn has data while
        // waiting for data conn") when the server's 226 on the control
        // connection reaches it before the data connection's handshake has
        // completed: packets of different connections carry no order (with
        // several workers, as with the kernel's RPS, two flows leave on two
        // CPUs). A curl race, not a lost connection: the same command once more.
        if c.client == .curl, run.status == 8, run.stderr.contains("Ctrl conn has data while waiting for data conn") {
            print("[\(c.label) \(c.operation.rawValue)] curl's active-mode race (226 before the data connection): once more")
            logStart = c.server.logSize
            started = Date()
            run = try lab.exec("client", command.argv(script: lab.clientScript))
        }
        let elapsed = Date().timeIntervalSince(started)
        let dialogue = run.stderr + (c.client == .ftplib ? "" : run.stdout)
        let seen = c.server.logText(from: logStart)
        var problems: [String] = []

        if run.status != 0 {
            problems.append("\(c.client) exited \(run.status) after \(String(format: "%.1f", elapsed)) s")
        } else {
            switch c.operation {
            case .retr:
                let got = (try? Data(contentsOf: local)) ?? Data()
                if got != c.server.content { problems.append("downloaded \(got.count) bytes, not the \(c.server.content.count) served") }
            case .stor:
                let stored = (try? Data(contentsOf: c.server.root.appendingPathComponent(remote))) ?? Data()
                let sent = (try? Data(contentsOf: upload)) ?? Data()
                if stored != sent { problems.append("the server stored \(stored.count) bytes, not the \(sent.count) sent") }
            case .list, .nlst:
                let text = (try? String(contentsOf: local, encoding: .utf8)) ?? ""
                if !text.contains("file.bin") { problems.append("the listing lacks file.bin: \(text.debugDescription)") }
            }
        }

        // The command the client was meant to send is what reached the server
        // (vsftpd logs `"PORT ..."`, pyftpdlib `<- PORT ...`)...
        // Nor any other: curl falls back from EPSV to PASV and from EPRT to
        // PORT by itself, which must not pass for the mode under test.
        if captures(#"("|<- )\#(c.mode.rawValue)\b"#, in: seen) == nil {
            problems.append("the server's log shows no \(c.mode.rawValue) command")
        }
        for other in FTPMode.allCases where other != c.mode && captures(#"("|<- )\#(other.rawValue)\b"#, in: seen) != nil {
            problems.append("the client sent \(other.rawValue) too")
        }
        // An address in PORT/EPRT must be the client as the server sees it
        // (under masquerade: rewritten to the firewall's public address).
        let clientPublic = c.topology.clientPublic(c.family)
        if c.mode == .port {
            if let octets = captures(#"PORT (\d+),(\d+),(\d+),(\d+),(\d+),(\d+)"#, in: seen) {
                let address = octets.prefix(4).joined(separator: ".")
                if !sameAddress(address, clientPublic) { problems.append("the server got PORT naming \(address), not \(clientPublic)") }
            }
        }
        if c.mode == .eprt {
            if let fields = captures(#"EPRT \|(\d)\|([^|]+)\|(\d+)\|"#, in: seen) {
                let expectedFamily = c.family == .ipv4 ? "1" : "2"
                if fields[0] != expectedFamily || !sameAddress(fields[1], clientPublic) {
                    problems.append("the server got EPRT |\(fields[0])|\(fields[1])|, not |\(expectedFamily)|\(clientPublic)|")
                }
            }
        }
        // The address in a 227 must be the server as the client sees it
        // (behind port forwarding: rewritten to the firewall's public address).
        let serverPublic = c.topology.serverPublic(c.family)
        if c.mode == .pasv, run.status == 0 || dialogue.contains("227 ") {
            if let octets = captures(#"227 [^(\n]*\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)"#, in: dialogue) {
                let address = octets.prefix(4).joined(separator: ".")
                if !sameAddress(address, serverPublic) { problems.append("the client got a 227 naming \(address), not \(serverPublic)") }
            } else {
                problems.append("the client's dialogue shows no 227 reply")
            }
        }
        // ftplib says who the data connection was with: the server's public
        // address both ways; vsftpd's active connections come from port 20.
        if c.client == .ftplib, run.status == 0 {
            if let peer = captures(#"data-peer (\S+) (\d+)"#, in: run.stdout) {
                if !sameAddress(peer[0], serverPublic) {
                    problems.append("the data connection was with \(peer[0]), not \(serverPublic)")
                }
                if c.mode.isActive, c.server.kind == .vsftpd, peer[1] != "20" {
                    problems.append("vsftpd's active data connection came from port \(peer[1]), not 20")
                }
            } else {
                problems.append("ftplib printed no data-peer line")
            }
        }

        if !problems.isEmpty {
            Issue.record("""
                [\(c.label) \(c.operation.rawValue)] \(problems.joined(separator: "; "))
                --- client (\(command.argv(script: lab.clientScript).suffix(from: 4).joined(separator: " "))):
                \(tail(dialogue, 16))
                --- server log:
                \(tail(seen, 16))\(c.server.kind == .vsftpd && !c.server.outputText.isEmpty ? "\n--- vsftpd printed:\n" + tail(c.server.outputText) : "")
                """)
        }
        return run.status == 0
    }

    // MARK: - The FTP topologies themselves, without NAT

    /// The three-interface topologies route every host to every other: with
    /// an accept-all ruleset reloaded (no NAT, no helper) the client fetches
    /// from the server's own address in every curl mode, both families, and
    /// the outsider reaches the client and the server. What the NAT tests
    /// above add is then the ruleset's doing.
    @Test("the FTP topologies route without NAT", arguments: [FTPTopology.masquerade, .dnat])
    func topologyRoutesWithoutNAT(topology: FTPTopology) throws {
        try FTPPrograms.require()
        let lab = try FTPLab(topology, name: "ftpr\(Self.suffix)")
        defer { lab.down() }
        let acceptAll = lab.directory.appendingPathComponent("accept-all.nft")
        try "flush ruleset\ntable inet filter {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t}\n}\n"
            .write(to: acceptAll, atomically: true, encoding: .utf8)
        let reload = try lab.tunwall(["reload", acceptAll.path])
        try #require(reload.status == 0, "reload accept-all: \(reload.stderr)")

        for family in FTPFamily.allCases {
            let address = topology.serverAddress(family)
            let server = try FTPServer(.vsftpd, family: family, lab: lab, address: address, content: try randomBytes(1_000_000))
            defer { server.stop() }
            for mode in FTPClientKind.curl.modes(family) {
                let label = "[\(topology) accept-all, vsftpd \(family.rawValue) curl \(mode.rawValue) RETR from \(address)]"
                let local = lab.directory.appendingPathComponent("routed-\(family)-\(mode)")
                let command = FTPClientCommand(client: .curl, mode: mode, operation: .retr, host: address, family: family,
                                               local: local, remote: "pub/file.bin")
                let run = try lab.exec("client", command.argv(script: lab.clientScript))
                #expect(run.status == 0 && (try? Data(contentsOf: local)) == server.content, "\(label) \(run.status):\n\(tail(run.stderr))")
            }
            let client = family == .ipv4 ? (topology == .dnat ? "203.0.113.10" : "10.0.1.2")
                                         : (topology == .dnat ? "2001:db8:1::10" : "fd00:1::2")
            for target in [address, client] {
                let ping = try lab.exec("outsider", ["ping", "-c", "1", "-W", "2", target])
                #expect(ping.status == 0, "[\(topology) accept-all] the outsider pings \(target): \(ping.stdout)\(ping.stderr)")
            }
        }
    }

    // MARK: - Without the helper

    /// The same rulesets minus the `ct helper set` rule, loaded with `tunwall
    /// reload`: the transfers that need the helper fail, within the clients'
    /// time limits; with the original ruleset back, they work again.
    @Test("without the helper, what needs it fails", arguments: [FTPTopology.masquerade, .dnat])
    func withoutTheHelper(topology: FTPTopology) throws {
        try FTPPrograms.require()
        let lab = try FTPLab(topology, name: "ftpn\(Self.suffix)")
        defer { lab.down() }
        let original = repository.appendingPathComponent(topology.ruleset!)
        let text = try String(contentsOf: original, encoding: .utf8)
        let stripped = text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("ct helper set") }.joined(separator: "\n")
        try #require(stripped != text, "\(topology.ruleset!) has a `ct helper set` rule")
        let noHelper = lab.directory.appendingPathComponent("no-helper.nft")
        try stripped.write(to: noHelper, atomically: true, encoding: .utf8)
        let reload = try lab.tunwall(["reload", noHelper.path])
        try #require(reload.status == 0, "reload without the helper: \(reload.stderr)")
        let running = try lab.tunwall(["list", "ruleset"])
        #expect(!running.stdout.contains("ct helper set"), "the running ruleset has no helper rule:\n\(running.stdout)")

        // Behind masquerade only active mode needs the helper (both servers
        // refuse a PORT naming another address than the client's; the client
        // cannot be reached anyway). Behind port forwarding both modes do.
        let servers: [FTPServerKind] = topology == .masquerade ? [.vsftpd, .pyftpdlib] : [.vsftpd]
        let limit = 5
        for serverKind in servers {
            for family in FTPFamily.allCases {
                let server = try FTPServer(serverKind, family: family, lab: lab, address: topology.serverAddress(family),
                                           content: try randomBytes(1_000_000))
                defer { server.stop() }
                let modes = FTPClientKind.curl.modes(family).filter { topology == .dnat || $0.isActive }
                for mode in modes {
                    let label = "[\(topology) without helper, \(serverKind) \(family.rawValue) curl \(mode.rawValue) RETR]"
                    let local = lab.directory.appendingPathComponent("nohelper-\(serverKind)-\(family)-\(mode)")
                    var command = FTPClientCommand(client: .curl, mode: mode, operation: .retr,
                                                   host: topology.serverPublic(family), family: family,
                                                   local: local, remote: "pub/file.bin")
                    command.seconds = limit
                    let started = Date()
                    let run = try lab.exec("client", command.argv(script: lab.clientScript))
                    let elapsed = Date().timeIntervalSince(started)
                    #expect(run.status != 0, "\(label) succeeded without the helper:\n\(tail(run.stderr))")
                    #expect(elapsed < Double(limit + 5), "\(label) took \(elapsed) s to fail")
                }
            }
        }
        let listing = try lab.tunwall(["conntrack", "-L"])
        #expect(!listing.stdout.contains("helper=ftp"), "[\(topology) without helper] no helper on any connection:\n\(listing.stdout)")

        // The helper back: the transfer that needs it most works again.
        let back = try lab.tunwall(["reload", original.path])
        try #require(back.status == 0, "reload of \(topology.ruleset!): \(back.stderr)")
        let server = try FTPServer(.vsftpd, family: .ipv4, lab: lab, address: topology.serverAddress(.ipv4),
                                   content: try randomBytes(1_000_000))
        defer { server.stop() }
        let mode: FTPMode = topology == .masquerade ? .port : .pasv
        let local = lab.directory.appendingPathComponent("helper-back")
        let command = FTPClientCommand(client: .curl, mode: mode, operation: .retr, host: topology.serverPublic(.ipv4),
                                       family: .ipv4, local: local, remote: "pub/file.bin")
        let run = try lab.exec("client", command.argv(script: lab.clientScript))
        let got = (try? Data(contentsOf: local)) ?? Data()
        #expect(run.status == 0 && got == server.content,
                "[\(topology) helper reloaded, vsftpd IPv4 curl \(mode.rawValue) RETR] \(run.status), \(got.count) bytes of \(server.content.count), first difference at \(Array(zip(got, server.content)).firstIndex { $0.0 != $0.1 } ?? -1):\n\(tail(run.stderr))\n--- server log:\n\(tail(server.logText(from: 0), 6))")
    }

    // MARK: - Pinholes are narrow

    struct PinholeCase: Sendable, CustomTestStringConvertible {
        let topology: FTPTopology
        let active: Bool
        let family: FTPFamily
        var mode: FTPMode { active ? (family == .ipv4 ? .port : .eprt) : (family == .ipv4 ? .pasv : .epsv) }
        var testDescription: String { "\(topology) \(mode.rawValue) \(family.rawValue)" }

        static let all: [PinholeCase] = [(FTPTopology.masquerade, true), (.dnat, false), (.dnat, true)].flatMap { pair in
            FTPFamily.allCases.map { PinholeCase(topology: pair.0, active: pair.1, family: $0) }
        }
    }

    /// ftplib announces a data connection (PORT/EPRT from behind masquerade,
    /// PASV/EPSV or PORT/EPRT to the DMZ server) and holds it while the test
    /// looks: `conntrack -L expect` lists one expectation for the announced
    /// port; the outsider cannot connect to that port; the peer that may use
    /// it cannot use the next one (a listener waits there, so a firewall that
    /// let it through would show). Then the real transfer uses the port, no
    /// stray connection having reached the client's or server's listener, and
    /// the expectation is gone.
    @Test("an expectation opens one port for one peer", arguments: PinholeCase.all)
    func pinholesAreNarrow(_ c: PinholeCase) throws {
        try FTPPrograms.require()
        let label = "[pinhole \(c.testDescription)]"
        let lab = try FTPLab(c.topology, name: "ftph\(Self.suffix)")
        defer { lab.down() }
        let server = try FTPServer(.vsftpd, family: c.family, lab: lab, address: c.topology.serverAddress(c.family),
                                   content: try randomBytes(1_000_000))
        defer { server.stop() }
        let state = lab.directory.appendingPathComponent("pinhole.json")
        let go = lab.directory.appendingPathComponent("pinhole.go")
        let local = lab.directory.appendingPathComponent("pinhole.bin")
        let output = lab.directory.appendingPathComponent("pinhole.out")
        let client = try lab.background("client", ["timeout", "-k", "2", "90", systemPython, lab.clientScript.path, "pinhole",
                                                   c.topology.serverPublic(c.family), c.mode.rawValue, state.path, go.path,
                                                   local.path, "pub/file.bin"], output: output)
        defer {
            _ = FileManager.default.createFile(atPath: go.path, contents: nil)
            let deadline = Date().addingTimeInterval(15)
            while client.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if client.isRunning { client.terminate() }
        }
        func clientOutput() -> String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

        // The client has announced the data connection.
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: state.path), client.isRunning, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let stateData = try #require(try? Data(contentsOf: state),
                                     "\(label) the client announced no data connection:\n\(tail(clientOutput(), 20))\n--- server:\n\(tail(server.logText()))")
        let announced = try #require(try JSONSerialization.jsonObject(with: stateData) as? [String: Any])
        let localPort = try #require(announced["port"] as? Int)

        // conntrack -L expect lists it: one expectation of the helper, for the
        // port the data connection will be made to. (Behind masquerade the
        // helper keeps the client's port when it is free, as Linux does.)
        let expectations = try lab.tunwall(["conntrack", "-L", "expect"])
        let lines = expectations.stdout.split(separator: "\n").filter { $0.contains("helper=ftp") }
        #expect(expectations.status == 0 && lines.count == 1,
                "\(label) conntrack -L expect lists the one pending expectation:\n\(expectations.stdout)\(expectations.stderr)")
        var port = localPort
        if let line = lines.first, let field = captures(#"dport=(\d+)"#, in: String(line)), let expected = Int(field[0]) {
            #expect(expected == localPort, "\(label) the expectation is for port \(expected), the client announced \(localPort): \(line)")
            port = expected
        }

        // Nobody else gets through the announced port, and the right peer not through the next one.
        let target = c.active ? c.topology.clientPublic(c.family) : c.topology.serverPublic(c.family)
        let outsider = try lab.probe(from: "outsider", to: target, port: port)
        #expect(outsider != "connected", "\(label) the outsider connected to [\(target)]:\(port), the announced port")
        var neighbourListener: (Process, URL)?
        if !c.active {
            // A listener on the server's next port: a firewall that forwarded
            // the client there would show in its output.
            let file = lab.directory.appendingPathComponent("neighbour.out")
            let process = try lab.background("server", ["timeout", "-k", "1", "15", systemPython, "-c", """
                import socket, sys
                address, port = sys.argv[1], int(sys.argv[2])
                s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((address, port)); s.listen(4)
                except OSError as e:
                    print("unbound", e, flush=True); sys.exit()
                print("listening", flush=True)
                s.settimeout(4)
                try:
                    c, peer = s.accept(); print("accepted", peer[0], flush=True)
                except TimeoutError:
                    print("none", flush=True)
                """, c.topology.serverAddress(c.family), String(port + 1)], output: file)
            let ready = Date().addingTimeInterval(5)
            while process.isRunning, Date() < ready,
                  !((try? String(contentsOf: file, encoding: .utf8)) ?? "").contains("listening") {
                Thread.sleep(forTimeInterval: 0.05)
            }
            neighbourListener = (process, file)
        }
        let neighbourHost = c.active ? "server" : "client"
        let neighbour = try lab.probe(from: neighbourHost, to: target, port: port + 1)
        #expect(neighbour != "connected", "\(label) the \(neighbourHost) connected to [\(target)]:\(port + 1), next to the announced port")
        if let (process, file) = neighbourListener {
            let end = Date().addingTimeInterval(8)
            while process.isRunning, Date() < end { Thread.sleep(forTimeInterval: 0.05) }
            let heard = ((try? String(contentsOf: file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!heard.contains("accepted"), "\(label) the server's listener on port \(port + 1) was reached: \(heard)")
        }

        // Now the real transfer, on the announced port.
        _ = FileManager.default.createFile(atPath: go.path, contents: nil)
        let finish = Date().addingTimeInterval(30)
        while client.isRunning, Date() < finish { Thread.sleep(forTimeInterval: 0.05) }
        let text = clientOutput()
        #expect(!client.isRunning && client.terminationStatus == 0, "\(label) the transfer on the announced port failed:\n\(tail(text))\n--- server:\n\(tail(server.logText()))")
        let early = text.split(separator: "\n").filter { $0.hasPrefix("early ") }
        #expect(early.isEmpty, "\(label) connections reached the client's listeners before the transfer: \(early)")
        #expect((try? Data(contentsOf: local)) == server.content, "\(label) the file arrived changed or not at all")
        if let peer = captures(#"data-peer (\S+) (\d+)"#, in: text) {
            #expect(sameAddress(peer[0], c.topology.serverPublic(c.family)),
                    "\(label) the data connection was with \(peer[0]), not \(c.topology.serverPublic(c.family))")
        }
        let after = try lab.tunwall(["conntrack", "-L", "expect"])
        #expect(!after.stdout.contains("helper=ftp"), "\(label) the expectation is used up:\n\(after.stdout)")
    }
}

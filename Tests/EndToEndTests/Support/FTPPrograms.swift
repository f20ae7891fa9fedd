// FTP programs nobody here wrote, for LabFTPTests and FTPPeerLabTests: which
// of them are missing; vsftpd and pyftpdlib started in a lab's server
// namespace; curl, lftp and Python's ftplib run in its client namespace; the
// FTP lab itself and the file helpers these tests share. Every client runs
// under `timeout` with its own connect and transfer limits, so a firewall that
// loses the data connection costs seconds, never a hung suite. Debian's
// pyftpdlib and ftplib run with /usr/bin/python3 (the `python3` on PATH may be
// another Python).

import Foundation
import Testing
import TestSupport
import TestSeeds

let systemPython = "/usr/bin/python3"

/// The programs (Debian packages) the FTP lab tests run.
enum FTPPrograms {
    static var missing: [String] {
        var missing: [String] = []
        for (path, package) in [("/usr/sbin/vsftpd", "vsftpd"), ("/usr/bin/lftp", "lftp"), ("/usr/bin/curl", "curl"),
                                ("/usr/bin/timeout", "coreutils"), ("/usr/bin/ss", "iproute2"), (systemPython, "python3")]
        where !FileManager.default.isExecutableFile(atPath: path) {
            missing.append(package)
        }
        if FileManager.default.isExecutableFile(atPath: systemPython),
           (try? Tool.run(URL(fileURLWithPath: systemPython), ["-c", "import pyftpdlib"]))?.status != 0 {
            missing.append("python3-pyftpdlib")
        }
        return missing
    }

    static func require() throws {
        let missing = missing
        try #require(missing.isEmpty, "missing Debian packages: \(missing.joined(separator: " ")) (Scripts/test.sh installs them)")
    }
}

/// The first regex match's capture groups, or nil.
func captures(_ pattern: String, in text: String) -> [String]? {
    guard let regex = try? Regex(pattern), let match = text.firstMatch(of: regex) else { return nil }
    return (1..<match.output.count).map { match.output[$0].substring.map(String.init) ?? "" }
}

enum FTPFamily: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case ipv4 = "IPv4", ipv6 = "IPv6"
}

enum FTPServerKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case vsftpd, pyftpdlib
}

/// The command that sets up the data connection: who connects to whom, and
/// which address the control channel carries (PORT and 227 carry one, EPSV's
/// 229 only a port).
enum FTPMode: String, CaseIterable, Sendable {
    case pasv = "PASV", epsv = "EPSV", port = "PORT", eprt = "EPRT"
    var isActive: Bool { self == .port || self == .eprt }
}

enum FTPClientKind: String, CaseIterable, Sendable {
    case curl, lftp, ftplib

    /// What each client can be made to send. Over IPv6 there is only EPSV and
    /// EPRT (curl ignores --disable-epsv/--disable-eprt there, lftp and ftplib
    /// pick them by family); lftp has no switch for EPRT over IPv4, ftplib none
    /// for EPSV or EPRT over IPv4.
    func modes(_ family: FTPFamily) -> [FTPMode] {
        switch (self, family) {
        case (_, .ipv6): [.epsv, .eprt]
        case (.curl, .ipv4): [.pasv, .epsv, .port, .eprt]
        case (.lftp, .ipv4): [.pasv, .epsv, .port]
        case (.ftplib, .ipv4): [.pasv, .port]
        }
    }
}

enum FTPOperation: String, CaseIterable, Sendable {
    case retr = "RETR", stor = "STOR", list = "LIST", nlst = "NLST"
}

/// The topologies and who is where in each: the FTP server always runs on
/// host "server", the client on "client", the outsider (if any) on "outsider".
enum FTPTopology: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// Topologies/basic.json: no ruleset, no NAT; FTP works through it today.
    case plain
    /// Topologies/ftp-masquerade.json: the client behind masquerade.
    case masquerade
    /// Topologies/ftp-dnat.json: the server in a DMZ behind port forwarding.
    case dnat

    var file: String {
        switch self {
        case .plain: "Topologies/basic.json"
        case .masquerade: "Topologies/ftp-masquerade.json"
        case .dnat: "Topologies/ftp-dnat.json"
        }
    }

    /// The ruleset the topology loads, if any.
    var ruleset: String? {
        switch self {
        case .plain: nil
        case .masquerade: "Topologies/ftp-masquerade.nft"
        case .dnat: "Topologies/ftp-dnat.nft"
        }
    }

    /// The address the server listens on, on its own host.
    func serverAddress(_ family: FTPFamily) -> String {
        switch (self, family) {
        case (.dnat, .ipv4): "10.0.2.10"
        case (.dnat, .ipv6): "fd00:2::10"
        case (_, .ipv4): "203.0.113.10"
        case (_, .ipv6): "2001:db8:1::10"
        }
    }

    /// The server as the client sees it: what it dials, what a 227 must name,
    /// where active-mode data connections must come from.
    func serverPublic(_ family: FTPFamily) -> String {
        switch (self, family) {
        case (.dnat, .ipv4): "203.0.113.1"
        case (.dnat, .ipv6): "2001:db8:1::1"
        case (_, .ipv4): "203.0.113.10"
        case (_, .ipv6): "2001:db8:1::10"
        }
    }

    /// The client as the server sees it: the source of the control
    /// connection, and what a PORT or EPRT must name when it arrives.
    func clientPublic(_ family: FTPFamily) -> String {
        switch (self, family) {
        case (.plain, .ipv4): "10.0.1.2"
        case (.plain, .ipv6): "fd00:1::2"
        case (.masquerade, .ipv4): "203.0.113.1"
        case (.masquerade, .ipv6): "2001:db8:1::1"
        case (.dnat, .ipv4): "203.0.113.10"
        case (.dnat, .ipv6): "2001:db8:1::10"
        }
    }

    /// Whether the ruleset puts the FTP helper on port 21.
    var hasHelper: Bool { self != .plain }
}

// Test arguments and failure messages show the plain names.
extension FTPFamily { var testDescription: String { rawValue } }
extension FTPServerKind { var testDescription: String { rawValue } }
extension FTPTopology { var testDescription: String { rawValue } }

/// Two spellings of one address (2001:db8:1::1, 2001:0db8:1:0::1, ::ffff:203.0.113.1 for 203.0.113.1).
func sameAddress(_ a: String, _ b: String) -> Bool {
    func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let raw = withUnsafeBytes(of: &v6) { Array($0) }
        if raw.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] { return Array(raw.suffix(4)) }
        return raw
    }
    guard let x = bytes(a), let y = bytes(b) else { return false }
    return x == y
}

/// The last `count` lines of a text, for failure messages.
func tail(_ text: String, _ count: Int = 12) -> String {
    text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).suffix(count).joined(separator: "\n")
}

/// Writes a file readable by everybody (vsftpd serves anonymous users only world-readable files).
func writeShared(_ data: Data, to url: URL) throws {
    try data.write(to: url)
    try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: url.path)
}

func makeDirectory(_ url: URL, mode: Int = 0o755) throws {
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
}

/// `count` random bytes from the calling test's seed (TestSeed.swift), so a
/// transfer that failed can be replayed with the same content.
func randomBytes(_ count: Int, test: String = #function) throws -> Data {
    var random = SeededGenerator(seed: testSeed(0x6674_7000 ^ UInt64(count), test))
    return Data(random.bytes(count))
}

/// A lab up from one of the FTP topologies, with a temporary directory; `down()` removes both.
final class FTPLab {
    let name: String
    let topology: FTPTopology
    let directory: URL

    init(_ topology: FTPTopology, name: String) throws {
        self.name = name
        self.topology = topology
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-ftp-\(name)")
        try? FileManager.default.removeItem(at: directory)
        try makeDirectory(directory)
        let up = try Tool.run(Tool.binary, ["lab", "up", repository.appendingPathComponent(topology.file).path,
                                            "--name", name, "--daemon"])
        guard up.status == 0 else {
            down()
            throw FTPFailure("lab up \(topology.file) failed: \(up.stderr)")
        }
        // Nobody calls down() on a lab whose init threw: anything failing
        // after `lab up` takes the lab down here.
        do {
            try writeShared(Data(ftplibClient.utf8), to: clientScript)
        } catch {
            down()
            throw error
        }
    }

    /// Stops the lab (and whatever still runs in its namespaces), removes the directory.
    func down() { LabWorkspace.takeDown(name, directory) }

    var clientScript: URL { directory.appendingPathComponent("ftpclient.py") }

    func exec(_ host: String, _ command: [String]) throws -> Run { try Tool.labExec(name, host, command) }

    func tunwall(_ arguments: [String]) throws -> Run { try Tool.run(Tool.binary, arguments + ["--lab", name]) }

    /// A command left running on a host, its stdout and stderr going to files.
    func background(_ host: String, _ command: [String], output: URL) throws -> Process {
        try Tool.labExecInBackground(name, host, command, output: output)
    }

    /// A TCP connection attempt from a host, 2 s at most: "connected", "refused", "timeout" or the error.
    func probe(from host: String, to address: String, port: Int) throws -> String {
        let run = try exec(host, ["timeout", "-k", "1", "10", systemPython, "-c", """
            import socket, sys
            try:
                socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close(); print("connected")
            except ConnectionRefusedError:
                print("refused")
            except TimeoutError:
                print("timeout")
            except OSError as e:
                print(type(e).__name__, e.errno)
            """, address, String(port)])
        let answer = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return answer.isEmpty ? "no answer (\(run.status)): \(run.stderr)" : answer
    }
}

struct FTPFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// An FTP server in the lab's server namespace, with its tree:
/// ROOT/pub/file.bin (the content), ROOT/upload/ (writable by anonymous).
final class FTPServer {
    let kind: FTPServerKind
    let family: FTPFamily
    let root: URL
    let content: Data
    private let directory: URL
    private let process: Process
    private let pid: pid_t
    /// vsftpd's own log (every command and reply), or pyftpdlib's debug output.
    let log: URL
    /// What the server printed (vsftpd's "500 OOPS" lines go there).
    let output: URL

    var upload: URL { root.appendingPathComponent("upload") }

    nonisolated(unsafe) static var started = 0

    /// Starts the server on `address`:21 and waits until it listens (10 s at most).
    init(_ kind: FTPServerKind, family: FTPFamily, lab: FTPLab, address: String, content: Data) throws {
        self.kind = kind
        self.family = family
        self.content = content
        // A directory of its own per server started: a server that outlived its
        // test must not serve (or be mistaken for) this one.
        FTPServer.started += 1
        directory = lab.directory.appendingPathComponent("\(kind.rawValue)-\(family.rawValue)-\(FTPServer.started)")
        root = directory.appendingPathComponent("root")
        try? FileManager.default.removeItem(at: directory)
        // vsftpd refuses a chroot root its anonymous user could write to: the
        // root stays root's, 0755; uploads go into a subdirectory anybody may write.
        try makeDirectory(root.appendingPathComponent("pub"))
        try makeDirectory(root.appendingPathComponent("upload"), mode: 0o777)
        try writeShared(content, to: root.appendingPathComponent("pub/file.bin"))
        output = directory.appendingPathComponent("server.out")
        let pidFile = directory.appendingPathComponent("server.pid")

        let command: [String]
        switch kind {
        case .vsftpd:
            log = directory.appendingPathComponent("vsftpd.log")
            let empty = directory.appendingPathComponent("empty")
            try makeDirectory(empty)
            let config = directory.appendingPathComponent("vsftpd.conf")
            try writeShared(Data(Self.vsftpdConfig(family: family, address: address, root: root, empty: empty,
                                                   log: log).utf8), to: config)
            command = ["/usr/sbin/vsftpd", config.path]
        case .pyftpdlib:
            log = output
            // -D logs every command and reply; -w lets anonymous upload.
            command = [systemPython, "-m", "pyftpdlib", "-D", "-p", "21", "-i", address, "-w", "-d", root.path]
        }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        // The shell writes its pid, then becomes the server: that pid is the
        // server's, to stop it by.
        process = try lab.background("server", ["sh", "-c", "echo $$ > \"$0\"; exec \"$@\"", pidFile.path] + command,
                                     output: output)
        var started: pid_t = 0
        var listening = false
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, process.isRunning, !listening {
            // 0 until the file holds a positive pid; stop() signals only a positive one.
            if started == 0, let written = LabChecks.pid(inFile: pidFile.path) { started = written }
            let sockets = try lab.exec("server", ["ss", "-Hltnp", "sport = :21"])
            // Listening on this address, by this process (not one left over from
            // before), whose pid is known: stop() needs it.
            listening = sockets.stdout.split(separator: "\n").contains { line in
                started != 0 && line.contains(family == .ipv4 ? "\(address):21 " : "[\(address)]:21 ")
                    && line.contains("pid=\(started),")
            }
            if !listening { Thread.sleep(forTimeInterval: 0.05) }
        }
        pid = started
        guard listening else {
            stop()
            throw FTPFailure("\(kind.rawValue) (\(family.rawValue)) did not listen on \(address):21 within 10 s: "
                             + tail((try? String(contentsOf: output, encoding: .utf8)) ?? ""))
        }
    }

    /// The vsftpd configuration the tests use: anonymous only, chrooted to
    /// ROOT, uploads allowed (into ROOT/upload), PASV and PORT on, active data
    /// from port 20, every command and reply logged.
    static func vsftpdConfig(family: FTPFamily, address: String, root: URL, empty: URL, log: URL) -> String {
        let listen = family == .ipv4
            ? "listen=YES\nlisten_ipv6=NO\nlisten_address=\(address)"
            : "listen=NO\nlisten_ipv6=YES\nlisten_address6=\(address)"
        return """
            # One vsftpd per test, in the foreground, on one address and family.
            \(listen)
            background=NO
            # Anonymous only, no password asked, chrooted to anon_root (root's, 0755).
            anonymous_enable=YES
            local_enable=NO
            no_anon_password=YES
            anon_root=\(root.path)
            # Uploads into anon_root/upload (0777); uploaded files readable.
            write_enable=YES
            anon_upload_enable=YES
            anon_umask=022
            # Both data connection modes; active mode connects from port 20.
            pasv_enable=YES
            port_enable=YES
            connect_from_port_20=YES
            # Debian's default privilege-separation directory may not exist yet;
            # seccomp and the per-session PID/network namespaces stay off, so
            # every session process stays in the lab's namespace (lab down ends it).
            secure_chroot_dir=\(empty.path)
            seccomp_sandbox=NO
            isolate=NO
            isolate_network=NO
            # Every command and reply in our own log.
            xferlog_enable=YES
            vsftpd_log_file=\(log.path)
            log_ftp_protocol=YES
            # Nothing of the machine's own configuration.
            use_localtime=NO
            tcp_wrappers=NO

            """
    }

    /// The log, from byte `offset` on.
    func logText(from offset: Int = 0) -> String {
        let data = (try? Data(contentsOf: log)) ?? Data()
        return String(decoding: data.dropFirst(offset), as: UTF8.self)
    }

    var logSize: Int { ((try? Data(contentsOf: log)) ?? Data()).count }

    /// What the server printed, for failure messages.
    var outputText: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// Stops the server by its pid (SIGTERM, then SIGKILL after 2 s); its
    /// session processes end with the lab.
    func stop() {
        if pid > 0 {
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(2)
            while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning { kill(pid, SIGKILL) }
        }
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { process.terminate() }
    }
}

/// One client command: a transfer or listing by one client in one mode.
struct FTPClientCommand {
    let client: FTPClientKind
    let mode: FTPMode
    let operation: FTPOperation
    /// The server's address as the client dials it.
    let host: String
    let family: FTPFamily
    /// RETR, LIST, NLST: where the client writes; STOR: what it sends.
    let local: URL
    /// The remote path: pub/file.bin, pub, upload/NAME.
    let remote: String
    /// The client's whole-command limit in seconds.
    var seconds = 10

    /// The argv to run on the client host, under `timeout` (a few seconds more than the client's own limits).
    func argv(script: URL) -> [String] {
        let guardTime = ["timeout", "-k", "2", String(seconds + 10)]
        switch client {
        case .curl:
            let url = "ftp://" + (family == .ipv6 ? "[\(host)]" : host) + "/" + remote
            var arguments = ["curl", "-sS", "-v", "--connect-timeout", "5", "--max-time", String(seconds)]
            switch mode {
            // curl 7.74+ dials the control connection's peer after a 227
            // unless told to trust the address: a 227 left unrewritten must fail.
            case .pasv: arguments += ["--disable-epsv", "--no-ftp-skip-pasv-ip"]
            case .epsv: arguments += ["--ftp-pasv"]
            case .port: arguments += ["-P", "-", "--disable-eprt"]
            case .eprt: arguments += ["-P", "-"]
            }
            switch operation {
            case .retr: arguments += ["-o", local.path, url]
            case .stor: arguments += ["-T", local.path, url]
            case .list: arguments += ["-o", local.path, url + "/"]
            case .nlst: arguments += ["--list-only", "-o", local.path, url + "/"]
            }
            return guardTime + arguments
        case .lftp:
            let url = "ftp://" + (family == .ipv6 ? "[\(host)]" : host)
            let action = switch operation {
            case .retr: "get \(remote) -o \(local.path)"
            case .stor: "put \(local.path) -o \(remote)"
            case .list: "ls \(remote) > \(local.path)"
            case .nlst: "nlist \(remote) > \(local.path)"
            }
            // debug 5: the dialogue on stderr. One try, 5 s without progress
            // is a failure; no TLS; a 227's address used as it is (lftp
            // would otherwise replace an unroutable one with the peer's); no
            // switching to passive mode when active mode fails.
            let script = [
                "debug 5", "set cmd:fail-exit yes", "set net:timeout 5", "set net:max-retries 1",
                "set net:persist-retries 0", "set ftp:ssl-allow no", "set ftp:fix-pasv-address no",
                "set ftp:auto-passive-mode no",
                "set ftp:passive-mode \(mode.isActive ? "off" : "on")",
                "set ftp:prefer-epsv \(mode == .epsv ? "yes" : "no")",
                "open \(url)", action,
            ].joined(separator: "; ")
            return guardTime + ["lftp", "-c", script]
        case .ftplib:
            return guardTime + [systemPython, script.path, "transfer", host, mode.rawValue, operation.rawValue,
                                local.path, remote]
        }
    }
}

/// Python's ftplib as a command-line client. ftplib sends PASV and PORT over
/// IPv4, EPSV and EPRT over IPv6. Its dialogue (debug level 1) goes to
/// stderr; results go to stdout as "data-peer ADDRESS PORT" and "early ..." lines.
///   ftpclient.py transfer HOST MODE RETR|STOR|LIST|NLST LOCAL REMOTE
///   ftpclient.py pinhole HOST MODE STATEFILE GOFILE LOCAL REMOTE
/// `pinhole` announces the data connection (PORT/EPRT, or PASV/EPSV), writes
/// the port to STATEFILE and waits for GOFILE before it retrieves REMOTE over
/// it; meanwhile it also listens on the next port. Any connection that reached
/// either listener before GOFILE is reported as "early PEER PORT on LOCALPORT".
let ftplibClient = #"""
import ftplib, json, os, select, socket, sys, time

TIMEOUT = 5
result = sys.stdout
sys.stdout = sys.stderr  # ftplib prints its debug lines with print()


class FTP(ftplib.FTP):
    # Use a 227's address as announced (ftplib would otherwise dial the
    # control connection's peer and hide a 227 the firewall did not rewrite).
    trust_server_pasv_ipv4_address = True


def connect(host, mode):
    ftp = FTP(timeout=TIMEOUT)
    ftp.set_debuglevel(1)
    ftp.connect(host, 21)
    ftp.login()
    ftp.set_pasv(mode in ("PASV", "EPSV"))
    ftp.voidcmd("TYPE I")
    return ftp


def receive(conn, path):
    conn.settimeout(TIMEOUT)
    with open(path, "wb") as f:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            f.write(data)
    conn.close()


def transfer(host, mode, op, local, remote):
    ftp = connect(host, mode)
    conn = ftp.transfercmd(op + " " + remote)
    peer = conn.getpeername()
    if op == "STOR":
        with open(local, "rb") as f:
            conn.sendall(f.read())
        conn.close()
    else:
        receive(conn, local)
    ftp.voidresp()
    ftp.quit()
    print("data-peer", peer[0], peer[1], file=result)


def opening(ftp, command):
    resp = ftp.sendcmd(command)
    if resp[0] == "2":
        resp = ftp.getresp()
    if resp[0] != "1":
        raise ftplib.error_reply(resp)


def pinhole(host, mode, state_path, go_path, local, remote):
    ftp = connect(host, mode)
    listeners = []
    if mode in ("PORT", "EPRT"):
        data = ftp.makeport()  # PORT or EPRT sent, 200 received
        port = data.getsockname()[1]
        listeners.append(data)
        neighbour = socket.socket(ftp.af)
        try:
            neighbour.bind(("", port + 1))
            neighbour.listen(4)
            listeners.append(neighbour)
        except OSError:
            pass
        state = {"port": port, "neighbour": len(listeners) == 2}
    else:
        data_host, port = ftp.makepasv()  # PASV or EPSV sent, 227 or 229 read
        state = {"host": data_host, "port": port}
    with open(state_path + ".tmp", "w") as f:
        json.dump(state, f)
    os.rename(state_path + ".tmp", state_path)
    deadline = time.monotonic() + 60
    while not os.path.exists(go_path):
        if time.monotonic() > deadline:
            sys.exit("no go within 60 s")
        time.sleep(0.05)
    for listener in listeners:
        while select.select([listener], [], [], 0)[0]:
            conn, peer = listener.accept()
            print("early", peer[0], peer[1], "on", listener.getsockname()[1], file=result)
            conn.close()
    if listeners:
        opening(ftp, "RETR " + remote)
        data.settimeout(TIMEOUT)
        conn, peer = data.accept()
    else:
        conn = socket.create_connection((data_host, port), timeout=TIMEOUT)
        peer = conn.getpeername()
        opening(ftp, "RETR " + remote)
    receive(conn, local)
    ftp.voidresp()
    ftp.quit()
    print("data-peer", peer[0], peer[1], file=result)


if sys.argv[1] == "transfer":
    transfer(*sys.argv[2:7])
else:
    pinhole(*sys.argv[2:8])
"""#

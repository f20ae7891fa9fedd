// One FTP session of FTPServer, on its own thread: the control connection's
// commands in order, each answered, and the data connections they set up.
//
// Replies follow RFC 959 §4.2 and §5.4 (and vsftpd's texts, which people
// know). What matters for a firewall test is kept strict:
//
// - PORT and EPRT must name the control connection's client and a port of
//   1024 or more; anything else is "500 Illegal PORT command." (the FTP
//   bounce attack, RFC 2577 §3, and privileged ports); a passive data
//   connection must come from that client too, or it is refused with 425.
// - After "EPSV ALL" only EPSV may set up data connections (RFC 2428 §4).
// - A passive data connection that is already open when the transfer
//   command comes gets 125, otherwise 150 and then the wait (RFC 959 §4.2:
//   125 "Data connection already open; transfer starting", 150 "File status
//   okay; about to open data connection"); a data connection that cannot be
//   made is 425, one that breaks 426, and the end is 226.

#if canImport(Glibc)
import Glibc
#endif
import SystemIO
import Wire

final class FTPServerSession {
    let id: Int
    let control: FTPSocket
    let reader: FTPLineReader
    let configuration: FTPServerConfiguration
    let root: FTPRoot
    let log: FTPLogWriter
    /// The control connection's two ends (IPv4-mapped addresses as IPv4).
    let local: FTPEndpoint?
    let peer: FTPEndpoint?

    private var user: String?
    private var loggedIn = false
    private var cwd = "/"
    /// TYPE I rather than A; RFC 959 §3.1.1.1: "The default representation type is ASCII Non-print".
    private var binary = false
    private var epsvAll = false

    /// What the next transfer command uses: a listener (PASV, EPSV) or the
    /// client's port (PORT, EPRT).
    private enum DataSetup {
        case passive(FTPSocket)
        case active(FTPEndpoint)
    }
    private var dataSetup: DataSetup?

    /// Commands RFC 959 and its extensions define that this server does not do: 502, not 500.
    private static let unimplemented: Set<String> = [
        "ABOR", "ACCT", "APPE", "AUTH", "CCC", "DELE", "HELP", "LANG", "MDTM", "MKD", "MLSD", "MLST", "OPTS",
        "PBSZ", "PROT", "REIN", "REST", "RMD", "RNFR", "RNTO", "SITE", "SMNT", "STAT", "STOU", "XMKD", "XRMD",
    ]
    /// What a client may send before it has logged in.
    private static let beforeLogin: Set<String> = ["USER", "PASS", "QUIT", "FEAT", "SYST", "NOOP"]

    init(id: Int, control: FTPSocket, configuration: FTPServerConfiguration, root: FTPRoot, log: FTPLogWriter) {
        self.id = id
        self.control = control
        reader = FTPLineReader(control)
        self.configuration = configuration
        self.root = root
        self.log = log
        local = control.localEndpoint
        peer = control.peerEndpoint
    }

    private func note(_ text: String) {
        log.line("[\(id)] \(text)")
    }

    private var timeout: Double { configuration.timeout }

    func run() {
        note("session from \(peer.map(String.init(describing:)) ?? "?") to \(local.map(String.init(describing:)) ?? "?")")
        defer {
            dataSetup = nil
            control.close()
        }
        do {
            try reply(220, "tunwall FTP server ready.")
            while true {
                let line: String?
                do {
                    line = try reader.readLine(timeout: timeout)
                } catch where error.timedOut {
                    try reply(421, "Timeout.")
                    note("closed: silent for \(seconds(timeout))")
                    return
                } catch where error.lineTooLong {
                    try reply(500, "Command line too long.")
                    note("closed: \(error)")
                    return
                }
                guard let line else {
                    note("closed by the client")
                    return
                }
                guard try handle(line) else {
                    note("closed after QUIT")
                    return
                }
            }
        } catch {
            note("closed: \(error)")
        }
    }

    private func reply(_ code: Int, _ text: String) throws(FTPIOError) {
        let line = "\(code) \(text)"
        note("-> \(line)")
        try reader.send(line, timeout: timeout)
    }

    /// A multi-line reply (RFC 959 §4.2): "211-first", the middle lines, "211 last".
    private func reply(_ code: Int, lines: [String], last: String) throws(FTPIOError) {
        let all = lines.enumerated().map { $0.offset == 0 ? "\(code)-\($0.element)" : $0.element } + ["\(code) \(last)"]
        for line in all { note("-> \(line)") }
        try control.send(Array(all.map { $0 + "\r\n" }.joined().utf8), timeout: timeout)
    }

    /// Answers one command line; false once the session is to end.
    private func handle(_ line: String) throws(FTPIOError) -> Bool {
        let command = FTPCommandLine(line)
        note("<- " + (command.verb == "PASS" ? "PASS <hidden>" : line))
        let argument = command.argument
        if !loggedIn && !Self.beforeLogin.contains(command.verb) {
            try reply(530, "Please login with USER and PASS.")
            return true
        }
        switch command.verb {
        case "USER":
            loggedIn = false
            guard ["anonymous", "ftp"].contains(argument.lowercased()) else {
                user = nil
                try reply(530, "This FTP server is anonymous only.")
                return true
            }
            user = argument
            try reply(331, "Please specify the password.")
        case "PASS":
            if loggedIn {
                try reply(230, "Already logged in.")
            } else if user == nil {
                try reply(503, "Login with USER first.")
            } else {
                loggedIn = true
                try reply(230, "Login successful.")
            }
        case "QUIT":
            try reply(221, "Goodbye.")
            return false
        case "SYST":
            try reply(215, "UNIX Type: L8")
        case "FEAT":
            // RFC 2389 §3.2: each feature on a line of its own, starting with a space.
            try reply(211, lines: ["Features:", " EPRT", " EPSV", " PASV", " SIZE"], last: "End")
        case "NOOP":
            try reply(200, "NOOP ok.")
        case "TYPE":
            try type(argument)
        case "MODE":
            try argument.uppercased() == "S" ? reply(200, "Mode set to S.") : reply(504, "Bad MODE command.")
        case "STRU":
            try argument.uppercased() == "F" ? reply(200, "Structure set to F.") : reply(504, "Bad STRU command.")
        case "ALLO":
            try reply(202, "ALLO command ignored.")
        case "PWD", "XPWD":
            try reply(257, "\(quotedPathname(cwd)) is the current directory")
        case "CWD", "XCWD":
            try changeDirectory(argument)
        case "CDUP", "XCUP":
            try changeDirectory("..")
        case "PASV":
            try passive()
        case "EPSV":
            try extendedPassive(argument)
        case "PORT":
            try active(argument, extended: false)
        case "EPRT":
            try active(argument, extended: true)
        case "RETR":
            try retrieve(argument)
        case "STOR":
            try store(argument)
        case "LIST", "NLST":
            try list(argument, namesOnly: command.verb == "NLST")
        case "SIZE":
            try size(argument)
        case _ where Self.unimplemented.contains(command.verb):
            try reply(502, "Command not implemented.")
        default:
            try reply(500, "Unknown command.")
        }
        return true
    }

    // MARK: - Settings

    private func type(_ argument: String) throws(FTPIOError) {
        switch argument.uppercased() {
        case "A", "A N":
            binary = false
            try reply(200, "Switching to ASCII mode.")
        case "I", "L 8":
            binary = true
            try reply(200, "Switching to Binary mode.")
        case "":
            try reply(501, "TYPE needs an argument.")
        default:
            try reply(504, "Unrecognised TYPE command.")
        }
    }

    private func changeDirectory(_ argument: String) throws(FTPIOError) {
        let target = FTPRoot.virtualPath(argument, cwd: cwd)
        guard let local = root.existing(target), FTPRoot.isDirectory(local) else {
            try reply(550, "Failed to change directory.")
            return
        }
        cwd = target
        try reply(250, "Directory successfully changed.")
    }

    // MARK: - Setting up the data connection

    private func passive() throws(FTPIOError) {
        guard !epsvAll else { return try reply(501, "PASV not allowed after EPSV ALL.") }
        // A 227 names an IPv4 address (RFC 959); over IPv6, EPSV is the way.
        guard let local, local.address.isV4 else {
            return try reply(500, "PASV needs an IPv4 control connection; use EPSV.")
        }
        guard let listener = try openListener(on: local.address) else { return }
        var announced = FTPEndpoint(address: local.address, port: listener.port)
        if let address = configuration.publicAddress, address.isV4 { announced.address = address }
        try reply(227, "Entering Passive Mode (\(announced.portArgument ?? "")).")
    }

    private func extendedPassive(_ argument: String) throws(FTPIOError) {
        guard let local else { return try reply(425, "Cannot find the control connection's address.") }
        let family = local.address.isV4 ? "1" : "2"
        switch argument.uppercased() {
        case "ALL":
            epsvAll = true
            return try reply(200, "EPSV ALL ok.")
        case "", family:
            break
        case "1", "2":
            return try reply(522, "Network protocol not supported, use (\(family))")
        default:
            return try reply(501, "Bad EPSV command.")
        }
        guard let listener = try openListener(on: local.address) else { return }
        try reply(229, "Entering Extended Passive Mode (|||\(listener.port)|)")
    }

    /// A listener for one passive data connection on the control connection's
    /// own address (so the client reaches it by the same route); nil after a 425.
    private func openListener(on address: IPAddress) throws(FTPIOError) -> (socket: FTPSocket, port: UInt16)? {
        dataSetup = nil
        do {
            let socket = try FTPSocket.listen(on: FTPEndpoint(address: address, port: 0), backlog: 1)
            guard let port = socket.localEndpoint?.port else { throw FTPIOError("getsockname failed") }
            dataSetup = .passive(socket)
            return (socket, port)
        } catch {
            note("passive listener: \(error)")
            try reply(425, "Cannot open a passive listener.")
            return nil
        }
    }

    private func active(_ argument: String, extended: Bool) throws(FTPIOError) {
        let verb = extended ? "EPRT" : "PORT"
        guard !epsvAll else { return try reply(501, "\(verb) not allowed after EPSV ALL.") }
        let target: FTPEndpoint
        if extended {
            switch FTPEndpoint.parseEPRTArgument(argument) {
            case .success(let endpoint): target = endpoint
            case .failure(.unsupportedProtocol): return try reply(522, "Network protocol not supported, use (1,2)")
            case .failure(.syntax): return try reply(501, "Illegal EPRT command.")
            }
        } else {
            guard let endpoint = FTPEndpoint.parsePortArgument(argument) else {
                return try reply(501, "Illegal PORT command.")
            }
            target = endpoint
        }
        // RFC 2577 §3 (the bounce attack): a server "SHOULD NOT" connect
        // anywhere but to the client; §3 and vsftpd: nor to a privileged port.
        guard let peer, target.address == peer.address else {
            note("refused \(verb) to \(target): not the control connection's client \(peer.map { "\($0.address)" } ?? "?")")
            return try reply(500, "Illegal \(verb) command.")
        }
        guard target.port >= 1024 else {
            note("refused \(verb) to \(target): port below 1024")
            return try reply(500, "Illegal \(verb) command.")
        }
        dataSetup = .active(target)
        try reply(200, "\(verb) command successful. Consider using \(extended ? "EPSV" : "PASV").")
    }

    /// The data connection for a transfer: accepted (passive) or made
    /// (active), after the preliminary reply; nil after a 425, which it sent.
    private func openDataConnection(_ preliminary: String) throws(FTPIOError) -> FTPSocket? {
        guard let setup = dataSetup else {
            try reply(425, "Use PORT, EPRT, PASV or EPSV first.")
            return nil
        }
        dataSetup = nil
        switch setup {
        case .passive(let listener):
            let early = listener.hasPendingConnection
            if !early { try reply(150, preliminary) }
            let connection: FTPSocket
            do {
                connection = try listener.accept(timeout: timeout, what: "data connection")
            } catch {
                note("passive data connection: \(error)")
                try reply(425, "Failed to establish connection.")
                return nil
            }
            let from = connection.peerEndpoint
            guard let from, from.address == peer?.address else {
                note("refused the data connection from \(from.map { "\($0)" } ?? "?"): not the control connection's client")
                try reply(425, "Security: Bad IP connecting.")
                return nil
            }
            note("data connection from \(from) to \(connection.localEndpoint.map { "\($0)" } ?? "?") (passive)")
            if early { try reply(125, "Data connection already open; transfer starting.") }
            return connection
        case .active(let target):
            try reply(150, preliminary)
            let source = local.map { FTPEndpoint(address: $0.address, port: configuration.activeFromPort20 ? 20 : 0) }
            do {
                let connection = try FTPSocket.connect(to: target, from: source, reuseAddress: configuration.activeFromPort20,
                                                       timeout: timeout)
                note("data connection from \(connection.localEndpoint.map { "\($0)" } ?? "?") to \(target) (active)")
                return connection
            } catch {
                note("active data connection: \(error)")
                try reply(425, "Failed to establish connection.")
                return nil
            }
        }
    }

    // MARK: - Transfers

    private func retrieve(_ argument: String) throws(FTPIOError) {
        let path = FTPRoot.virtualPath(argument, cwd: cwd)
        guard dataSetup != nil else { return try reply(425, "Use PORT, EPRT, PASV or EPSV first.") }
        var info = stat()
        guard !argument.isEmpty, let local = root.existing(path), stat(local, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            dataSetup = nil
            return try reply(550, "Failed to open file.")
        }
        let file = open(local, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else {
            dataSetup = nil
            return try reply(550, "Failed to open file.")
        }
        defer { close(file) }
        let mode = binary ? "BINARY" : "ASCII"
        guard let data = try openDataConnection("Opening \(mode) mode data connection for \(path) (\(info.st_size) bytes).") else {
            return
        }
        var translation = binary ? nil : ASCIITranslation()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var sent = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                note("read \(local): \(String(cString: strerror(errno)))")
                data.close()
                return try reply(451, "Local error in processing.")
            }
            if n == 0 { break }
            do {
                if let wire = translation?.toNetwork(chunk[..<n]) {
                    try data.send(wire, timeout: timeout)
                } else {
                    try data.send(chunk[..<n], timeout: timeout)
                }
            } catch {
                note("data connection: \(error) after \(sent) bytes")
                data.close()
                return try reply(426, "Failure writing network stream.")
            }
            sent += n
        }
        data.close()
        note("sent \(path): \(sent) bytes")
        try reply(226, "Transfer complete.")
    }

    private func store(_ argument: String) throws(FTPIOError) {
        let path = FTPRoot.virtualPath(argument, cwd: cwd)
        guard dataSetup != nil else { return try reply(425, "Use PORT, EPRT, PASV or EPSV first.") }
        // O_NOFOLLOW: a symbolic link in the tree is not a way out of it.
        guard !argument.isEmpty, let local = root.creatable(path) else {
            dataSetup = nil
            return try reply(553, "Could not create file.")
        }
        let file = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard file >= 0 else {
            note("open \(local): \(String(cString: strerror(errno)))")
            dataSetup = nil
            return try reply(553, "Could not create file.")
        }
        defer { close(file) }
        guard let data = try openDataConnection("Ok to send data.") else { return }
        defer { data.close() }
        var translation = binary ? nil : ASCIITranslation()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var received = 0
        while true {
            let n: Int
            do {
                n = try data.receive(into: &chunk, timeout: timeout)
            } catch {
                note("data connection: \(error) after \(received) bytes")
                return try reply(426, "Failure reading network stream.")
            }
            let bytes = translation?.fromNetwork(chunk[..<n], end: n == 0) ?? Array(chunk[..<n])
            do {
                try FileIO.writeAll(file, bytes, name: local)
            } catch {
                note("\(error)")
                return try reply(451, "Failure writing to local file.")
            }
            if n == 0 { break }
            received += n
        }
        note("received \(path): \(received) bytes")
        try reply(226, "Transfer complete.")
    }

    private func list(_ argument: String, namesOnly: Bool) throws(FTPIOError) {
        // Clients send ls options ("LIST -a", "LIST -la pub"); they are not paths.
        let words = argument.split(separator: " ", omittingEmptySubsequences: true)
        let pathArgument = words.drop { $0.hasPrefix("-") }.joined(separator: " ")
        let path = FTPRoot.virtualPath(pathArgument, cwd: cwd)
        guard dataSetup != nil else { return try reply(425, "Use PORT, EPRT, PASV or EPSV first.") }
        guard let local = root.existing(path), let entries = FTPListing.entries(local) else {
            dataSetup = nil
            return try reply(550, "Failed to list directory.")
        }
        let now = time(nil)
        let lines = entries.map { namesOnly ? $0.name : FTPListing.longLine($0, now: now) }
        guard let data = try openDataConnection("Here comes the directory listing.") else { return }
        do {
            try data.send(Array(lines.map { $0 + "\r\n" }.joined().utf8), timeout: timeout)
        } catch {
            note("data connection: \(error)")
            data.close()
            return try reply(426, "Failure writing network stream.")
        }
        data.close()
        try reply(226, "Directory send OK.")
    }

    private func size(_ argument: String) throws(FTPIOError) {
        var info = stat()
        guard let local = root.existing(FTPRoot.virtualPath(argument, cwd: cwd)), stat(local, &info) == 0,
              (info.st_mode & S_IFMT) == S_IFREG else {
            return try reply(550, "Could not get file size.")
        }
        try reply(213, "\(info.st_size)")
    }
}

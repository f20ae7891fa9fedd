// `tunwall ftp serve|get|put|ls`: the lab's own FTP server and client
// (Lab/FTPPeers), so that a demonstration of the FTP helper needs only this
// binary and iproute2. They are run inside lab hosts,
//
//   tunwall lab exec --lab demo server -- /path/to/tunwall ftp serve --listen 203.0.113.10 --root /srv/ftp
//   tunwall lab exec --lab demo client -- /path/to/tunwall ftp get ftp://203.0.113.10/pub/file.bin --mode active --transcript
//
// Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.
// (The type is FTPPeerCommand: the FTP module already has an FTPCommand.)

#if canImport(Glibc)
import Glibc
#endif
import FTPPeers
import Lab
import Wire
import SystemIO

enum FTPPeerCommand {
    static let usages = [
        "ftp serve --listen ADDR[:PORT] --root DIR [--public ADDR] [--active-from-port-20] [--log FILE] [--once N] [--timeout S]",
        "ftp get URL [--out FILE|-] [--mode MODE] [--timeout S] [--transcript]",
        "ftp put URL --in FILE [--mode MODE] [--timeout S] [--transcript]",
        "ftp ls URL [--names] [--out FILE|-] [--mode MODE] [--timeout S] [--transcript]",
    ]

    static let details = """
    serve: an FTP server for anonymous users (RFC 959; EPSV and EPRT of RFC 2428)
      on ADDR, port 21 unless given ([::] takes IPv4 too), serving DIR and
      nothing outside it. --public ADDR: what a 227 reply to PASV names.
      --active-from-port-20: active-mode data connections leave from port 20
      (needs root). Every command and reply is logged on stderr, or appended
      to FILE. --once N: exit after N sessions. --timeout S: idle and data
      timeout (default 60).
    get, put, ls: an FTP client: anonymous login, one transfer (RETR, STOR, LIST
      or with --names NLST). URL: ftp://HOST[:PORT]/PATH, or HOST[:PORT] PATH; HOST
      is an IPv4 address or an [IPv6] one. MODE: passive (PASV), epsv (EPSV, the
      default), active (PORT), eprt (EPRT). get writes to the path's last
      component unless --out names a file (- for stdout); put stores FILE under
      its own name when the path ends with "/"; ls prints to stdout. Each wait
      lasts at most S seconds (default 15). --transcript prints the control
      dialogue on stdout ("-> PORT ...", "<- 200 ...") and, at the end, the
      data connection.
    """

    /// The options get, put and ls share.
    static let clientOptions: [OptionSpec] = [
        .valued("--mode", value: "MODE", help: "passive, epsv (default), active or eprt"),
        .valued("--timeout", value: "S", help: "seconds each wait lasts at most (default 15)"),
        .flag("--transcript", help: "print the control dialogue and the data connection on stdout"),
    ]

    static func seconds(_ parsed: ParsedArguments, default value: Double) -> Double? {
        guard let text = parsed.value("--timeout") else { return value }
        guard let number = Double(text), number > 0, number <= 86_400 else {
            _ = Commands.usageError(parsed, "--timeout: \"\(text)\" is not a number of seconds (0 < S <= 86400)")
            return nil
        }
        return number
    }

    // MARK: - serve

    static func serve(_ parsed: ParsedArguments) -> Int32 {
        guard parsed.words.isEmpty else { return Commands.usageError(parsed, "unexpected argument '\(parsed.words[0])'") }
        guard let listenText = parsed.value("--listen"), let root = parsed.value("--root") else {
            return Commands.usageError(parsed, "needs --listen and --root")
        }
        guard let listen = FTPEndpoint.parse(listenText, defaultPort: 21) else {
            return Commands.usageError(parsed, "--listen: \"\(listenText)\" is not ADDR, ADDR:PORT or [IPv6]:PORT")
        }
        var publicAddress: IPAddress?
        if let text = parsed.value("--public") {
            guard let address = IPAddress(text) else {
                return Commands.usageError(parsed, "--public: \"\(text)\" is not an IP address")
            }
            publicAddress = address
        }
        var once: Int?
        if let text = parsed.value("--once") {
            guard let count = Int(text), count >= 1 else {
                return Commands.usageError(parsed, "--once: \"\(text)\" is not a number of sessions (1 or more)")
            }
            once = count
        }
        guard let timeout = seconds(parsed, default: 60) else { return 2 }
        let configuration = FTPServerConfiguration(
            listen: listen, root: root, publicAddress: publicAddress,
            activeFromPort20: parsed.has("--active-from-port-20"), sessionLimit: once, timeout: timeout,
            log: parsed.value("--log").map { .file($0) } ?? .standardError)
        do {
            try FTPServer(configuration).run()
            return 0
        } catch {
            Output.error("tunwall ftp serve: \(error)")
            return 1
        }
    }

    // MARK: - get, put, ls

    static func get(_ parsed: ParsedArguments) -> Int32 { client("get", parsed) }
    static func put(_ parsed: ParsedArguments) -> Int32 { client("put", parsed) }
    static func ls(_ parsed: ParsedArguments) -> Int32 { client("ls", parsed) }

    static func client(_ subcommand: String, _ parsed: ParsedArguments) -> Int32 {
        guard (1...2).contains(parsed.words.count) else {
            return Commands.usageError(parsed, parsed.words.isEmpty ? "missing the URL" : "too many arguments")
        }
        let location: FTPLocation
        do {
            location = try FTPLocation.parse(parsed.words[0], path: parsed.words.count == 2 ? parsed.words[1] : nil)
        } catch {
            return Commands.usageError(parsed, "\(error)")
        }
        let modeText = parsed.value("--mode") ?? "epsv"
        guard let mode = FTPDataMode(rawValue: modeText) else {
            return Commands.usageError(parsed, "--mode: \"\(modeText)\" is not passive, epsv, active or eprt")
        }
        guard let timeout = seconds(parsed, default: 15) else { return 2 }

        let output = parsed.value("--out")
        let operation: FTPClientOperation
        switch subcommand {
        case "get":
            let name = location.path.split(separator: "/").last.map(String.init)
            guard !location.path.hasSuffix("/"), let name else {
                return Commands.usageError(parsed, "the URL names no file")
            }
            operation = .get(remote: location.path, localFile: output == "-" ? nil : output ?? name)
        case "put":
            guard let file = parsed.value("--in") else { return Commands.usageError(parsed, "needs --in FILE") }
            var remote = location.path
            if remote.isEmpty || remote.hasSuffix("/") { remote += file.split(separator: "/").last.map(String.init) ?? file }
            operation = .put(remote: remote, localFile: file)
        default:
            operation = .list(remote: location.path.isEmpty ? nil : location.path, namesOnly: parsed.has("--names"))
        }

        let transcript = parsed.has("--transcript")
        var client = FTPClient(server: location.server, mode: mode, timeout: timeout)
        if transcript {
            client.onTranscriptLine = { line in Output.unbuffered(line + "\n", to: STDOUT_FILENO) }
        }
        let result: FTPTransferResult
        do {
            result = try client.transfer(operation)
        } catch {
            Output.error("tunwall ftp: \(error)")
            return 1
        }
        if case .get(_, nil) = operation { _ = write(result.data, to: STDOUT_FILENO) }
        if case .list = operation {
            if let output, output != "-" {
                let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd >= 0, write(result.data, to: fd) else {
                    Output.error("tunwall ftp: \(output): \(String(cString: strerror(errno)))")
                    if fd >= 0 { close(fd) }
                    return 1
                }
                close(fd)
            } else {
                _ = write(result.data, to: STDOUT_FILENO)
            }
        }
        if transcript {
            // Who connected to whom: the server to us in active modes.
            let (from, to) = mode.isActive ? (result.dataRemote, result.dataLocal) : (result.dataLocal, result.dataRemote)
            let verb = if case .put = operation { "sent" } else { "received" }
            Output.unbuffered("== \(result.byteCount) bytes \(verb); data connection \(from) → \(to)\n", to: 1)
        }
        return 0
    }

    /// All of `bytes` to `fd` (binary data: Output's helpers take text); false on an error.
    static func write(_ bytes: [UInt8], to fd: Int32) -> Bool {
        FileIO.writeAllOrGiveUp(fd, bytes)
    }
}

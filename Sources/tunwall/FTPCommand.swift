// `tunwall ftp serve|get|put|ls`: the lab's own FTP server and client
// (Lab/FTPPeers), so that a demonstration of the FTP helper needs only this
// binary and iproute2. Not in `tunwall --help`: they are run inside lab hosts,
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
    static let usage = """
    Usage:
      tunwall ftp serve --listen ADDR[:PORT] --root DIR [--public ADDR] [--active-from-port-20]
                        [--log FILE] [--once N] [--timeout S]
          An FTP server for anonymous users (RFC 959; EPSV and EPRT of RFC 2428)
          on ADDR, port 21 unless given ([::] takes IPv4 too), serving DIR and
          nothing outside it. --public ADDR: what a 227 reply to PASV names.
          --active-from-port-20: active-mode data connections leave from port 20
          (needs root). Every command and reply is logged on stderr, or appended
          to FILE. --once N: exit after N sessions. --timeout S: idle and data
          timeout (default 60).
      tunwall ftp get URL [--out FILE|-] [--mode MODE] [--timeout S] [--transcript]
      tunwall ftp put URL --in FILE [--mode MODE] [--timeout S] [--transcript]
      tunwall ftp ls URL [--names] [--out FILE|-] [--mode MODE] [--timeout S] [--transcript]
          An FTP client: anonymous login, one transfer (RETR, STOR, LIST or with
          --names NLST). URL: ftp://HOST[:PORT]/PATH, or HOST[:PORT] PATH; HOST is
          an IPv4 address or an [IPv6] one. MODE: passive (PASV), epsv (EPSV, the
          default), active (PORT), eprt (EPRT). get writes to the path's last
          component unless --out names a file (- for stdout); put stores FILE under
          its own name when the path ends with "/"; ls prints to stdout. Each wait
          lasts at most S seconds (default 15). --transcript prints the control
          dialogue on stdout ("-> PORT ...", "<- 200 ...") and, at the end, the
          data connection.
    """

    static func run(_ arguments: [String]) -> Int32 {
        guard let subcommand = arguments.first else {
            return usageError("'ftp' needs a subcommand: serve, get, put or ls\n\n\(usage)")
        }
        let rest = Array(arguments.dropFirst())
        switch subcommand {
        case "serve": return serve(rest)
        case "get", "put", "ls": return client(subcommand, rest)
        case "help", "--help", "-h":
            Output.line(usage)
            return 0
        default:
            return usageError("unknown ftp subcommand '\(subcommand)' (serve, get, put, ls)")
        }
    }

    /// As Commands.usageError, pointing to this usage: `tunwall --help` does not show these commands.
    static func usageError(_ message: String) -> Int32 {
        Output.error("tunwall: \(message)\nRun 'tunwall ftp --help' for usage.")
        return 2
    }

    // MARK: - Options

    /// The options given, and the words that are not options.
    struct Parsed {
        var values: [String: String] = [:]
        var flags: Set<String> = []
        var words: [String] = []
    }

    /// "--name VALUE" or "--name=VALUE" for `valued`, "--name" for `flags`; nil after a usage error.
    static func parse(_ arguments: [String], valued: Set<String>, flags: Set<String>, usage: String) -> Parsed? {
        var parsed = Parsed()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else {
                parsed.words.append(argument)
                continue
            }
            var name = argument
            var value: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            if flags.contains(name), value == nil {
                parsed.flags.insert(name)
            } else if valued.contains(name) {
                if value == nil {
                    guard index < arguments.count else {
                        _ = usageError("\(name) needs a value; \(usage)")
                        return nil
                    }
                    value = arguments[index]
                    index += 1
                }
                parsed.values[name] = value
            } else {
                _ = usageError("ftp: unknown option '\(argument)'; \(usage)")
                return nil
            }
        }
        return parsed
    }

    static func seconds(_ parsed: Parsed, default value: Double, usage: String) -> Double? {
        guard let text = parsed.values["--timeout"] else { return value }
        guard let number = Double(text), number > 0, number <= 86_400 else {
            _ = usageError("--timeout: \"\(text)\" is not a number of seconds (0 < S <= 86400); \(usage)")
            return nil
        }
        return number
    }

    // MARK: - serve

    private static let serveUsage = "usage: tunwall ftp serve --listen ADDR[:PORT] --root DIR [--public ADDR] "
        + "[--active-from-port-20] [--log FILE] [--once N] [--timeout S]"

    static func serve(_ arguments: [String]) -> Int32 {
        guard let parsed = parse(arguments, valued: ["--listen", "--root", "--public", "--log", "--once", "--timeout"],
                                 flags: ["--active-from-port-20"], usage: serveUsage) else { return 2 }
        guard parsed.words.isEmpty else { return usageError("ftp serve: unexpected argument '\(parsed.words[0])'; \(serveUsage)") }
        guard let listenText = parsed.values["--listen"], let root = parsed.values["--root"] else {
            return usageError("ftp serve needs --listen and --root; \(serveUsage)")
        }
        guard let listen = FTPEndpoint.parse(listenText, defaultPort: 21) else {
            return usageError("--listen: \"\(listenText)\" is not ADDR, ADDR:PORT or [IPv6]:PORT; \(serveUsage)")
        }
        var publicAddress: IPAddress?
        if let text = parsed.values["--public"] {
            guard let address = IPAddress(text) else {
                return usageError("--public: \"\(text)\" is not an IP address; \(serveUsage)")
            }
            publicAddress = address
        }
        var once: Int?
        if let text = parsed.values["--once"] {
            guard let count = Int(text), count >= 1 else {
                return usageError("--once: \"\(text)\" is not a number of sessions (1 or more); \(serveUsage)")
            }
            once = count
        }
        guard let timeout = seconds(parsed, default: 60, usage: serveUsage) else { return 2 }
        let configuration = FTPServerConfiguration(
            listen: listen, root: root, publicAddress: publicAddress,
            activeFromPort20: parsed.flags.contains("--active-from-port-20"), sessionLimit: once, timeout: timeout,
            log: parsed.values["--log"].map { .file($0) } ?? .standardError)
        do {
            try FTPServer(configuration).run()
            return 0
        } catch {
            Output.error("tunwall ftp serve: \(error)")
            return 1
        }
    }

    // MARK: - get, put, ls

    static func client(_ subcommand: String, _ arguments: [String]) -> Int32 {
        let usage = switch subcommand {
        case "get": "usage: tunwall ftp get URL [--out FILE|-] [--mode MODE] [--timeout S] [--transcript]"
        case "put": "usage: tunwall ftp put URL --in FILE [--mode MODE] [--timeout S] [--transcript]"
        default: "usage: tunwall ftp ls URL [--names] [--out FILE|-] [--mode MODE] [--timeout S] [--transcript]"
        }
        var valued: Set<String> = ["--mode", "--timeout"]
        var flags: Set<String> = ["--transcript"]
        switch subcommand {
        case "get": valued.insert("--out")
        case "put": valued.insert("--in")
        default:
            valued.insert("--out")
            flags.insert("--names")
        }
        guard let parsed = parse(arguments, valued: valued, flags: flags, usage: usage) else { return 2 }
        guard (1...2).contains(parsed.words.count) else {
            return usageError("ftp \(subcommand): \(parsed.words.isEmpty ? "missing the URL" : "too many arguments"); \(usage)")
        }
        let location: FTPLocation
        do {
            location = try FTPLocation.parse(parsed.words[0], path: parsed.words.count == 2 ? parsed.words[1] : nil)
        } catch {
            return usageError("ftp \(subcommand): \(error); \(usage)")
        }
        let modeText = parsed.values["--mode"] ?? "epsv"
        guard let mode = FTPDataMode(rawValue: modeText) else {
            return usageError("--mode: \"\(modeText)\" is not passive, epsv, active or eprt; \(usage)")
        }
        guard let timeout = seconds(parsed, default: 15, usage: usage) else { return 2 }

        let output = parsed.values["--out"]
        let operation: FTPClientOperation
        switch subcommand {
        case "get":
            let name = location.path.split(separator: "/").last.map(String.init)
            guard !location.path.hasSuffix("/"), let name else {
                return usageError("ftp get: the URL names no file; \(usage)")
            }
            operation = .get(remote: location.path, localFile: output == "-" ? nil : output ?? name)
        case "put":
            guard let file = parsed.values["--in"] else { return usageError("ftp put needs --in FILE; \(usage)") }
            var remote = location.path
            if remote.isEmpty || remote.hasSuffix("/") { remote += file.split(separator: "/").last.map(String.init) ?? file }
            operation = .put(remote: remote, localFile: file)
        default:
            operation = .list(remote: location.path.isEmpty ? nil : location.path, namesOnly: parsed.flags.contains("--names"))
        }

        let transcript = parsed.flags.contains("--transcript")
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

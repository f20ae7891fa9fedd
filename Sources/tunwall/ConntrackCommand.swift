// `tunwall conntrack`: conntrack-tools' command line (ConntrackQuery reads
// it), answered by a running firewall over its control socket (`--socket
// PATH`, `--lab NAME`, or the only lab up, or `tunwall run`'s default socket).
// What it prints, and its exit status, are conntrack-tools 1.4.7's: entries
// on stdout; on stderr "conntrack vVERSION (tunwall): 3 flow entries have
// been deleted." (conntrack-tools' "%s v%s (%s): " prefix, with tunwall's
// name and version); exit 1 when -D or -U matched nothing, 2 on a usage error
// (with conntrack-tools' message and "Try ... for more information.").

#if canImport(Glibc)
import Glibc
#endif
import Conntrack
import Firewall

enum ConntrackCommand {
    static let usages = [
        "conntrack -L [conntrack|expect] [FILTERS] [--socket PATH | --lab NAME]",
        "conntrack -D [conntrack|expect] [FILTERS] [--socket PATH | --lab NAME]",
        "conntrack -U [FILTERS] [-m MARK] [-t SECONDS] [--socket PATH | --lab NAME]",
        "conntrack -E [FILTERS] [-e NEW,UPDATE,DESTROY] [--socket PATH | --lab NAME]",
        "conntrack -C|-F|-S [conntrack|expect] [--socket PATH | --lab NAME]",
    ]

    static let options: [OptionSpec] = [
        .flag("-L", "--dump", help: "list connections (or expectations)"),
        .flag("-C", "--count", help: "count them"),
        .flag("-D", "--delete", help: "delete the matching ones"),
        .flag("-F", "--flush", help: "delete them all"),
        .flag("-U", "--update", help: "set the mark (-m) or the timeout (-t) of the matching connections"),
        .flag("-S", "--stats", help: "statistics"),
        .flag("-E", "--event", help: "follow events until Ctrl-C"),
        .valued("-p", "--protonum", "--proto", value: "PROTO", help: "layer 4 protocol: tcp, udp, icmp, icmpv6 or a number"),
        .valued("-f", "--family", value: "FAMILY", help: "ipv4 or ipv6"),
        .valued("-s", "--src", "--orig-src", value: "ADDR[/LEN]", help: "source address, original direction"),
        .valued("-d", "--dst", "--orig-dst", value: "ADDR[/LEN]", help: "destination address, original direction"),
        .valued("-r", "--reply-src", value: "ADDR[/LEN]", help: "source address, reply direction"),
        .valued("-q", "--reply-dst", value: "ADDR[/LEN]", help: "destination address, reply direction"),
        .valued("--sport", "--orig-port-src", value: "PORT", help: "source port, original direction (after -p)"),
        .valued("--dport", "--orig-port-dst", value: "PORT", help: "destination port, original direction (after -p)"),
        .valued("--reply-port-src", value: "PORT", help: "source port, reply direction (after -p)"),
        .valued("--reply-port-dst", value: "PORT", help: "destination port, reply direction (after -p)"),
        .valued("--state", value: "STATE", help: "TCP state, e.g. ESTABLISHED (after -p tcp)"),
        .valued("-w", "--zone", value: "ZONE", help: "conntrack zone (tunwall has zone 0 only)"),
        .valued("-m", "--mark", value: "MARK[/MASK]", help: "match the mark; with -U, set it"),
        .valued("-t", "--timeout", value: "SECONDS", help: "with -U, set the timeout"),
        .valued("-e", "--event-mask", value: "EVENTS", help: "with -E: NEW, UPDATE, DESTROY (comma-separated) or ALL"),
    ] + OptionSpec.target

    static let details = """
    As conntrack-tools 1.4.7: -F, -C and -S take no filters; the port options
    and --state exist after -p only; -D and -U exit 1 when nothing matched.
    The expect table takes -p, -f, -s, -d and --dport (of the expected
    connection) with -L, -D and -E (conntrack-tools' takes none), and
    deleting a connection deletes the expectations it made.
    """

    /// conntrack-tools' message prefix, "%s v%s (%s): ", with tunwall's name and version.
    static let prefix = "conntrack v\(Commands.version) (tunwall): "

    /// `tunwall --parse-only conntrack ...`: 0 when conntrack-tools' grammar
    /// reads the line, else its usage error.
    static func check(_ arguments: [String]) -> Int32 {
        switch splitTarget(arguments) {
        case .success(let split):
            if case .failure(let error) = ConntrackQuery.parse(split.words) { return usageError(error) }
            return 0
        case .failure(let error):
            return usageError(error)
        }
    }

    /// tunwall's --socket/--lab taken out of conntrack-tools' words.
    private static func splitTarget(_ arguments: [String])
        -> Result<(words: [String], socket: String?, lab: String?), ConntrackUsageError> {
        var words: [String] = []
        var socket: String?, lab: String?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            guard name == "--socket" || name == "--lab" else {
                words.append(argument)
                continue
            }
            var value: String?
            if name != argument {
                value = String(argument.dropFirst(name.count + 1))
            } else if index < arguments.count {
                value = arguments[index]
                index += 1
            }
            guard let value else { return .failure(ConntrackUsageError("option `\(name)' requires an argument")) }
            if name == "--socket" { socket = value } else { lab = value }
        }
        return .success((words, socket, lab))
    }

    static func run(_ arguments: [String]) -> Int32 {
        // conntrack with no arguments prints its help and exits 0, as with -h anywhere.
        guard !arguments.isEmpty, !arguments.contains("-h"), !arguments.contains("--help") else {
            Output.line(CommandTable.spec(["conntrack"])?.help ?? "")
            return 0
        }
        let words: [String], socket: String?, lab: String?
        switch splitTarget(arguments) {
        case .success(let split): (words, socket, lab) = split
        case .failure(let error): return usageError(error)
        }
        let query: ConntrackQuery
        switch ConntrackQuery.parse(words) {
        case .success(let parsed): query = parsed
        case .failure(let error): return usageError(error)
        }
        guard let path = ControlCommands.socketPath(socket: socket, lab: lab, usageError: {
            _ = usageError(ConntrackUsageError($0))
        }) else { return 2 }
        if query.command == .events {
            // tunwall makes no expectation events; the firewall refuses them too.
            guard query.table == .conntrack else {
                message("Operation failed: Operation not supported")
                return 1
            }
            return follow(query, path)
        }
        guard let response = ControlCommands.ask(.conntrack(query), path) else { return 1 }
        // conntrack -F prints no entries, only its message.
        if query.command != .flush { print(response, terminator: "") }
        // -o json is for scripts: the array alone, no message.
        if query.json { return 0 }
        let count = response.split(separator: "\n").count
        let entries = query.table == .conntrack ? "flow entries" : "expectations"
        switch query.command {
        case .list:
            message("\(count) \(entries) have been shown.")
        case .delete:
            message("\(count) \(entries) have been deleted.")
            return count == 0 ? 1 : 0
        case .update:
            message("\(count) flow entries have been updated.")
            return count == 0 ? 1 : 0
        case .flush:
            message(query.table == .conntrack ? "connection tracking table has been emptied." : "expectation table has been emptied.")
        case .count, .stats, .events:
            break
        }
        return 0
    }

    /// conntrack-tools' messages go to stderr.
    static func message(_ text: String) {
        Output.error(prefix + text)
    }

    /// Exit status 2 with conntrack-tools' message and its pointer to the
    /// help; an unknown option also gets the nearest valid one.
    static func usageError(_ error: ConntrackUsageError) -> Int32 {
        var text = error.message
        if let option = error.unknownOption {
            if ConntrackQuery.spellings.contains(option) {
                text += " (it follows -p: -p tcp \(option) ...)"
            } else if let nearest = CommandSpec.nearest(to: option, among: ConntrackQuery.spellings + ["--socket", "--lab"]) {
                text += " (did you mean `\(nearest)'?)"
            }
        }
        message(text)
        Output.error("Try `tunwall conntrack -h' or 'tunwall conntrack --help' for more information.")
        return 2
    }

    // MARK: - -E

    /// conntrack -E: events as they happen, until the firewall stops or
    /// Ctrl-C / SIGTERM end us; then "N flow events have been shown." as
    /// conntrack-tools prints it when interrupted.
    static func follow(_ query: ConntrackQuery, _ path: String) -> Int32 {
        EventFooter.update(0)
        signal(SIGINT, EventFooter.handler)
        signal(SIGTERM, EventFooter.handler)
        ControlCommands.unblockStopSignals()
        var shown = 0
        do {
            try ControlRequest.conntrack(query).stream(from: path) { text in
                Output.unbuffered(text, to: 1)
                shown += text.utf8.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
                EventFooter.update(shown)
            }
        } catch {
            Output.error("tunwall: \(error) (is the firewall running?)")
            return 1
        }
        message("\(shown) flow events have been shown.")
        return 0
    }
}

/// The line `conntrack -E` prints when a signal ends it, kept ready in a
/// buffer so the signal handler only calls write(2) and _exit(2), which are
/// async-signal-safe (signal-safety(7)).
enum EventFooter {
    nonisolated(unsafe) static let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    nonisolated(unsafe) static var length = 0

    static func update(_ count: Int) {
        let text = Array((ConntrackCommand.prefix + "\(count) flow events have been shown.\n").utf8.prefix(256))
        length = 0  // a handler running now writes nothing rather than half a line
        text.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: text.count) }
        length = text.count
    }

    static let handler: @convention(c) (Int32) -> Void = { _ in
        _ = write(2, EventFooter.buffer, EventFooter.length)
        _exit(0)
    }
}

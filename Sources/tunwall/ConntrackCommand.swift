// `tunwall conntrack`: conntrack-tools' command line, answered by a running
// firewall over its control socket (`--socket PATH`, `--lab NAME`, or the
// only lab up, or `tunwall run`'s default socket).

#if canImport(Glibc)
import Glibc
#endif
import Firewall

enum ConntrackCommand {
    static let usages = [
        "conntrack -L [expect] [--socket PATH | --lab NAME]",
        "conntrack -E [--socket PATH | --lab NAME]",
    ]

    static let options: [OptionSpec] = [
        .flag("-L", "--dump", help: "list connections (or expectations)"),
        .flag("-C", "--count", help: "count them"),
        .flag("-D", "--delete", help: "delete the matching ones"),
        .flag("-F", "--flush", help: "delete them all"),
        .flag("-U", "--update", help: "set the mark (-m) or the timeout (-t) of the matching connections"),
        .flag("-S", "--stats", help: "statistics"),
        .flag("-E", "--event", help: "follow events"),
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
        .valued("-e", "--event-mask", value: "EVENTS", help: "with -E: NEW,UPDATE,DESTROY or ALL"),
    ] + OptionSpec.target

    static let details = ""

    static func run(_ arguments: [String]) -> Int32 {
        let usage = "usage: tunwall conntrack -L [expect] | -E [--socket PATH | --lab NAME]"
        guard let mode = arguments.first, mode == "-L" || mode == "-E" else { return Commands.usageError(usage) }
        // `conntrack -L expect` lists expectations, as conntrack-tools does.
        let expect = mode == "-L" && arguments.dropFirst().first == "expect"
        let rest = Array(arguments.dropFirst(expect ? 2 : 1))
        var socket: String?, lab: String?
        if rest.count == 2, rest[0] == "--socket" { socket = rest[1] } else if rest.count == 2, rest[0] == "--lab" { lab = rest[1] } else if !rest.isEmpty { return Commands.usageError(usage) }
        guard let path = ControlCommands.socketPath(socket: socket, lab: lab, usageError: { _ = Commands.usageError($0) }) else { return 2 }
        if mode == "-E" {
            // Events as they happen, until the firewall stops or Ctrl-C /
            // SIGTERM end us. A parent may have left those signals blocked
            // (test runners do), and a blocked SIGTERM would never stop us.
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGINT)
            sigaddset(&signals, SIGTERM)
            pthread_sigmask(SIG_UNBLOCK, &signals, nil)
            do {
                try ControlRequest.events.stream(from: path) { text in Output.unbuffered(text, to: 1) }
                return 0
            } catch {
                Output.error("tunwall: \(error) (is the firewall running?)")
                return 1
            }
        }
        guard let response = ControlCommands.ask(expect ? .expectationList : .conntrackList, path) else { return 1 }
        print(response, terminator: "")
        let count = response.split(separator: "\n").count
        // conntrack-tools prints its footer on stderr too.
        Output.error("tunwall conntrack: \(count) \(expect ? "expectations" : "flow entries") have been shown.")
        return 0
    }
}

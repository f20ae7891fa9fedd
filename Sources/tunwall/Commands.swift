// Dispatch of `tunwall <command> ...` to the command implementations, and the
// usage text that `tunwall --help` prints.

#if canImport(Glibc)
import Glibc
import SystemIO
#endif
import Firewall

enum Commands {
    static let version = TunwallVersion.current

    static let usage = """
    tunwall \(version): a stateful firewall and NAT router in userspace on Linux TUN devices.

    Usage: tunwall <command> [arguments]

    Commands:
      demo [--out DIR]        bring up a lab (FTP client behind masquerade, FTP server
                              outside), download a file in passive and active mode with
                              the built-in FTP peers, print the narrated control channel,
                              the expectations and conntrack table, write the trace, pcaps
                              and ladder diagram into DIR, tear it all down
      version                 print the version
      run CONFIG.json [--control PATH] [--trace] [--trace-json FILE] [--pcap DIR]
                              run the firewall on TUN devices until SIGINT/SIGTERM;
                              --trace narrates every decision, --trace-json writes it as
                              JSON lines, --pcap DIR writes IF-in.pcap and IF-out.pcap
      lab up FILE [--name NAME] [--daemon] [--trace] [--trace-json FILE] [--pcap DIR] [-- RUN-ARGUMENTS...]
                              build a topology's namespaces and run the firewall in it
      lab down FILE|NAME      remove a lab: firewall, namespaces, state (also after a crash)
      lab exec [--lab NAME] HOST [--] CMD...
                              run a command inside a lab host
      lab list                the labs on this machine and their state
                              ('tunwall lab --help' says more)
      check FILE              check an nftables ruleset file as 'nft -c -f' does
      list ruleset [--socket PATH | --lab NAME]
                              the running ruleset, with its counters, as 'nft list ruleset'
      reload [FILE] [--socket PATH | --lab NAME]
                              replace the running ruleset (or re-read its file); a file with
                              errors is refused and the running ruleset stays (also SIGHUP)
      nft [--socket PATH | --lab NAME] COMMAND...
                              an nft command on the running ruleset, changed at once or
                              not at all: add element, add/insert/delete rule, flush
                              chain, list ruleset -a, -f FILE (a script)
      conntrack -L [expect] [--socket PATH | --lab NAME]
                              list tracked connections (or expectations), as conntrack -L
      conntrack -E [--socket PATH | --lab NAME]
                              follow connection events (NEW, UPDATE, DESTROY) as conntrack -E
      stats [--socket PATH | --lab NAME]
                              packet counters and drops by reason
      bench engine|nat|rules|fragments [--packets N]
                              ns and heap allocations per packet: the engine's fast path,
                              the same masqueraded, or a 1,000-rule chain walked to its end
      pcap summary FILE       print one tcpdump-style line per packet of a pcap file
                              (link types RAW, IPV4, IPV6, EN10MB, LINUX_SLL)
      diagram TRACE.jsonl -o FILE.svg|FILE.html [--all]
                              draw a --trace-json file as a ladder diagram: client, firewall,
                              server; NAT, FTP rewrites, expectations, drops (--all: no
                              "× N packets" rows; -o - writes the SVG to stdout)
      help, --help, -h        print this help

    Exit status: 0 success, 1 failure (e.g. an unreadable or damaged file),
    2 usage error.
    """

    static func run(_ arguments: [String]) -> Int32 {
        guard let command = arguments.first else {
            Output.error(usage)
            return 2
        }
        let rest = Array(arguments.dropFirst())
        switch command {
        case "help", "--help", "-h":
            Output.line(usage)
            return 0
        case "version", "--version":
            guard rest.isEmpty else { return usageError("'version' takes no arguments") }
            Output.line("tunwall \(version)")
            return 0
        case "pcap":
            return PcapCommand.run(rest)
        case "demo":
            return DemoCommand.run(rest)
        case "diagram":
            return DiagramCommand.run(rest)
        case "run":
            return RunCommand.run(rest)
        case "lab":
            return LabCommand.run(rest)
        case "conntrack":
            return ControlCommands.conntrack(rest)
        case "stats":
            return ControlCommands.stats(rest)
        case "bench":
            return BenchCommand.run(rest)
        case "check":
            return RulesCommands.check(rest)
        case "list":
            return RulesCommands.list(rest)
        case "reload":
            return RulesCommands.reload(rest)
        case "nft":
            return NFTCommand.run(rest)
        case "ftp":  // the lab's FTP server and client; not in the usage above (FTPCommand.swift)
            return FTPPeerCommand.run(rest)
        default:
            return usageError("unknown command '\(command)'")
        }
    }

    static func usageError(_ message: String) -> Int32 {
        Output.error("tunwall: \(message)\nRun 'tunwall --help' for usage.")
        return 2
    }
}

/// Writes to stdout (print, flushed at exit) and stderr (unbuffered).
enum Output {
    static func line(_ text: String) {
        print(text)
    }

    static func error(_ text: String) {
        var message = text
        if !message.hasSuffix("\n") { message += "\n" }
        unbuffered(message, to: 2)
    }

    /// write(2) straight to `fd`, for stderr and for streams that must show
    /// each line as it comes (the C `stdout`/`stderr` globals are shared
    /// mutable state Swift 6 rejects).
    static func unbuffered(_ text: String, to fd: Int32) {
        FileIO.writeAllOrGiveUp(fd, Array(text.utf8))
    }
}

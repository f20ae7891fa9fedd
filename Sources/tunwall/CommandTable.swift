// Every `tunwall` command, once: its words, usage, one-line summary and
// options. Commands.swift dispatches from this table, `tunwall --help` and
// each command's `--help` print it, `tunwall completion bash` turns it into
// bash completion, and CLITests holds docs/tunwall.8 and README to it.

enum CommandTable {
    static let all: [CommandSpec] = [
        CommandSpec(
            path: ["demo"], usage: ["demo [--out DIR]"],
            summary: "Bring up a lab (FTP client behind masquerade, FTP server outside), download a file in "
                + "passive and active mode, print the narrated control channel, the expectations and the "
                + "conntrack table, write the trace, pcaps and ladder diagram into DIR, tear it all down.",
            options: [.valued("--out", "-o", value: "DIR", help: "where to write (default tunwall-demo-TIME)")],
            action: .parsed(DemoCommand.run)),
        CommandSpec(
            path: ["version"], usage: ["version", "-V, --version"], summary: "Print the version.",
            action: .parsed(Commands.printVersion)),
        CommandSpec(
            path: ["run"], usage: ["run CONFIG.json [--control PATH] [--workers N] [--trace] [--trace-json FILE] [--pcap DIR] [--pcap-format pcapng|pcap]"],
            summary: "Run the firewall on TUN devices until SIGINT/SIGTERM.",
            options: [
                .valued("--control", value: "PATH", help: "the control socket (default /run/tunwall/tunwall.sock)"),
                .valued("--workers", value: "N", help: "worker threads, one queue of every device each (default: TUNWALL_WORKERS, the config's \"workers\", one per CPU)"),
                .flag("--trace", help: "narrate every decision on stderr"),
                .valued("--trace-json", value: "FILE", help: "write the trace as JSON lines"),
                .valued("--pcap", value: "DIR", help: "capture every interface both ways into DIR"),
                .valued("--pcap-format", value: "FORMAT", help: "pcapng: DIR/capture.pcapng (the default); pcap: DIR/IF-in.pcap, DIR/IF-out.pcap"),
                OptionSpec(names: ["--hosts"], value: "IF=HOST,...", help: "the hosts at each interface, for the trace", hidden: true),
                OptionSpec(names: ["--segments"], value: "IF=HOST/MAC/ADDR,...;...", help: "the hosts on each segment, for the trace",
                           hidden: true),
            ],
            action: .parsed(RunCommand.run)),
        CommandSpec(
            path: ["lab"], usage: LabCommand.usages, summary: "Labs: a topology's namespaces with tunwall as their firewall.",
            details: LabCommand.details, action: .group),
        CommandSpec(
            path: ["lab", "up"], usage: [LabCommand.usages[0], LabCommand.usages[1]],
            summary: "Create the namespaces of topology FILE, start 'tunwall run' as their firewall, configure the hosts.",
            options: [
                .valued("--name", value: "NAME", help: "the lab's name (default: FILE's base name)"),
                .flag("--daemon", "-d", help: "return once the lab is up"),
                .flag("--kernel", help: "the Linux kernel is the firewall (nftables in tw-NAME-fw)"),
                .flag("--trace", help: "narrate every packet in the lab's log"),
                .valued("--trace-json", value: "FILE", help: "write the trace as JSON lines"),
                .valued("--pcap", value: "DIR", help: "capture every interface both ways into DIR"),
                .valued("--pcap-format", value: "FORMAT", help: "pcapng (the default) or pcap, as 'tunwall run'"),
            ],
            details: "Arguments after -- go to 'tunwall run'.", action: .parsed(LabCommand.up)),
        CommandSpec(
            path: ["lab", "down"], usage: ["lab down FILE|NAME"],
            summary: "Stop the firewall and anything left in the lab's namespaces, delete them and the state (also after a crash). "
                + "FILE finds the lab started from it, whatever its --name.",
            action: .parsed(LabCommand.down)),
        CommandSpec(
            path: ["lab", "exec"], usage: ["lab exec [--lab NAME] HOST [--] COMMAND [ARGUMENTS...]"],
            summary: "Run COMMAND in HOST's namespace (\"fw\" is the firewall's) and exit with its status.",
            options: [.valued("--lab", value: "NAME", help: "the lab (may be left out when one lab is up)")],
            optionsBeforeWordsOnly: true, action: .parsed(LabCommand.exec)),
        CommandSpec(
            path: ["lab", "list"], usage: ["lab list [--json]"], summary: "The labs on this machine and their state.",
            options: [.flag("--json", help: "as JSON: the LabRecord values of the Lab library")],
            action: .parsed(LabCommand.list)),
        CommandSpec(
            path: ["lab", "check"], usage: ["lab check FILE"],
            summary: "Check a topology file and its ruleset without building anything (no root needed): "
                + "silent with exit 0 when good, the errors and exit 1 when not.",
            action: .parsed(LabCommand.check)),
        CommandSpec(
            path: ["check"], usage: ["check FILE"], summary: "Check an nftables ruleset file as 'nft -c -f' does.",
            action: .parsed(RulesCommands.check)),
        CommandSpec(
            path: ["list"], usage: ["list ruleset [--socket PATH | --lab NAME]"], summary: "Listings of a running firewall.",
            action: .group),
        CommandSpec(
            path: ["list", "ruleset"], usage: ["list ruleset [--socket PATH | --lab NAME]"],
            summary: "The running ruleset, with its counters, as 'nft list ruleset'.",
            options: OptionSpec.target, action: .parsed(RulesCommands.list)),
        CommandSpec(
            path: ["nft"], usage: ["nft [--socket PATH | --lab NAME] COMMAND...", "nft [--socket PATH | --lab NAME] -f FILE"],
            summary: "nft's commands on the running ruleset (add/insert/delete rule, add/delete element, flush chain, "
                + "list ruleset [-a] [-j]), applied at once between packets or refused with nft's error, the old ruleset kept.",
            options: OptionSpec.target, action: .raw(NFTCommand.run)),
        CommandSpec(
            path: ["reload"], usage: ["reload [FILE] [--socket PATH | --lab NAME]"],
            summary: "Replace the running ruleset (or re-read its file); a file with errors is refused and the running ruleset stays.",
            options: OptionSpec.target, action: .parsed(RulesCommands.reload)),
        CommandSpec(
            path: ["conntrack"], usage: ConntrackCommand.usages,
            summary: "List, count, delete, update and follow tracked connections and expectations, with conntrack-tools' "
                + "options, messages and exit codes.",
            options: ConntrackCommand.options, details: ConntrackCommand.details,
            words: ["expect", "conntrack", "expectation"], action: .raw(ConntrackCommand.run)),
        CommandSpec(
            path: ["stats"], usage: ["stats [--json] [--socket PATH | --lab NAME]"], summary: "Packet counters and drops by reason.",
            options: OptionSpec.target + [.flag("--json", help: "as one JSON object (StatisticsRecord)")],
            action: .parsed(ControlCommands.stats)),
        CommandSpec(
            path: ["monitor"], usage: ["monitor trace [--all] [--socket PATH | --lab NAME]"],
            summary: "Follow a running firewall, as 'nft monitor' follows the kernel.", action: .group),
        CommandSpec(
            path: ["monitor", "trace"], usage: ["monitor trace [--all] [--socket PATH | --lab NAME]"],
            summary: "Print, as they happen, the traces of the packets a rule marks with 'meta nftrace set 1', "
                + "as 'nft monitor trace' does, narrated; --all traces every packet while it runs. Until Ctrl-C.",
            options: OptionSpec.target + [.flag("--all", help: "trace every packet, marked or not (as --trace)")],
            action: .parsed(MonitorCommand.trace)),
        CommandSpec(
            path: ["neigh"], usage: ["neigh [--socket PATH | --lab NAME]"],
            summary: "The neighbour table of the TAP interfaces (ARP and ND), as ip neigh prints it: "
                + "ADDRESS dev IF lladdr MAC STATE.",
            options: OptionSpec.target, action: .parsed(ControlCommands.neighbours)),
        CommandSpec(
            path: ["impair"], usage: ["impair IF [in|out] WORDS... [--socket PATH | --lab NAME]", "impair IF show", "impair IF [in|out] clear"],
            summary: "Impair the packets leaving (out, the default) or that came in by IF, in tc-netem's words: "
                + "delay 50ms 10ms, loss 2%, loss gemodel p r 1-h 1-k, duplicate 1%, reorder 25% gap 5, corrupt 0.1%, "
                + "rate 10mbit, limit 1000, seed 7; show prints the settings and counters, clear switches them off.",
            options: OptionSpec.target, action: .parsed(ImpairCommand.run)),
        CommandSpec(
            path: ["bench"], usage: ["bench engine|nat|tap|rules|fragments|impair|steering [--packets N]", "bench connections|table [--connections N]"],
            summary: "ns and heap allocations per packet: the engine's fast path, the same masqueraded, the same over TAP "
                + "(Ethernet, neighbours resolved), the same as two workers (steering: the owner, and every packet handed off), "
                + "a 1,000-rule chain, "
                + "reassembly, or impairments (configured but zero, and a delay queue of 10,000 packets); per new connection "
                + "(connections); the flow table's bytes per connection and speed at 1,000,000 connections (table).",
            options: [.valued("--packets", value: "N", help: "how many packets (datagrams for fragments)"),
                      .valued("--connections", value: "N", help: "how many connections (connections, table)")],
            words: ["engine", "nat", "tap", "rules", "fragments", "impair", "steering", "connections", "table"], action: .parsed(BenchCommand.run)),
        CommandSpec(
            path: ["pcap"], usage: ["pcap summary FILE"], summary: "Read capture files.", action: .group),
        CommandSpec(
            path: ["pcap", "summary"], usage: ["pcap summary FILE"],
            summary: "One tcpdump-style line per packet of a pcap or pcapng file.",
            action: .parsed(PcapCommand.run)),
        CommandSpec(
            path: ["diagram"], usage: ["diagram TRACE.jsonl -o FILE.svg|FILE.html [--all]"],
            summary: "Draw a --trace-json file as a ladder diagram (-o - writes the SVG to stdout).",
            options: [
                .valued("--output", "-o", value: "FILE", help: "FILE.svg, FILE.html or - (stdout)"),
                .flag("--all", help: "one row per packet: no \"× N packets\" rows"),
            ],
            action: .parsed(DiagramCommand.run)),
        CommandSpec(
            path: ["ftp"], usage: FTPPeerCommand.usages,
            summary: "The lab's own FTP server and client, run inside lab hosts.", details: FTPPeerCommand.details,
            action: .group),
        CommandSpec(
            path: ["ftp", "serve"], usage: [FTPPeerCommand.usages[0]], summary: "An FTP server for anonymous users.",
            options: [
                .valued("--listen", value: "ADDR[:PORT]", help: "where to listen (port 21 unless given; [::] takes IPv4 too)"),
                .valued("--root", value: "DIR", help: "what to serve, and nothing outside it"),
                .valued("--public", value: "ADDR", help: "the address a 227 reply to PASV names"),
                .flag("--active-from-port-20", help: "active-mode data connections leave from port 20 (needs root)"),
                .valued("--log", value: "FILE", help: "append the commands and replies to FILE (default stderr)"),
                .valued("--once", value: "N", help: "exit after N sessions"),
                .valued("--timeout", value: "S", help: "idle and data timeout in seconds (default 60)"),
            ],
            action: .parsed(FTPPeerCommand.serve)),
        CommandSpec(
            path: ["ftp", "get"], usage: [FTPPeerCommand.usages[1]], summary: "Download one file.",
            options: FTPPeerCommand.clientOptions + [.valued("--out", value: "FILE", help: "where to write (- for stdout)")],
            action: .parsed(FTPPeerCommand.get)),
        CommandSpec(
            path: ["ftp", "put"], usage: [FTPPeerCommand.usages[2]], summary: "Upload one file.",
            options: FTPPeerCommand.clientOptions + [.valued("--in", value: "FILE", help: "the file to send")],
            action: .parsed(FTPPeerCommand.put)),
        CommandSpec(
            path: ["ftp", "ls"], usage: [FTPPeerCommand.usages[3]], summary: "List a directory (LIST, or NLST with --names).",
            options: FTPPeerCommand.clientOptions + [
                .valued("--out", value: "FILE", help: "where to write (- for stdout, the default)"),
                .flag("--names", help: "names only (NLST)"),
            ],
            action: .parsed(FTPPeerCommand.ls)),
        CommandSpec(
            path: ["completion"], usage: ["completion bash", "completion commands"],
            summary: "Print bash completion for tunwall (source it, or put it in /etc/bash_completion.d/tunwall), "
                + "or every command, one per line.",
            words: ["bash", "commands"], action: .parsed(CompletionCommand.run)),
        CommandSpec(
            path: ["help"], usage: ["help [COMMAND...]", "-h, --help"], summary: "Print this help, or a command's.",
            action: .raw(Commands.helpCommand)),
    ]

    /// The command a path names exactly.
    static func spec(_ path: [String]) -> CommandSpec? {
        all.first { $0.path == path }
    }

    /// The commands one word below `path` (the top level for []).
    static func children(of path: [String]) -> [CommandSpec] {
        all.filter { $0.path.count == path.count + 1 && Array($0.path.prefix(path.count)) == path }
    }
}

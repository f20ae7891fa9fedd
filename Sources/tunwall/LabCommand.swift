// `tunwall lab up|down|exec|list`: a topology (Topologies/basic.json) brought
// to life in network namespaces, with this binary's `run` as the firewall.
//
//   tunwall lab up Topologies/basic.json            # foreground; Ctrl-C tears it down
//   tunwall lab up Topologies/basic.json --daemon   # returns; `lab down basic` later
//   tunwall lab exec client -- ping -c 1 203.0.113.10
//   tunwall lab down basic
//
// Exit status: 0 success, 1 failure (one line on stderr), 2 usage error;
// `lab exec` exits with the command's status.

#if canImport(Glibc)
import Glibc
#endif
import Lab

enum LabCommand {
    static let usage = """
    Usage:
      tunwall lab up FILE [--name NAME] [--daemon] [--trace] [--trace-json FILE] [--pcap DIR]
                    [-- RUN-ARGUMENTS...]
      tunwall lab up FILE --kernel [--name NAME] [--daemon]
          Create the namespaces of topology FILE (tw-NAME-fw, tw-NAME-HOST), start
          'tunwall run' as the firewall in tw-NAME-fw, configure the hosts. Stays in
          the foreground, copying the firewall's log to stderr, until Ctrl-C or
          SIGTERM (then tears the lab down); --daemon returns once the lab is up.
          NAME defaults to FILE's base name. --trace narrates every packet in the
          log, --trace-json writes the trace as JSON lines, --pcap writes one pcap
          per interface and direction (see 'tunwall run'). RUN-ARGUMENTS go to
          'tunwall run'. --kernel makes the Linux kernel the firewall instead: the
          same hosts, veth links, and FILE's ruleset loaded with 'nft -f' in
          tw-NAME-fw (the oracle to compare tunwall with).
      tunwall lab down FILE|NAME
          Stop the firewall and any process left in the lab's namespaces, delete
          the namespaces and the state directory. Works after a crash too.
      tunwall lab exec [--lab NAME] HOST [--] COMMAND [ARGUMENTS...]
          Run COMMAND in HOST's namespace ("fw" is the firewall's) and exit with
          its status. --lab may be left out when only one lab is up.
      tunwall lab list
          The labs on this machine and their state.

    State: /run/tunwall/labs/NAME/ (firewall.json, pid, log, control.sock).
    up, down and exec need root.
    """

    static func run(_ arguments: [String]) -> Int32 {
        guard let subcommand = arguments.first else {
            return Commands.usageError("'lab' needs a subcommand: up, down, exec or list\n\n\(usage)")
        }
        let rest = Array(arguments.dropFirst())
        switch subcommand {
        case "up": return up(rest)
        case "down": return down(rest)
        case "exec": return exec(rest)
        case "list": return list(rest)
        case "help", "--help", "-h":
            Output.line(usage)
            return 0
        default:
            return Commands.usageError("unknown lab subcommand '\(subcommand)' (up, down, exec, list)")
        }
    }

    private static let upUsage = "usage: tunwall lab up FILE [--name NAME] [--daemon] [--kernel] [--trace] [--trace-json FILE] [--pcap DIR] [-- RUN-ARGUMENTS...]"
    private static let downUsage = "usage: tunwall lab down FILE|NAME"
    private static let execUsage = "usage: tunwall lab exec [--lab NAME] HOST [--] COMMAND [ARGUMENTS...]"

    // MARK: - up

    static func up(_ arguments: [String]) -> Int32 {
        var file: String?
        var name: String?
        var daemon = false
        var kernel = false
        var extra: [String] = []
        var observe: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "--":
                extra = Array(arguments[index...])
                index = arguments.count
            case "--daemon", "-d":
                daemon = true
            case "--kernel":
                kernel = true
            case "--trace":
                observe.append("--trace")
            case "--trace-json", "--pcap":
                guard index < arguments.count else { return Commands.usageError("\(argument) needs a value; \(upUsage)") }
                // The firewall runs elsewhere: give it an absolute path.
                observe += [argument, absolutePath(arguments[index])]
                index += 1
            case "--name":
                guard index < arguments.count else { return Commands.usageError("--name needs a value; \(upUsage)") }
                name = arguments[index]
                index += 1
            case _ where argument.hasPrefix("--name="):
                name = String(argument.dropFirst("--name=".count))
            case _ where argument.hasPrefix("-") && argument != "-":
                return Commands.usageError("lab up: unknown option '\(argument)'; \(upUsage)")
            default:
                guard file == nil else { return Commands.usageError("lab up: unexpected argument '\(argument)'; \(upUsage)") }
                file = argument
            }
        }
        guard let file else { return Commands.usageError("lab up: missing the topology FILE; \(upUsage)") }
        if kernel && !(observe.isEmpty && extra.isEmpty) {
            return Commands.usageError("lab up: --kernel runs no tunwall: --trace, --trace-json, --pcap and RUN-ARGUMENTS need tunwall as the firewall")
        }
        let labName = name ?? Lab.defaultName(topologyPath: file)
        do {
            try Lab.validateName(labName)
        } catch {
            let hint = name == nil ? " (taken from \(file)); choose one with --name NAME" : ""
            return fail("\(error)\(hint)")
        }
        guard geteuid() == 0 else { return fail("lab up needs root (it creates network namespaces)") }
        let topology: Topology
        do {
            topology = try Topology.load(path: file)
        } catch {
            return fail("\(error)")
        }
        let controller = LabController()
        do {
            if !observe.isEmpty {
                // The trace names the host at the end of each interface.
                let hosts = topology.firewall.interfaces.compactMap { i in i.host.map { "\(i.name)=\($0)" } }
                observe += ["--hosts", hosts.joined(separator: ",")]
            }
            let ending = try controller.up(topology, source: file, name: labName, daemon: daemon, kernel: kernel,
                                           extraRunArguments: observe + extra) { status in
                Output.line(summary(status, topology: topology, daemon: daemon))
                fflush(nil)  // the foreground stays for a long time; show the summary now
            }
            switch ending {
            case .detached, .detachedKernel:
                return 0
            case .stopped(let signal):
                Output.line("lab \(labName) is down (stopped by \(Lab.signalName(signal)))")
                return 0
            case .firewallExited(.exited(0)):
                Output.line("lab \(labName) is down (the firewall exited)")
                return 0
            case .firewallExited(let status):
                return fail("lab \(labName): the firewall \(status); the lab was torn down")
            }
        } catch {
            return fail("\(error)")
        }
    }

    /// Who is where, and the two commands one needs next.
    static func summary(_ status: LabStatus, topology: Topology, daemon: Bool) -> String {
        var lines: [String] = []
        if status.isKernel {
            lines.append("lab \(status.name) is up: the Linux kernel is the firewall (nftables) in"
                         + " \(Lab.firewallNamespace(lab: status.name))")
        } else {
            let pid = status.firewallPID.map { "pid \($0)" } ?? "pid ?"
            lines.append("lab \(status.name) is up: firewall (\(pid)) in \(Lab.firewallNamespace(lab: status.name)),"
                         + " log \(status.paths.log)")
        }
        if !topology.description.isEmpty { lines.append("  \(topology.description)") }
        let width = topology.hosts.map(\.name.count).max() ?? 0
        for host in topology.hosts {
            let interfaces = host.interfaces.map { interface in
                ([interface.device] + interface.addresses.map(\.description)).joined(separator: " ")
            }.joined(separator: ", ")
            let padded = host.name + String(repeating: " ", count: width - host.name.count)
            lines.append("  \(padded)  \(Lab.namespaceName(lab: status.name, host: host.name))  \(interfaces)")
        }
        var example = "COMMAND"
        if topology.hosts.count > 1, let target = topology.hosts[1].interfaces.first?.addresses.first {
            example = "ping -c 1 \(target.address)"
        }
        let firstHost = topology.hosts.first?.name ?? "HOST"
        lines.append("Run a command on a host:  tunwall lab exec --lab \(status.name) \(firstHost) -- \(example)")
        lines.append("Take the lab down:        tunwall lab down \(status.name)" + (daemon ? "" : "   (or Ctrl-C here)"))
        return lines.joined(separator: "\n")
    }

    // MARK: - down

    static func down(_ arguments: [String]) -> Int32 {
        guard arguments.count == 1, let target = arguments.first, !target.hasPrefix("-") else {
            return Commands.usageError("lab down: \(arguments.isEmpty ? "missing FILE or NAME" : "expected one FILE or NAME"); \(downUsage)")
        }
        // A path names the lab it would have been started as: its base name.
        let name = target.contains("/") || target.hasSuffix(".json") ? Lab.defaultName(topologyPath: target) : target
        guard geteuid() == 0 else { return fail("lab down needs root (it deletes network namespaces)") }
        do {
            let report = try LabController().down(name)
            if report.didNothing {
                Output.line("lab \(name) is not up; nothing to do")
                return 0
            }
            var done: [String] = []
            if let pid = report.stoppedFirewall { done.append("stopped the firewall (pid \(pid))") }
            if !report.stoppedProcesses.isEmpty {
                done.append("stopped \(report.stoppedProcesses.count) process\(report.stoppedProcesses.count == 1 ? "" : "es")"
                            + " left in its namespaces")
            }
            if !report.deletedNamespaces.isEmpty {
                done.append("deleted \(report.deletedNamespaces.joined(separator: ", "))")
            }
            if report.removedStateDirectory { done.append("removed \(Lab.stateDirectory(name))") }
            Output.line("lab \(name) is down: " + done.joined(separator: "; "))
            return 0
        } catch {
            return fail("\(error)")
        }
    }

    // MARK: - exec

    static func exec(_ arguments: [String]) -> Int32 {
        var lab: String?
        var index = 0
        while index < arguments.count, arguments[index].hasPrefix("-") {
            let argument = arguments[index]
            index += 1
            if argument == "--lab" {
                guard index < arguments.count else { return Commands.usageError("--lab needs a value; \(execUsage)") }
                lab = arguments[index]
                index += 1
            } else if argument.hasPrefix("--lab=") {
                lab = String(argument.dropFirst("--lab=".count))
            } else {
                return Commands.usageError("lab exec: unknown option '\(argument)'; \(execUsage)")
            }
        }
        guard index < arguments.count else { return Commands.usageError("lab exec: missing HOST; \(execUsage)") }
        let host = arguments[index]
        index += 1
        if index < arguments.count, arguments[index] == "--" { index += 1 }
        let command = Array(arguments[index...])
        guard !command.isEmpty else { return Commands.usageError("lab exec: missing COMMAND; \(execUsage)") }
        guard geteuid() == 0 else { return fail("lab exec needs root (it enters network namespaces)") }
        do {
            return try LabController().exec(lab: lab, host: host, argv: command)
        } catch {
            return fail("\(error)")
        }
    }

    // MARK: - list

    static func list(_ arguments: [String]) -> Int32 {
        guard arguments.isEmpty || arguments == ["--json"] else {
            return Commands.usageError("usage: tunwall lab list [--json]")
        }
        do {
            let labs = try LabController().list()
            if arguments == ["--json"] {
                // LabRecord, the type the Lab library hands tests (LabRecords.swift).
                Output.line(LabRecord.json(labs.map(LabRecord.init)))
                return 0
            }
            if labs.isEmpty {
                Output.line("no labs")
                return 0
            }
            for lab in labs { Output.line(describe(lab)) }
            return 0
        } catch {
            return fail("\(error)")
        }
    }

    /// "basic: up, firewall pid 1234, hosts client server, from /work/main/Topologies/basic.json"
    static func describe(_ lab: LabStatus) -> String {
        var parts: [String] = []
        if lab.firewallPID != nil || lab.isRunning {
            parts.append(lab.firewallPID.map { "up, firewall pid \($0)" } ?? "up, firewall the Linux kernel")
            if !lab.hosts.isEmpty { parts.append("hosts \(lab.hosts.joined(separator: " "))") }
            if let source = lab.source { parts.append("from \(source)") }
        } else {
            var left: [String] = lab.namespaces
            if lab.hasStateDirectory { left.append(lab.paths.directory) }
            parts.append("firewall not running; left behind: \(left.joined(separator: " "))")
            parts.append("run 'tunwall lab down \(lab.name)'")
        }
        return "\(lab.name): " + parts.joined(separator: ", ")
    }

    // MARK: -

    private static func fail(_ message: String) -> Int32 {
        Output.error("tunwall: \(message)")
        return 1
    }
}

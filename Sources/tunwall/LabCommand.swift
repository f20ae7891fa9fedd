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
import Engine
import Lab
import Rules

enum LabCommand {
    static let usages = [
        "lab up FILE [--name NAME] [--daemon] [--trace] [--trace-json FILE] [--pcap DIR] [--pcap-format pcapng|pcap] [-- RUN-ARGUMENTS...]",
        "lab up FILE --kernel [--name NAME] [--daemon]",
        "lab down FILE|NAME",
        "lab exec [--lab NAME] HOST [--] COMMAND [ARGUMENTS...]",
        "lab list",
        "lab check FILE",
    ]

    static let details = """
    up: create the namespaces of topology FILE (tw-NAME-fw, tw-NAME-HOST), start
      'tunwall run' as the firewall in tw-NAME-fw, configure the hosts. Stays in
      the foreground, copying the firewall's log to stderr, until Ctrl-C or
      SIGTERM (then tears the lab down); --daemon returns once the lab is up.
      NAME defaults to FILE's base name. --trace narrates every packet in the
      log, --trace-json writes the trace as JSON lines, --pcap writes the
      captures (see 'tunwall run'). RUN-ARGUMENTS go to 'tunwall run'. --kernel
      makes the Linux kernel the firewall instead: the same hosts, veth links,
      and FILE's ruleset loaded with 'nft -f' in tw-NAME-fw (the oracle to
      compare tunwall with).
    down: stop the firewall and any process left in the lab's namespaces, delete
      the namespaces and the state directory. Works after a crash too. FILE
      finds the lab started from that file, whatever its --name.
    exec: run COMMAND in HOST's namespace ("fw" is the firewall's) and exit with
      its status. --lab may be left out when only one lab is up.
    list: the labs on this machine and their state.
    check: read topology FILE and the ruleset it names as 'lab up' would, build
      nothing; silent with exit 0 when both are good, the errors and exit 1 when not.

    State: /run/tunwall/labs/NAME/ (firewall.json, pid, log, control.sock).
    up, down and exec need root.
    """

    // MARK: - up

    static func up(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.count == 1, let file = arguments.words.first else {
            return Commands.usageError(arguments, arguments.words.isEmpty ? "missing the topology FILE"
                                       : "unexpected argument '\(arguments.words[1])'")
        }
        let name = arguments.value("--name")
        let daemon = arguments.has("--daemon"), kernel = arguments.has("--kernel")
        let extra = arguments.rest
        var observe: [String] = arguments.has("--trace") ? ["--trace"] : []
        // The firewall runs elsewhere: give it absolute paths.
        for option in ["--trace-json", "--pcap"] {
            if let value = arguments.value(option) { observe += [option, absolutePath(value)] }
        }
        if let format = arguments.value("--pcap-format") { observe += ["--pcap-format", format] }
        if kernel && !(observe.isEmpty && extra.isEmpty) {
            return Commands.usageError(arguments, "--kernel runs no tunwall: --trace, --trace-json, --pcap, --pcap-format and RUN-ARGUMENTS need tunwall as the firewall")
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
                // ... and the hosts on each segment, so that a diagram gives each a lane.
                var segments: [String: [TraceSegmentHost]] = [:]
                for interface in topology.firewall.interfaces {
                    guard let segment = interface.segment else { continue }
                    segments[interface.name] = topology.members(ofSegment: segment).map {
                        TraceSegmentHost(host: $0.host.name, mac: $0.interface.mac?.description,
                                         addresses: $0.interface.addresses.map(\.address.description))
                    }
                }
                if !segments.isEmpty { observe += ["--segments", TraceSegmentHost.optionText(segments)] }
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
            // A host on a segment: which segment, and the MAC the others know it by.
            let interfaces = host.interfaces.map { interface in
                let segment = interface.segment.map { ["(segment \($0), \(interface.mac?.description ?? "?"))"] } ?? []
                return ([interface.device] + interface.addresses.map(\.description) + segment).joined(separator: " ")
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

    static func down(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.count == 1, let target = arguments.words.first else {
            return Commands.usageError(arguments, arguments.words.isEmpty ? "missing FILE or NAME" : "expected one FILE or NAME")
        }
        let name = labName(for: target)
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

    /// A lab name, or a topology file: the lab started from that file (its
    /// state records the file's absolute path), whatever `--name` it got;
    /// else the name the file would give by default (its base name).
    static func labName(for target: String) -> String {
        guard target.contains("/") || target.hasSuffix(".json") else { return target }
        let source = absolutePath(target)
        let started = ((try? LabController().list()) ?? []).filter { $0.source == source }
        return started.count == 1 ? started[0].name : Lab.defaultName(topologyPath: target)
    }

    // MARK: - exec

    static func exec(_ arguments: ParsedArguments) -> Int32 {
        guard let host = arguments.words.first else { return Commands.usageError(arguments, "missing HOST") }
        let command = arguments.rest
        guard !command.isEmpty else { return Commands.usageError(arguments, "missing COMMAND") }
        let lab = arguments.value("--lab")
        guard geteuid() == 0 else { return fail("lab exec needs root (it enters network namespaces)") }
        do {
            return try LabController().exec(lab: lab, host: host, argv: command)
        } catch {
            return fail("\(error)")
        }
    }

    // MARK: - list

    static func list(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.isEmpty else { return Commands.usageError(arguments, "takes no arguments") }
        do {
            let labs = try LabController().list()
            if arguments.has("--json") {
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

    // MARK: - check

    /// `lab check FILE`: the topology and the ruleset it names, read as `lab
    /// up` reads them, nothing built. The errors are lab up's with the place
    /// in the file first, as nft places its own: `FILE:LINE:COL: key.path:
    /// message` (a JSON syntax error says its line and column itself), and
    /// the ruleset's errors as `tunwall check` prints them.
    static func check(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.count == 1, let file = arguments.words.first else {
            return Commands.usageError(arguments, arguments.words.isEmpty ? "missing FILE" : "expected one FILE")
        }
        let topology: Topology
        do {
            topology = try Topology.load(path: file)
        } catch {
            Output.error(error.located())  // it starts with the file, as tunwall check's errors do
            return 1
        }
        if let ruleset = topology.firewall.rulesetPath {
            do {
                _ = try Ruleset.load(path: ruleset)
            } catch {
                Output.error(error.description)
                return 1
            }
        }
        return 0
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

// `tunwall run CONFIG.json [--control PATH]`: the firewall alone, for people
// who build their own namespaces. The arguments are read here; what follows
// (TUN devices, namespaces, control socket, "tunwall: ready" on stderr,
// forwarding until SIGINT or SIGTERM) is FirewallBootstrap's.

import Engine
import Firewall
import TunIO

import Glibc

enum RunCommand {
    /// TUNWALL_WORKERS: how the lab suite runs every firewall with N workers.
    static func environmentWorkers() -> String? {
        getenv("TUNWALL_WORKERS").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    static func run(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.count == 1, let configPath = arguments.words.first else {
            return Commands.usageError(arguments, arguments.words.isEmpty ? "missing CONFIG.json" : "expected one CONFIG.json")
        }
        /// `--hosts lan0=client,wan0=server`: what `lab up` tells the trace about the hosts.
        var hosts: [String: String] = [:]
        for pair in (arguments.value("--hosts") ?? "").split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { hosts[String(parts[0])] = String(parts[1]) }
        }
        var format = CaptureFormat.pcapng
        if let text = arguments.value("--pcap-format") {
            guard let chosen = CaptureFormat(rawValue: text) else {
                return Commands.usageError(arguments, "--pcap-format: \"\(text)\" is not pcapng or pcap")
            }
            format = chosen
        }
        var options = RunOptions(configPath: configPath, controlPath: arguments.value("--control") ?? RunOptions.defaultControlPath,
                                 narrate: arguments.has("--trace"), traceJSONPath: arguments.value("--trace-json"),
                                 pcapDirectory: arguments.value("--pcap"), hosts: hosts)
        options.pcapFormat = format
        options.segments = TraceSegmentHost.parseOption(arguments.value("--segments") ?? "")
        if let text = arguments.value("--workers") ?? environmentWorkers() {
            guard let count = Int(text), (1...255).contains(count) else {
                return Commands.usageError(arguments, "--workers: \"\(text)\" is not a number from 1 to 255")
            }
            options.workers = count
        }
        return FirewallBootstrap.run(options, log: { Output.error($0) }) ? 0 : 1
    }
}

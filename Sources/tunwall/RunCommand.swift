// `tunwall run CONFIG.json [--control PATH]`: the firewall alone, for people
// who build their own namespaces. The arguments are read here; what follows
// (TUN devices, namespaces, control socket, "tunwall: ready" on stderr,
// forwarding until SIGINT or SIGTERM) is FirewallBootstrap's.

import Firewall

enum RunCommand {
    static let usage = "usage: tunwall run CONFIG.json [--control PATH] [--trace] [--trace-json FILE] [--pcap DIR]"

    static func run(_ arguments: [String]) -> Int32 {
        var configPath: String?
        var controlPath = RunOptions.defaultControlPath
        var narrate = false
        var traceJSON: String?
        var pcapDirectory: String?
        /// `--hosts lan0=client,wan0=server`: what `lab up` tells the trace about the hosts.
        var hosts: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--control", "--trace-json", "--pcap", "--hosts":
                guard index + 1 < arguments.count else { return Commands.usageError("\(argument) needs a value; \(usage)") }
                let value = arguments[index + 1]
                switch argument {
                case "--control": controlPath = value
                case "--trace-json": traceJSON = value
                case "--pcap": pcapDirectory = value
                default:
                    for pair in value.split(separator: ",") {
                        let parts = pair.split(separator: "=", maxSplits: 1)
                        if parts.count == 2 { hosts[String(parts[0])] = String(parts[1]) }
                    }
                }
                index += 2
            case "--trace":
                narrate = true
                index += 1
            case _ where argument.hasPrefix("-"):
                return Commands.usageError("unknown option '\(argument)'; \(usage)")
            default:
                guard configPath == nil else { return Commands.usageError(usage) }
                configPath = argument
                index += 1
            }
        }
        guard let configPath else { return Commands.usageError(usage) }
        let options = RunOptions(configPath: configPath, controlPath: controlPath, narrate: narrate,
                                 traceJSONPath: traceJSON, pcapDirectory: pcapDirectory, hosts: hosts)
        return FirewallBootstrap.run(options, log: { Output.error($0) }) ? 0 : 1
    }
}

// `tunwall run CONFIG.json [--control PATH]`: the firewall alone, for people
// who build their own namespaces. Opens one TUN device per configured
// interface (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, offloads on, txqueuelen
// 1000), moves each into its "namespace" if the config names one, listens on
// the control socket, prints "tunwall: ready" on stderr and forwards until
// SIGINT or SIGTERM. The devices vanish when it exits.

#if canImport(Glibc)
import Glibc
#endif
import Conntrack
import Engine
import Lab
import Rules
import TunIO
import Wire
import SystemIO

enum RunCommand {
    static let defaultControlPath = "/run/tunwall/tunwall.sock"
    static let usage = "usage: tunwall run CONFIG.json [--control PATH] [--trace] [--trace-json FILE] [--pcap DIR]"

    static func run(_ arguments: [String]) -> Int32 {
        var configPath: String?
        var controlPath = defaultControlPath
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
        // Block SIGINT/SIGTERM/SIGHUP before any other thread exists (Foundation
        // starts some), so that every thread inherits the mask and the signals
        // arrive only through the signalfd the loop watches.
        let signals: SignalReceiver
        do {
            signals = try SignalReceiver()
        } catch {
            Output.error("tunwall: \(error)")
            return 1
        }
        defer { signals.close() }

        let config: FirewallConfig
        do {
            config = try FirewallConfig.load(path: configPath)
        } catch {
            Output.error("tunwall: \(error)")
            return 1
        }
        var ruleset = Ruleset.empty
        if let path = config.rulesetPath {
            switch RulesetFile.load(path) {
            case .success(let loaded): ruleset = loaded
            case .failure(let error):
                Output.error(error.message)
                return 1
            }
        }
        let engine: Engine
        do {
            engine = try Engine(engineConfiguration(config), seed: UInt64(truncatingIfNeeded: Int(getpid())))
        } catch {
            Output.error("tunwall: \(configPath): \(error)")
            return 1
        }
        engine.replaceRuleset(ruleset)
        let reloader = Reloader(engine: engine, path: config.rulesetPath)

        var devices: [TunDevice] = []
        defer { for device in devices { device.close() } }
        do {
            for interface in config.interfaces {
                let device = try TunDevice(name: interface.name)
                devices.append(device)
                try device.setTransmitQueueLength(1000)
            }
        } catch {
            Output.error("tunwall: \(error)")
            return 1
        }
        let ip = IPCommand()
        for interface in config.interfaces {
            guard let namespace = interface.namespace else { continue }
            do {
                _ = try ip.run(["link", "set", "dev", interface.name, "netns", namespace])
            } catch {
                Output.error("tunwall: \(error)")
                return 1
            }
        }

        let control: ControlServer
        let runner: FirewallRunner
        do {
            try makeDirectory(for: controlPath)
            control = try ControlServer(path: controlPath)
            runner = try FirewallRunner(engine: engine, devices: devices, control: control, signals: signals)
        } catch {
            Output.error("tunwall: \(error)")
            return 1
        }
        defer { control.close() }
        do {
            if let pcapDirectory {
                runner.capture = try PacketCapture(directory: pcapDirectory, interfaceNames: config.interfaces.map(\.name))
            }
            if narrate || traceJSON != nil {
                runner.traceOutput = try TraceOutput(narrated: narrate, jsonPath: traceJSON, interfaces: config.interfaces.map {
                    (name: $0.name, host: hosts[$0.name], addresses: $0.addresses.map(\.description))
                })
                engine.tracing = true
            }
        } catch {
            Output.error("tunwall: \(error)")
            return 1
        }
        defer {
            runner.capture?.close()
            runner.traceOutput?.close()
        }
        let names = config.interfaces.map { $0.name + ($0.namespace.map { " (in \($0))" } ?? "") }
        Output.error("tunwall: ready; interfaces \(names.joined(separator: ", ")); control socket \(controlPath)")
        do {
            try runner.run(onReload: {
                Output.error("tunwall: SIGHUP: " + reloader.reload(nil).message)
            }, handle: { request in
                ControlRequests.respond(to: request, engine: engine, reloader: reloader)
            })
        } catch {
            Output.error("tunwall: \(error)")
            return 1
        }
        Output.error("tunwall: stopped")
        return 0
    }

    static func engineConfiguration(_ config: FirewallConfig) -> EngineConfiguration {
        EngineConfiguration(interfaces: config.interfaces.map(\.engineInterface), routes: config.routes,
                            conntrackCapacity: config.conntrackMax ?? 65_536, ftp: config.ftp)
    }

    /// mkdir -p of the socket's directory, mode 0700.
    static func makeDirectory(for path: String) throws(SystemError) {
        var prefix = ""
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        for part in parts {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw SystemError(call: "mkdir(\(prefix))", errno: errno)
            }
        }
    }
}

/// What the control socket answers. An error starts with "error: ".
enum ControlRequests {
    static func respond(to request: String, engine: Engine, reloader: Reloader) -> ControlReply {
        if request.trimmingWhitespace() == "conntrack -E" { return .subscribe("") }
        return .text(answer(request, engine: engine, reloader: reloader))
    }

    static func answer(_ request: String, engine: Engine, reloader: Reloader) -> String {
        let now = FirewallRunner.now()
        let text = request.trimmingWhitespace()
        switch text {
        case "conntrack -L", "conntrack":
            let lines = engine.conntrack.listing(now: now)
            return lines.map { $0 + "\n" }.joined()
        case "conntrack -L expect":
            return engine.conntrack.expectationListing(now: now).map { $0 + "\n" }.joined()
        case "stats":
            return engine.statisticsReport(now: now)
        case "list ruleset":
            return engine.ruleset.listing()
        case "version":
            return "tunwall \(Commands.version)\n"
        case "reload":
            return reloader.reload(nil).response
        case _ where text.hasPrefix("reload "):
            return reloader.reload(String(text.dropFirst("reload ".count))).response
        default:
            return "error: unknown request '\(request)'\n"
        }
    }
}

/// Reloading: parse the file anew and swap it in whole, keeping every
/// connection; a file with errors is refused and the running ruleset stays.
final class Reloader {
    let engine: Engine
    /// The file the running ruleset came from (what a bare reload or SIGHUP reads).
    private(set) var path: String?

    init(engine: Engine, path: String?) {
        self.engine = engine
        self.path = path
    }

    struct Outcome {
        let ok: Bool
        let message: String
        var response: String { (ok ? "" : "error: ") + message + "\n" }
    }

    func reload(_ newPath: String?) -> Outcome {
        guard let file = newPath ?? path else {
            return Outcome(ok: false, message: "no ruleset file to reload: name one (tunwall reload FILE)")
        }
        switch RulesetFile.load(file) {
        case .success(let ruleset):
            engine.replaceRuleset(ruleset)
            path = file
            return Outcome(ok: true, message: "reloaded \(file)")
        case .failure(let error):
            return Outcome(ok: false, message: error.message + "\nthe running ruleset is unchanged")
        }
    }
}

/// Loading a ruleset for running: parse errors as nft prints them.
enum RulesetFile {
    static func load(_ path: String) -> Result<Ruleset, LoadError> {
        let ruleset: Ruleset
        do {
            ruleset = try Ruleset.load(path: path)
        } catch {
            return .failure(LoadError(message: error.description))
        }
        return .success(ruleset)
    }

    struct LoadError: Error {
        let message: String
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}

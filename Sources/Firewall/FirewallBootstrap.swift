// FirewallBootstrap: `tunwall run`'s whole life. Opens one TUN device per
// configured interface (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, offloads on,
// txqueuelen 1000), moves each into its "namespace" if the config names one
// (`ip link set dev X netns NS`), listens on the control socket, says
// "tunwall: ready" and forwards until SIGINT or SIGTERM; SIGHUP reloads the
// ruleset. The devices vanish when it returns (a TUN device lives as long as
// its file descriptor, like Linux's non-persistent tun).

#if canImport(Glibc)
import Glibc
#endif
import Engine
import Rules
import SystemIO
import TunIO

public enum FirewallBootstrap {
    /// Runs the firewall until it is told to stop; false after a failure.
    /// Every line for the operator (failures, "ready", SIGHUP's outcome,
    /// "stopped") goes to `log`, which writes it to stderr.
    public static func run(_ options: RunOptions, log: (String) -> Void) -> Bool {
        // Block SIGINT/SIGTERM/SIGHUP before any other thread exists (Foundation
        // starts some), so that every thread inherits the mask and the signals
        // arrive only through the signalfd the loop watches.
        let signals: SignalReceiver
        do {
            signals = try SignalReceiver()
        } catch {
            log("tunwall: \(error)")
            return false
        }
        defer { signals.close() }

        let config: FirewallConfig
        do {
            config = try FirewallConfig.load(path: options.configPath)
        } catch {
            log("tunwall: \(error)")
            return false
        }
        var ruleset = Ruleset.empty
        if let path = config.rulesetPath {
            switch RulesetFile.load(path) {
            case .success(let loaded): ruleset = loaded
            case .failure(let error):
                log(error.message)
                return false
            }
        }
        let engine: Engine
        do {
            engine = try Engine(config.engineConfiguration, seed: UInt64(truncatingIfNeeded: Int(getpid())))
        } catch {
            log("tunwall: \(options.configPath): \(error)")
            return false
        }
        engine.replaceRuleset(ruleset)
        for (id, interface) in config.interfaces.enumerated() {
            for (direction, impairment) in interface.impair {
                engine.setImpairment(impairment, interface: id, direction: direction)
            }
        }
        let reloader = Reloader(engine: engine, path: config.rulesetPath)

        var devices: [TunDevice] = []
        defer { for device in devices { device.close() } }
        do {
            for interface in config.interfaces {
                let device = try TunDevice(name: interface.name, tap: interface.mode == .tap)
                devices.append(device)
                try device.setTransmitQueueLength(1000)
            }
        } catch {
            log("tunwall: \(error)")
            return false
        }
        let ip = IPCommand()
        for interface in config.interfaces {
            guard let namespace = interface.namespace else { continue }
            do {
                _ = try ip.run(["link", "set", "dev", interface.name, "netns", namespace])
            } catch {
                log("tunwall: \(error)")
                return false
            }
        }

        let control: ControlServer
        let runner: FirewallRunner
        do {
            try makeDirectory(for: options.controlPath)
            control = try ControlServer(path: options.controlPath)
            runner = try FirewallRunner(engine: engine, devices: devices, control: control, signals: signals)
        } catch {
            log("tunwall: \(error)")
            return false
        }
        defer { control.close() }
        do {
            if let pcapDirectory = options.pcapDirectory {
                runner.capture = try PacketCapture(directory: pcapDirectory, interfaceNames: config.interfaces.map(\.name),
                                                   linkTypes: config.interfaces.map { $0.mode == .tap ? .ethernet : .raw },
                                                   format: options.pcapFormat)
            }
            if options.narrate || options.traceJSONPath != nil {
                runner.traceOutput = try TraceOutput(narrated: options.narrate, jsonPath: options.traceJSONPath,
                                                     interfaces: config.interfaces.map {
                    (name: $0.name, host: options.hosts[$0.name], addresses: $0.addresses.map(\.description))
                }, segments: options.segments)
                engine.tracing = true
            }
        } catch {
            log("tunwall: \(error)")
            return false
        }
        defer {
            runner.capture?.close()
            runner.traceOutput?.close()
        }
        let names = config.interfaces.map { $0.name + ($0.namespace.map { " (in \($0))" } ?? "") }
        log("tunwall: ready; interfaces \(names.joined(separator: ", ")); control socket \(options.controlPath); "
            + "packet I/O \(runner.ioMode)")
        do {
            try runner.run(onReload: {
                log("tunwall: SIGHUP: " + reloader.reload(nil).message)
            }, handle: { request in
                ControlResponder.respond(to: request, engine: engine, reloader: reloader)
            })
        } catch {
            log("tunwall: \(error)")
            return false
        }
        log("tunwall: stopped")
        return true
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

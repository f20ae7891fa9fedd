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
import Conntrack
import Dispatch
import Engine
import Foundation
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
        var workers = options.workers ?? config.workers ?? WorkerGroup.allowedCPUs
        workers = min(max(workers, 1), SteeringDirectory.maximumWorkers)
        if workers > 1 && (options.narrate || options.traceJSONPath != nil || options.pcapDirectory != nil) {
            // A trace and a capture are one timeline, numbered in the order one engine saw the packets.
            if options.workers != nil || config.workers != nil { log("tunwall: --trace, --trace-json and --pcap run one worker") }
            workers = 1
        }
        if workers > 1 && config.interfaces.contains(where: { $0.mode == .tap }) {
            // The neighbour table and the Ethernet framing of handed-off
            // packets are one engine's: TAP interfaces run one worker for now.
            if options.workers != nil || config.workers != nil { log("tunwall: TAP interfaces run one worker") }
            workers = 1
        }
        // Each engine gets its own ruleset, read from the file: a ruleset
        // keeps state (counters) only its worker touches; the `limit rate`
        // buckets and `ct count` lists are shared (Ruleset.shareLimits).
        var engines: [Engine] = []
        for worker in 0..<workers {
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
                engine = try Engine(config.engineConfiguration,
                                    seed: UInt64(truncatingIfNeeded: Int(getpid())) &+ UInt64(worker) &* 0x9e37_79b9_7f4a_7c15)
            } catch {
                log("tunwall: \(options.configPath): \(error)")
                return false
            }
            if let first = engines.first { ruleset.shareLimits(with: first.ruleset) }
            engine.replaceRuleset(ruleset)
            engines.append(engine)
        }
        let engine = engines[0]
        for (id, interface) in config.interfaces.enumerated() {
            for (direction, impairment) in interface.impair {
                engine.setImpairment(impairment, interface: id, direction: direction)
            }
        }
        // Worker 0 alone impairs; the others send it what passes an impairment.
        for other in engines.dropFirst() { other.mirrorImpairments(of: engine) }
        let group: WorkerGroup? = workers > 1 ? WorkerGroup(count: workers) : nil
        let reloader = Reloader(engines: engines, path: config.rulesetPath)

        // One queue per worker of every device (IFF_MULTI_QUEUE with several
        // workers; with one, the plain single-queue device of before).
        var queues: [[TunDevice]] = Array(repeating: [], count: workers)
        defer { for device in queues.joined() { device.close() } }
        do {
            for interface in config.interfaces {
                for worker in 0..<workers {
                    let device = try TunDevice(name: interface.name, tap: interface.mode == .tap, multiQueue: workers > 1)
                    queues[worker].append(device)
                    if worker == 0 { try device.setTransmitQueueLength(1000) }
                }
            }
        } catch {
            log("tunwall: \(error)")
            return false
        }
        let devices = queues[0]
        var steeringMode = ""
        if workers > 1 {
            // The kernel queues packets by their ports (SteeringProgram) unless
            // bpf(2) is refused or TUNWALL_STEERING=kernel asks for its flow table.
            var exceptions: SteeringExceptions? = nil
            if getenv("TUNWALL_STEERING").map({ String(cString: $0) }) == "kernel" {
                steeringMode = "by the kernel's flow table (TUNWALL_STEERING=kernel)"
            } else {
                let (attached, reason) = SteeringProgram.attach(to: devices)
                exceptions = attached
                steeringMode = attached != nil ? "by ports (eBPF)" : "by the kernel's flow table (\(reason ?? "no program"))"
            }
            // Two tuples a connection in every shard, and the expectations.
            let capacity = config.engineConfiguration.conntrackCapacity
            let directory = SteeringDirectory(entries: min(capacity, 1 << 20) * 2 * workers
                                                + ExpectationTable.defaultCapacity * workers)
            for (worker, each) in engines.enumerated() {
                each.joinSteering(SteeringMembership(directory: directory, worker: worker, workers: workers,
                                                     kernelQueues: exceptions))
            }
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
        var others: [FirewallRunner] = []
        do {
            try makeDirectory(for: options.controlPath)
            control = try ControlServer(path: options.controlPath)
            runner = try FirewallRunner(engine: engine, devices: devices, control: control, signals: signals,
                                        group: group, worker: 0)
            for worker in 1..<workers {
                others.append(try FirewallRunner(engine: engines[worker], devices: queues[worker], control: nil,
                                                 signals: nil, group: group, worker: worker))
            }
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
        // Workers 1…N-1 on threads of their own, each pinned to a CPU of its
        // own where the system allows it; worker 0 (signals, control) here.
        let finished = DispatchGroup()
        for other in others {
            finished.enter()
            let handover = Handover(runner: other)
            let thread = Thread {
                // From here on this thread alone touches the runner and its engine.
                let other = handover.runner
                WorkerGroup.pinCurrentThread(other.worker)
                do {
                    try other.run(onReload: {}, handle: { _ in .text("") })
                } catch {
                    FileIO.writeAllOrGiveUp(2, Array("tunwall: worker \(other.worker): \(error)\n".utf8))
                }
                // TUNSETQUEUE IFF_DETACH_QUEUE: the kernel stops steering
                // packets to queues nobody reads any more.
                for device in other.devices { try? device.setQueueAttached(false) }
                group?.workerExited(other.worker)
                group?.stop()
                finished.leave()
            }
            thread.name = "tunwall-worker-\(other.worker)"
            thread.start()
        }
        if workers > 1 { WorkerGroup.pinCurrentThread(0) }
        let names = config.interfaces.map { $0.name + ($0.namespace.map { " (in \($0))" } ?? "") }
        log("tunwall: ready; interfaces \(names.joined(separator: ", ")); control socket \(options.controlPath); "
            + "packet I/O \(runner.ioMode)" + (workers > 1 ? "; \(workers) workers, packets queued \(steeringMode)" : ""))
        var failed = false
        do {
            try runner.run(onReload: {
                let message = withWorkersParked(group) { reloader.reload(nil).message }
                log("tunwall: SIGHUP: " + message)
            }, handle: { request in
                guard group != nil, ControlResponder.needsAllEngines(request) else {
                    return ControlResponder.respond(to: request, engines: engines, reloader: reloader)
                }
                return withWorkersParked(group) { ControlResponder.respond(to: request, engines: engines, reloader: reloader) }
            })
        } catch {
            log("tunwall: \(error)")
            failed = true
        }
        group?.workerExited(0)
        group?.stop()
        finished.wait()
        if failed { return false }
        log("tunwall: stopped")
        return true
    }

    /// A worker's runner on its way to the thread that will own it.
    struct Handover: @unchecked Sendable {
        let runner: FirewallRunner
    }

    /// Runs `body` on worker 0 with the other workers parked (one worker: at once).
    static func withWorkersParked<T>(_ group: WorkerGroup?, _ body: () -> T) -> T {
        guard let group else { return body() }
        return group.withOthersParked(caller: 0, body)
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

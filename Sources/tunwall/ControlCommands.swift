// `tunwall stats` (and, through `ask`, the other control commands): ask a running firewall over its
// control socket. Which firewall: `--socket PATH`, or `--lab NAME`, or the
// only lab that is up, or `tunwall run`'s default socket.

#if canImport(Glibc)
import Glibc
#endif
import Firewall
import Lab

enum ControlCommands {
    static func stats(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.isEmpty else { return Commands.usageError(arguments, "unexpected argument '\(arguments.words[0])'") }
        guard let path = socketPath(arguments) else { return 2 }
        // --json: one StatisticsRecord (StatisticsRecord.swift), for scripts.
        guard let response = ask(arguments.has("--json") ? .statsJSON : .stats, path) else { return 1 }
        print(response, terminator: "")
        return 0
    }

    /// `tunwall neigh`: the firewall's neighbour table, one line per entry as
    /// `ip neigh` prints it (`10.0.1.2 dev lan0 lladdr 02:… REACHABLE`);
    /// empty when no interface is TAP.
    static func neighbours(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.isEmpty else { return Commands.usageError(arguments, "unexpected argument '\(arguments.words[0])'") }
        guard let path = socketPath(arguments) else { return 2 }
        guard let response = ask(.neighbours, path) else { return 1 }
        print(response, terminator: "")
        return 0
    }

    static func ask(_ request: ControlRequest, _ path: String) -> String? {
        do {
            let response = try request.send(to: path)
            if response.hasPrefix("error: ") {
                Output.error("tunwall: \(response.dropFirst(7))")
                return nil
            }
            return response
        } catch {
            Output.error("tunwall: \(error) (is the firewall running?)")
            return nil
        }
    }

    /// `--socket PATH` or `--lab NAME`; otherwise the only lab up, otherwise
    /// the default socket of `tunwall run`. Nil after a usage error (printed).
    static func socketPath(_ arguments: ParsedArguments) -> String? {
        socketPath(socket: arguments.value("--socket"), lab: arguments.value("--lab")) { message in
            _ = Commands.usageError(arguments, message)
        }
    }

    static func socketPath(socket: String?, lab: String?, usageError: (String) -> Void) -> String? {
        switch (socket, lab) {
        case (let socket?, nil): return socket
        case (nil, let lab?): return Lab.controlSocketPath(lab)
        case (nil, nil):
            let labs = runningLabs()
            return labs.count == 1 ? Lab.controlSocketPath(labs[0]) : RunOptions.defaultControlPath
        case (.some, .some):
            usageError("give --socket or --lab, not both")
            return nil
        }
    }

    /// Labs whose control socket exists.
    static func runningLabs() -> [String] {
        guard let directory = opendir(Lab.defaultStateRoot) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            if access(Lab.controlSocketPath(name), F_OK) == 0 { names.append(name) }
        }
        return names.sorted()
    }
}

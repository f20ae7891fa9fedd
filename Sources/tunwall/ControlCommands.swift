// `tunwall conntrack -L [-o json]` and `tunwall stats [--json]`: ask a running firewall over its
// control socket. Which firewall: `--socket PATH`, or `--lab NAME`, or the
// only lab that is up, or `tunwall run`'s default socket.

#if canImport(Glibc)
import Glibc
#endif
import Firewall
import Lab

enum ControlCommands {
    static func conntrack(_ arguments: [String]) -> Int32 {
        let usage = "usage: tunwall conntrack -L [expect] [-o json] | -E [--socket PATH | --lab NAME]"
        guard let mode = arguments.first, mode == "-L" || mode == "-E" else { return Commands.usageError(usage) }
        var rest = Array(arguments.dropFirst())
        // `conntrack -L expect` lists expectations, as conntrack-tools does.
        let expect = mode == "-L" && rest.first == "expect"
        if expect { rest.removeFirst() }
        // `-o json`: the same as JSON (ConntrackRecords.swift), for scripts.
        var json = false
        if mode == "-L", let at = rest.firstIndex(of: "-o"), at + 1 < rest.count {
            guard rest[at + 1] == "json" else { return Commands.usageError("conntrack: unknown output format '\(rest[at + 1])' (json); \(usage)") }
            json = true
            rest.removeSubrange(at...(at + 1))
        }
        guard let path = socketPath(rest) else {
            return Commands.usageError(usage)
        }
        if json {
            guard let response = ask(expect ? .expectationJSON : .conntrackJSON, path) else { return 1 }
            print(response, terminator: "")
            return 0
        }
        if mode == "-E" {
            // Events as they happen, until the firewall stops or Ctrl-C /
            // SIGTERM end us. A parent may have left those signals blocked
            // (test runners do), and a blocked SIGTERM would never stop us.
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGINT)
            sigaddset(&signals, SIGTERM)
            pthread_sigmask(SIG_UNBLOCK, &signals, nil)
            do {
                try ControlRequest.events.stream(from: path) { text in Output.unbuffered(text, to: 1) }
                return 0
            } catch {
                Output.error("tunwall: \(error) (is the firewall running?)")
                return 1
            }
        }
        guard let response = ask(expect ? .expectationList : .conntrackList, path) else { return 1 }
        print(response, terminator: "")
        let count = response.split(separator: "\n").count
        // conntrack-tools prints its footer on stderr too.
        Output.error("tunwall conntrack: \(count) \(expect ? "expectations" : "flow entries") have been shown.")
        return 0
    }

    static func stats(_ arguments: [String]) -> Int32 {
        let json = arguments.contains("--json")
        guard let path = socketPath(arguments.filter { $0 != "--json" }) else {
            return Commands.usageError("usage: tunwall stats [--json] [--socket PATH | --lab NAME]")
        }
        guard let response = ask(json ? .statsJSON : .stats, path) else { return 1 }
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
    /// the default socket of `tunwall run`. Nil on a usage error.
    static func socketPath(_ arguments: [String]) -> String? {
        switch arguments.count {
        case 0:
            let labs = runningLabs()
            return labs.count == 1 ? Lab.controlSocketPath(labs[0]) : RunOptions.defaultControlPath
        case 2 where arguments[0] == "--socket":
            return arguments[1]
        case 2 where arguments[0] == "--lab":
            return Lab.controlSocketPath(arguments[1])
        default:
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

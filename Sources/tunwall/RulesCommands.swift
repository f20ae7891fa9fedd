// The ruleset commands: `tunwall check FILE` (like `nft -c -f FILE`: silent
// and exit 0 when the file is good, nft-style errors and exit 1 when not),
// `tunwall list ruleset` and `tunwall reload [FILE]` (ask a running firewall).

import Firewall
import Rules
#if canImport(Glibc)
import Glibc
#endif

enum RulesCommands {
    static func check(_ arguments: [String]) -> Int32 {
        guard arguments.count == 1 else { return Commands.usageError("usage: tunwall check FILE") }
        do {
            _ = try Ruleset.load(path: arguments[0])
            return 0
        } catch {
            Output.error(error.description)
            return 1
        }
    }

    static func list(_ arguments: [String]) -> Int32 {
        let usage = "usage: tunwall list ruleset [--socket PATH | --lab NAME]"
        guard arguments.first == "ruleset", let path = ControlCommands.socketPath(Array(arguments.dropFirst())) else {
            return Commands.usageError(usage)
        }
        guard let response = ControlCommands.ask(.listRuleset, path) else { return 1 }
        print(response, terminator: "")
        return 0
    }

    /// `tunwall reload [FILE] [--socket PATH | --lab NAME]`: the file is
    /// passed as an absolute path, since the firewall runs elsewhere.
    static func reload(_ arguments: [String]) -> Int32 {
        let usage = "usage: tunwall reload [FILE] [--socket PATH | --lab NAME]"
        var rest = arguments
        var file: String?
        if let first = rest.first, !first.hasPrefix("-") {
            file = absolute(first)
            rest.removeFirst()
        }
        guard let path = ControlCommands.socketPath(rest) else { return Commands.usageError(usage) }
        guard let response = ControlCommands.ask(.reload(path: file), path) else { return 1 }
        Output.error("tunwall: " + response.trimmingWhitespace())
        return 0
    }

    static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let directory = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return directory + "/" + path
    }
}

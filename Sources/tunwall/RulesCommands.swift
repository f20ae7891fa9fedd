// The ruleset commands: `tunwall check FILE` (like `nft -c -f FILE`: silent
// and exit 0 when the file is good, nft-style errors and exit 1 when not),
// `tunwall list ruleset` and `tunwall reload [FILE]` (ask a running firewall).

import Firewall
import Rules
#if canImport(Glibc)
import Glibc
#endif

enum RulesCommands {
    static func check(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.count == 1, let file = arguments.words.first else {
            return Commands.usageError(arguments, arguments.words.isEmpty ? "missing FILE" : "expected one FILE")
        }
        do {
            _ = try Ruleset.load(path: file)
            return 0
        } catch {
            Output.error(error.description)
            return 1
        }
    }

    static func list(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.isEmpty else { return Commands.usageError(arguments, "unexpected argument '\(arguments.words[0])'") }
        guard let path = ControlCommands.socketPath(arguments) else { return 2 }
        guard let response = ControlCommands.ask(.listRuleset, path) else { return 1 }
        print(response, terminator: "")
        return 0
    }

    /// `tunwall reload [FILE] [--socket PATH | --lab NAME]`: the file is
    /// passed as an absolute path, since the firewall runs elsewhere.
    static func reload(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.count <= 1 else { return Commands.usageError(arguments, "expected at most one FILE") }
        let file = arguments.words.first.map(absolute)
        guard let path = ControlCommands.socketPath(arguments) else { return 2 }
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

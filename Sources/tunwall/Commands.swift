// Dispatch of `tunwall <command> ...` through the command table
// (CommandTable.swift) to the command implementations, and the usage text
// that `tunwall --help` prints, made from the same table.

#if canImport(Glibc)
import Glibc
import SystemIO
#endif
import Firewall

enum Commands {
    static let version = TunwallVersion.current

    /// `tunwall --help`: every command of the table with its summary.
    static var usage: String {
        var text = "tunwall \(version): a stateful firewall and NAT router in userspace on Linux TUN devices.\n\n"
        text += "Usage: tunwall <command> [arguments]\n\nCommands:\n"
        for spec in CommandTable.all where !spec.hidden && spec.action.isLeaf {
            for line in spec.usage where !line.hasPrefix("-") { text += "  \(line)\n" }
            text += wrap(spec.summary, indent: 6)
        }
        text += """

            Every command answers --help (-h); options take their value as --opt VALUE or --opt=VALUE.
            -V, --version prints the version.

            Exit status: 0 success, 1 failure (e.g. an unreadable or damaged file),
            2 usage error.
            """
        return text
    }

    static func run(_ arguments: [String]) -> Int32 {
        guard let first = arguments.first else {
            Output.error(usage)
            return 2
        }
        switch first {
        case "-h", "--help":
            Output.line(usage)
            return 0
        case "-V", "--version":
            return arguments.count == 1 ? printVersion(ParsedArguments()) : usageError("'\(first)' takes no arguments")
        default:
            break
        }
        // The longest path of command words the table knows: "lab up", "ftp get".
        var spec: CommandSpec?
        var consumed = 0
        while consumed < arguments.count, let next = CommandTable.spec((spec?.path ?? []) + [arguments[consumed]]) {
            spec = next
            consumed += 1
        }
        guard let spec else {
            if first.hasPrefix("-") { return usageError(CommandSpec.unknownOption(first, among: ["--help", "-h", "--version", "-V"])) }
            return usageError(unknown("command", first, among: CommandTable.children(of: []).map(\.name)))
        }
        let rest = Array(arguments.dropFirst(consumed))
        switch spec.action {
        case .group:
            let children = CommandTable.children(of: spec.path).map { $0.path.last ?? "" }
            guard let word = rest.first else {
                return usageError(spec, "needs a subcommand: \(children.joined(separator: ", "))")
            }
            if ["-h", "--help", "help"].contains(word) {
                Output.line(groupHelp(spec))
                return 0
            }
            return usageError(spec, unknown("subcommand", word, among: children))
        case .raw(let run):
            if let word = rest.first, word == "-h" || word == "--help" {
                Output.line(spec.help)
                return 0
            }
            return run(rest)
        case .parsed(let run):
            switch spec.parse(rest) {
            case .help:
                Output.line(spec.help)
                return 0
            case .usageError(let message):
                return usageError(spec, message)
            case .parsed(var parsed):
                parsed.command = spec.path
                return run(parsed)
            }
        }
    }

    static func printVersion(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.isEmpty else { return usageError("'version' takes no arguments") }
        Output.line("tunwall \(version)")
        return 0
    }

    /// `tunwall help [COMMAND...]`.
    static func helpCommand(_ arguments: [String]) -> Int32 {
        guard !arguments.isEmpty else {
            Output.line(usage)
            return 0
        }
        guard let spec = CommandTable.spec(arguments) else {
            return usageError(unknown("command", arguments.joined(separator: " "), among: CommandTable.all.map(\.name)))
        }
        Output.line(spec.action.isLeaf ? spec.help : groupHelp(spec))
        return 0
    }

    /// `tunwall lab --help`: the subcommands' usage, then the group's details.
    static func groupHelp(_ spec: CommandSpec) -> String {
        var text = "Usage:\n" + spec.usage.map { "  tunwall \($0)\n" }.joined() + "\n\(spec.summary)\n"
        if !spec.details.isEmpty { text += "\n" + spec.details }
        text += "\n'tunwall \(spec.name) SUBCOMMAND --help' says more about each."
        return text
    }

    /// "unknown command 'lsit' (did you mean 'list'?)".
    static func unknown(_ kind: String, _ word: String, among candidates: [String]) -> String {
        var message = "unknown \(kind) '\(word)'"
        if let nearest = CommandSpec.nearest(to: word, among: candidates) { message += " (did you mean '\(nearest)'?)" }
        return message
    }

    static func usageError(_ message: String) -> Int32 {
        Output.error("tunwall: \(message)\nRun 'tunwall --help' for usage.")
        return 2
    }

    /// "tunwall: lab up: MESSAGE", the command's usage, and where its help is.
    static func usageError(_ spec: CommandSpec, _ message: String) -> Int32 {
        let usages = spec.usage.filter { !$0.hasPrefix("-") }.map { "usage: tunwall \($0)" }.joined(separator: "\n")
        Output.error("tunwall: \(spec.name): \(message)\n\(usages)\nRun 'tunwall \(spec.name) --help' for more.")
        return 2
    }

    /// A usage error of the command that `arguments` were parsed for.
    static func usageError(_ arguments: ParsedArguments, _ message: String) -> Int32 {
        guard let spec = CommandTable.spec(arguments.command) else { return usageError(message) }
        return usageError(spec, message)
    }

    /// `text` broken into lines of at most 90 columns, each indented.
    static func wrap(_ text: String, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > 90 - indent {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines.map { pad + $0 + "\n" }.joined()
    }
}

extension CommandSpec.Action {
    /// A command that runs (not a group of subcommands).
    var isLeaf: Bool {
        if case .group = self { return false }
        return true
    }
}

/// Writes to stdout (print, flushed at exit) and stderr (unbuffered).
enum Output {
    static func line(_ text: String) {
        print(text)
    }

    static func error(_ text: String) {
        var message = text
        if !message.hasSuffix("\n") { message += "\n" }
        unbuffered(message, to: 2)
    }

    /// write(2) straight to `fd`, for stderr and for streams that must show
    /// each line as it comes (the C `stdout`/`stderr` globals are shared
    /// mutable state Swift 6 rejects).
    static func unbuffered(_ text: String, to fd: Int32) {
        FileIO.writeAllOrGiveUp(fd, Array(text.utf8))
    }
}

// What a command is, once, for everything that needs to know: the parser
// (options, `--opt=value`, `--help`), the help text, the bash completion
// (`tunwall completion bash`) and the test that holds docs/tunwall.8 to the
// same list. CommandTable.swift holds the commands themselves.
//
// Parsing follows getopt_long's conventions, which people's hands know:
// `--name VALUE` and `--name=VALUE`, `--` ends the options, `-h`/`--help`
// anywhere before `--` prints the command's help on stdout (exit 0). An
// unknown option is named with the nearest valid one (edit distance), as git
// and cargo do: `unknown option '--nmae' (did you mean '--name'?)`.

import Firewall

struct OptionSpec: Sendable {
    /// The canonical name first ("--daemon"), then aliases ("-d").
    let names: [String]
    /// The value's placeholder ("NAME"); nil for a flag.
    let value: String?
    let help: String
    /// Left out of help and completion (options one tunwall passes another).
    var hidden = false

    var name: String { names[0] }

    static func flag(_ names: String..., help: String) -> OptionSpec {
        OptionSpec(names: names, value: nil, help: help)
    }

    static func valued(_ names: String..., value: String, help: String) -> OptionSpec {
        OptionSpec(names: names, value: value, help: help)
    }

    /// `--socket PATH | --lab NAME`: which running firewall the control commands ask.
    static let target: [OptionSpec] = [
        .valued("--socket", value: "PATH", help: "the firewall's control socket"),
        .valued("--lab", value: "NAME", help: "the firewall of lab NAME (default: the only lab up, else tunwall run's socket)"),
    ]
}

struct CommandSpec: Sendable {
    enum Action: Sendable {
        /// Options parsed by the table's parser.
        case parsed(@Sendable (ParsedArguments) -> Int32)
        /// The command reads its own arguments (conntrack's own grammar);
        /// the table still answers `--help` and lists the options.
        case raw(@Sendable ([String]) -> Int32)
        /// A command with subcommands (`lab`, `ftp`).
        case group
    }

    /// The words that name it: ["lab", "up"].
    let path: [String]
    /// One usage line per form, without "usage: ".
    let usage: [String]
    /// One line for `tunwall --help`.
    let summary: String
    var options: [OptionSpec] = []
    /// What `--help` adds below the options.
    var details = ""
    /// Completion candidates for the words that are not options (besides files).
    var words: [String] = []
    /// Options are read only before the first word (`lab exec HOST CMD -x`).
    var optionsBeforeWordsOnly = false
    /// Left out of `tunwall --help` (still answers --help, still completed).
    var hidden = false
    let action: Action

    var name: String { path.joined(separator: " ") }

    var help: String {
        var text = "Usage:\n" + usage.map { "  tunwall \($0)\n" }.joined() + "\n\(summary)\n\nOptions:\n"
        let shown = options.filter { !$0.hidden } + [.flag("-h", "--help", help: "print this help")]
        let labels = shown.map { $0.names.joined(separator: ", ") + ($0.value.map { " " + $0 } ?? "") }
        let width = min(26, (labels.map(\.count).max() ?? 0) + 2)
        for (label, option) in zip(labels, shown) {
            // A label too long for the column gets the help on its own line.
            let gap = label.count < width ? String(repeating: " ", count: width - label.count)
                : "\n" + String(repeating: " ", count: width + 2)
            text += "  \(label)\(gap)\(option.help)\n"
        }
        if !details.isEmpty { text += "\n" + details + (details.hasSuffix("\n") ? "" : "\n") }
        return text
    }

    func option(named name: String) -> OptionSpec? {
        options.first { $0.names.contains(name) }
    }

    /// Every option name, for suggestions and completion.
    var optionNames: [String] {
        options.filter { !$0.hidden }.flatMap(\.names) + ["--help", "-h"]
    }
}

/// What the parser found: options by canonical name, the other words, and
/// what came after `--`.
struct ParsedArguments: Sendable {
    var values: [String: String] = [:]
    var flags: Set<String> = []
    var words: [String] = []
    /// Everything after `--` (or after the first word, for optionsBeforeWordsOnly).
    var rest: [String] = []
    var sawDashes = false
    /// The command's words ("lab", "up"), for its usage errors.
    var command: [String] = []

    func value(_ name: String) -> String? { values[name] }
    func has(_ flag: String) -> Bool { flags.contains(flag) }
}

enum ParseOutcome {
    case parsed(ParsedArguments)
    case help
    case usageError(String)
}

extension CommandSpec {
    func parse(_ arguments: [String]) -> ParseOutcome {
        var parsed = ParsedArguments()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                parsed.sawDashes = true
                parsed.rest = Array(arguments[index...])
                break
            }
            if argument == "-h" || argument == "--help" { return .help }
            guard argument.hasPrefix("-"), argument != "-" else {
                if optionsBeforeWordsOnly {
                    parsed.words.append(argument)
                    parsed.rest = Array(arguments[index...])
                    if parsed.rest.first == "--" {
                        parsed.sawDashes = true
                        parsed.rest.removeFirst()
                    }
                    break
                }
                parsed.words.append(argument)
                continue
            }
            var name = argument
            var inline: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            guard let option = option(named: name) else {
                return .usageError(Self.unknownOption(name, among: optionNames))
            }
            if option.value == nil {
                guard inline == nil else { return .usageError("option '\(name)' takes no value") }
                parsed.flags.insert(option.name)
                continue
            }
            if inline == nil {
                guard index < arguments.count else {
                    return .usageError("option '\(name)' needs a value (\(option.value ?? "VALUE"))")
                }
                inline = arguments[index]
                index += 1
            }
            parsed.values[option.name] = inline
        }
        return .parsed(parsed)
    }

    /// "unknown option '--nmae' (did you mean '--name'?)": the nearest by edit
    /// distance, when it is near enough to be a typo rather than another word.
    static func unknownOption(_ name: String, among candidates: [String]) -> String {
        var message = "unknown option '\(name)'"
        if let nearest = nearest(to: name, among: candidates) { message += " (did you mean '\(nearest)'?)" }
        return message
    }

    static func nearest(to word: String, among candidates: [String]) -> String? {
        let limit = max(2, word.count / 3)
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(word, candidate)
            if distance <= limit, distance < (best?.1 ?? Int.max) { best = (candidate, distance) }
        }
        return best?.0
    }
}

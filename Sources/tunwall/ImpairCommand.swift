// `tunwall impair IF [in|out] WORDS… | show | clear [--socket PATH | --lab NAME]`:
// changes a running firewall's impairments over its control socket
// (ImpairRequest.swift answers). The words are netem's (tc-netem(8)), checked
// here first so that a typo is a usage error before anything is sent; the
// firewall checks them again and keeps what runs if they are refused.
//
//   tunwall impair wan0 out delay 50ms 10ms loss 2% rate 10mbit --lab mylab
//   tunwall impair wan0 show
//   tunwall impair wan0 clear

import Engine
import Firewall

enum ImpairCommand {
    static func run(_ arguments: ParsedArguments) -> Int32 {
        let words = arguments.words
        guard let interface = words.first else { return Commands.usageError(arguments, "name an interface") }
        guard let path = ControlCommands.socketPath(arguments) else { return 2 }
        var rest = Array(words.dropFirst())
        if let first = rest.first, ImpairmentDirection(rawValue: first) != nil { rest.removeFirst() }
        if rest.isEmpty || rest == ["show"] || rest == ["clear"] {
            // Checked by the firewall: which interfaces it has.
        } else {
            do {
                _ = try Impairment.parse(words: rest)
            } catch {
                return Commands.usageError(arguments, "\(error)")
            }
        }
        guard let response = ControlCommands.ask(.impair(interface: interface, words: Array(words.dropFirst())), path) else {
            return 1
        }
        print(response, terminator: "")
        return 0
    }
}

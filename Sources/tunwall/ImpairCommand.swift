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
    static let usage = "usage: tunwall impair IF [in|out] WORDS... | IF show | IF [in|out] clear [--socket PATH | --lab NAME]\n"
        + "  WORDS: delay TIME [JITTER [CORR]] [distribution uniform|normal], loss [random] P [CORR],\n"
        + "  loss gemodel p [r [1-h [1-k]]], duplicate P [CORR], reorder P [CORR] [gap N], corrupt P [CORR],\n"
        + "  rate RATE, limit PACKETS, seed N (as tc-netem(8): 50ms, 2%, 10mbit)"

    static func run(_ arguments: [String]) -> Int32 {
        var words = arguments
        var target: [String] = []
        if words.count >= 2, ["--socket", "--lab"].contains(words[words.count - 2]) {
            target = Array(words.suffix(2))
            words.removeLast(2)
        }
        guard let interface = words.first, !interface.hasPrefix("-"), let path = ControlCommands.socketPath(target) else {
            return Commands.usageError(usage)
        }
        var rest = Array(words.dropFirst())
        if let first = rest.first, ImpairmentDirection(rawValue: first) != nil { rest.removeFirst() }
        if rest.isEmpty || rest == ["show"] || rest == ["clear"] {
            // Checked by the firewall: which interfaces it has.
        } else {
            do {
                _ = try Impairment.parse(words: rest)
            } catch {
                return Commands.usageError("impair: \(error)\n\(usage)")
            }
        }
        guard let response = ControlCommands.ask(.impair(interface: interface, words: Array(words.dropFirst())), path) else {
            return 1
        }
        print(response, terminator: "")
        return 0
    }
}

// `tunwall nft [--socket PATH | --lab NAME] COMMAND…`: nft's commands on a
// running firewall's ruleset, as `nft COMMAND…` on the kernel's:
//
//   tunwall nft add element inet filter allowed { 10.0.1.5 }
//   tunwall nft delete rule inet filter forward handle 7
//   tunwall nft list ruleset -a   (-j: as JSON, nft's schema)
//   tunwall nft -f FILE            (a script: flush ruleset, tables, add/insert/delete …)
//
// Silent with exit 0 when the change is made; nft's error text on stderr and
// exit 1 when it is refused (the running ruleset stays as it was).

import Firewall

enum NFTCommand {
    static let usage = "usage: tunwall nft [--socket PATH | --lab NAME] [-a] [-j] COMMAND... | -f FILE"

    static func run(_ arguments: [String]) -> Int32 {
        var words: [String] = []
        var socket: String?, lab: String?
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if (word == "--socket" || word == "--lab"), index + 1 < arguments.count {
                if word == "--socket" { socket = arguments[index + 1] } else { lab = arguments[index + 1] }
                index += 2
                continue
            }
            words.append(word)
            index += 1
        }
        guard !words.isEmpty else { return Commands.usageError(usage) }
        var refused = false
        guard let path = ControlCommands.socketPath(socket: socket, lab: lab, usageError: { message in
            refused = true
            _ = Commands.usageError("nft: \(message)")
        }) else { return refused ? 2 : 1 }
        var command = words.joined(separator: " ")
        if words.first == "-f" {
            guard words.count == 2 else { return Commands.usageError(usage) }
            command = "-f " + RulesCommands.absolute(words[1])
        }
        do {
            let response = try ControlRequest.nft(command).send(to: path)
            if response.hasPrefix("error: ") {
                Output.error(String(response.dropFirst(7)).trimmingWhitespace())
                return 1
            }
            print(response, terminator: "")
            return 0
        } catch {
            Output.error("tunwall: \(error) (is the firewall running?)")
            return 1
        }
    }
}

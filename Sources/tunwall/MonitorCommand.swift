// `tunwall monitor trace`: what `nft monitor trace` is for the kernel. It
// follows a running firewall (over its control socket, as `conntrack -E`
// does) and prints the trace of every packet a rule marks with `meta nftrace
// set 1`, as it happens, until Ctrl-C or until the firewall stops: nft's
// line for the marking rule, then tunwall's narration of the packet's way
// (TraceMark.swift). `--all` traces every packet while it runs, as `--trace`
// does for the firewall's whole life.
//
//   $ tunwall monitor trace --lab web
//   trace id 00000001 inet filter forward rule tcp dport 8080 meta nftrace set 1 (verdict continue) at web.nft:9
//   #1 lan0 IP 10.0.1.2.40000 > 203.0.113.10.8080: Flags [S], ...
//   #1   conntrack: new, original direction
//   ...

#if canImport(Glibc)
import Glibc
#endif
import Firewall

enum MonitorCommand {
    static func trace(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.isEmpty else { return Commands.usageError(arguments, "unexpected argument '\(arguments.words[0])'") }
        guard let path = ControlCommands.socketPath(arguments) else { return 2 }
        ControlCommands.unblockStopSignals()
        // A firewall that does not know the request (an older tunwall) answers
        // "error: …" and hangs up.
        var refused = false
        do {
            try ControlRequest.monitorTrace(all: arguments.has("--all")).stream(from: path) { text in
                if text.hasPrefix("error: ") {
                    refused = true
                    Output.error("tunwall: \(text.dropFirst(7))")
                } else {
                    Output.unbuffered(text, to: 1)
                }
            }
        } catch {
            Output.error("tunwall: \(error) (is the firewall running?)")
            return 1
        }
        return refused ? 1 : 0
    }
}

// `tunwall impair` as the running firewall answers it (ControlRequest's
// `impair IF …` line): show, clear, or set one direction of one interface
// from netem's words. Words that do not parse are refused with the reason,
// and the impairments in force stay as they were.
//
//   impair wan0 out delay 50ms loss 2%   →  "wan0 out: delay 50ms loss 2%"
//   impair wan0 delay 50ms                →  the same (out when no direction is named, as netem on egress)
//   impair wan0 show                      →  both directions with their counters
//   impair wan0 clear / impair wan0 in clear

import Engine

public enum ImpairRequest {
    /// Several workers: only worker 0's engine impairs (a rate or a loss
    /// pattern is one queue's; N workers would each apply it, N times the
    /// rate); the others learn which stages are on and send it the packets
    /// that pass one (SteeringStage.swift). The caller has them parked.
    public static func answer(interface name: String, words: [String], engines: [Engine]) -> String {
        guard let engine = engines.first else { return "error: no engine\n" }
        let answer = answer(interface: name, words: words, engine: engine)
        for other in engines.dropFirst() { other.mirrorImpairments(of: engine) }
        return answer
    }

    public static func answer(interface name: String, words: [String], engine: Engine) -> String {
        guard let interface = engine.interfaceID(named: name) else {
            let names = engine.interfaces.map(\.name).joined(separator: ", ")
            return "error: impair: no interface named \"\(name)\" (the firewall has \(names))\n"
        }
        var rest = words[...]
        var direction: ImpairmentDirection? = nil
        if let first = rest.first, let named = ImpairmentDirection(rawValue: first) {
            direction = named
            rest = rest.dropFirst()
        }
        if rest.isEmpty || rest == ["show"] {
            guard direction == nil || rest.isEmpty else { return "error: impair: show takes no direction\n" }
            return engine.impairmentListing(interface: interface)
        }
        if rest == ["clear"] {
            for each in direction.map({ [$0] }) ?? ImpairmentDirection.allCases {
                engine.setImpairment(Impairment(), interface: interface, direction: each)
            }
            return engine.impairmentListing(interface: interface)
        }
        let impairment: Impairment
        do {
            impairment = try Impairment.parse(words: Array(rest))
        } catch {
            return "error: impair \(name): \(error)\nthe running impairments are unchanged\n"
        }
        let chosen = direction ?? .out
        engine.setImpairment(impairment, interface: interface, direction: chosen)
        return "\(name) \(chosen.rawValue): \(impairment.description)\n"
    }
}

// Impairments as `tunwall stats` and `tunwall impair IF show` print them:
// each direction's settings in netem's words and what it did.
//
//   impairments (held now: 12):
//     wan0 out: delay 50ms loss 2%
//       packets 1000  delayed 980  lost 20  duplicated 0  reordered 0  corrupted 0  queue-full 0  rate-limited 0

extension Engine {
    /// The stats section: every direction that is on or did something; none
    /// at all when impairments were never used.
    func impairmentReport() -> [String] {
        var lines: [String] = []
        for interface in interfaces.indices {
            for direction in ImpairmentDirection.allCases {
                let stage = impairmentStages[Self.stageIndex(interface, direction)]
                guard stage.active || stage.counters.packets > 0 else { continue }
                lines += impairmentLines(interface, direction)
            }
        }
        guard !lines.isEmpty else { return [] }
        return ["", "impairments (held now: \(impairmentQueue.count)):"] + lines
    }

    /// `tunwall impair IF show`: both directions of one interface.
    public func impairmentListing(interface: InterfaceID) -> String {
        guard interface >= 0, interface < interfaces.count else { return "" }
        return ImpairmentDirection.allCases.flatMap { impairmentLines(interface, $0) }.joined(separator: "\n") + "\n"
    }

    private func impairmentLines(_ interface: InterfaceID, _ direction: ImpairmentDirection) -> [String] {
        let stage = impairmentStages[Self.stageIndex(interface, direction)]
        let c = stage.counters
        return ["  \(interfaces[interface].name) \(direction.rawValue): \(stage.settings.description)",
                "    packets \(c.packets)  delayed \(c.delayed)  lost \(c.lost)  duplicated \(c.duplicated)  "
                    + "reordered \(c.reordered)  corrupted \(c.corrupted)  queue-full \(c.queueDropped)  "
                    + "rate-limited \(c.rateLimited)  held \(stage.held)"]
    }
}

// One fuzz input through the nftables-subset language: the text goes through
// lexer, parser, resolver, validator and compiler (Ruleset.parse); an error
// must come back as RuleErrors with printable line:column messages. A ruleset
// that compiles is bound to interface names, evaluated at every hook for a
// few packets of both families (filter chains and nat chains, as the engine
// runs them), listed as `tunwall list ruleset` prints it, and the listing is
// parsed again.

import Conntrack
import Rules
import Wire

enum RulesInput {
    static let interfaceNames = ["lan0", "wan0", "dmz0", "wan1"]

    static func run(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        let ruleset: Ruleset
        do {
            ruleset = try Ruleset.parse(text, file: "fuzz.nft", includes: false)
        } catch {
            for rule in error.errors { _ = (rule.description, rule.caretLine) }
            return
        }
        ruleset.bind(interfaceNames: interfaceNames)
        var log: [String] = []
        for var packet in packets {
            for hook in Hook.allCases {
                var filtered = packet
                _ = ruleset.evaluate(hook, &filtered, log: &log)
                if let decision = ruleset.decision(filtered.decision) { _ = decision.location }
                if ruleset.hasNATChains(hook) { _ = ruleset.evaluateNAT(hook, &packet, log: &log) }
            }
        }
        _ = ruleset.counterValues
        let listing = ruleset.listing()
        _ = ruleset.listing(handles: true)
        // What `tunwall list ruleset` prints is itself a ruleset; parsing it must not trap either.
        _ = try? Ruleset.parse(listing, file: "listing.nft", includes: false)
        // The input's last line as a live command on the ruleset (`tunwall nft …`).
        if let last = text.split(separator: "\n").last, !last.contains("include") {
            _ = try? ruleset.applying(String(last))
        }
    }

    /// Packets that reach the common matches: TCP new/established, UDP, ICMP errors, IPv6, a fragment.
    static let packets: [RulePacket] = {
        func packet(_ family: AddressFamily, _ source: String, _ destination: String, _ proto: IPProtocol,
                    _ sport: UInt16, _ dport: UInt16, flags: TCPFlags = [], state: ConnState = .new,
                    input: Int = 0, output: Int = 1) -> RulePacket {
            var p = RulePacket()
            p.family = family
            p.source = wide(source)
            p.destination = wide(destination)
            p.l4Protocol = proto
            p.sourcePort = sport
            p.destinationPort = dport
            p.tcpFlags = flags
            p.ctState = state
            p.inputInterface = input
            p.outputInterface = output
            p.length = 60
            p.ttl = 64
            p.helper = .none
            return p
        }
        var icmp = packet(.ipv4, "203.0.113.10", "10.0.1.2", .icmp, 0, 0, state: .related, input: 1, output: 0)
        icmp.icmpType = 3
        icmp.icmpCode = 3
        var echo6 = packet(.ipv6, "fd00:1::2", "2001:db8:1::10", .icmpv6, 0, 0)
        echo6.icmpType = 128
        var fragment = packet(.ipv4, "10.0.1.2", "203.0.113.10", .udp, 0, 0, state: .untracked)
        fragment.dontFragment = false
        return [
            packet(.ipv4, "10.0.1.2", "203.0.113.10", .tcp, 40000, 21, flags: .syn),
            packet(.ipv4, "203.0.113.10", "203.0.113.1", .tcp, 50000, 2121, flags: .syn, input: 1, output: -1),
            packet(.ipv4, "10.0.1.2", "203.0.113.10", .tcp, 40000, 80, flags: [.ack, .psh], state: .established),
            packet(.ipv4, "10.0.2.10", "198.51.100.7", .udp, 5353, 53, input: 2, output: 1),
            packet(.ipv6, "fd00:1::2", "2001:db8:1::10", .tcp, 40000, 22, flags: .syn),
            packet(.ipv6, "2001:db8:1::10", "fd00:2::10", .udp, 33434, 33500, state: .invalid, input: 1, output: 2),
            icmp, echo6, fragment,
        ]
    }()

    /// IPv4 held IPv4-mapped, as RulePacket wants.
    static func wide(_ text: String) -> IPv6Address { ConnTuple.wide(IPAddress(text)!) }
}

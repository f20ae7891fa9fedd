// Each part of the model from and to its JSON (docs/trace-schema.md). Decoding
// checks what the page says in prose as well as the types: which keys go with
// which verdict and origin, ports exactly for TCP and UDP, values from the
// model's lists; a key the model does not know fails (JSONFields.finish).
// Encoding writes what the engine writes (TraceRecord.jsonLine): `in` and an
// interface's `host` as null when absent, the other optional keys left out.

extension TraceLine {
    /// Decodes one line. `interfaces`: the header's interface names, to check
    /// a packet's `in` and `out` against (nil: not checked).
    public init(json: JSONValue, interfaces: Set<String>? = nil) throws(FieldError) {
        guard case .object(let object) = json else {
            throw FieldError(message: "expected a JSON object, got \(json.typeDescription)")
        }
        let fields = JSONFields(object)
        switch try Self.type(fields) {
        case "header": self = .header(try TraceHeader(fields))
        case "packet": self = .packet(try TracePacket(fields, interfaces: interfaces))
        case let type: throw FieldError(message: "unknown line type \"\(type)\"")
        }
    }

    /// The line's `type`, once its `v` is the version this model reads.
    static func type(_ fields: JSONFields) throws(FieldError) -> String {
        let v = try fields.int("v")
        guard v == TraceReader.version else {
            throw FieldError(message: "trace version \(v) is not supported (this tunwall reads version \(TraceReader.version))")
        }
        return try fields.string("type")
    }

    public var json: JSONValue {
        switch self {
        case .header(let h): return h.json
        case .packet(let p): return p.json
        }
    }
}

extension TraceHeader {
    init(_ fields: JSONFields) throws(FieldError) {
        var interfaces: [TraceInterface] = []
        for (i, item) in try fields.array("interfaces").enumerated() {
            let f = try JSONFields(item, path: "interfaces[\(i)]")
            let name = try f.string("name")
            guard !interfaces.contains(where: { $0.name == name }) else {
                throw FieldError(message: "interfaces[\(i)].name: \"\(name)\" appears twice")
            }
            let addresses = f.has("addresses") ? try f.strings("addresses") : []
            var segment: [TraceSegmentMember] = []
            for (j, member) in (f.has("segment") ? try f.array("segment") : []).enumerated() {
                let m = try JSONFields(member, path: "interfaces[\(i)].segment[\(j)]")
                segment.append(TraceSegmentMember(host: try m.string("host"), mac: try m.optionalString("mac"),
                                                  addresses: m.has("addresses") ? try m.strings("addresses") : []))
                try m.finish(TraceSegmentMember.keys)
            }
            interfaces.append(TraceInterface(name: name, host: try f.optionalString("host"), addresses: addresses, segment: segment))
            try f.finish(TraceInterface.keys)
        }
        self.init(start: try fields.string("start"), interfaces: interfaces)
        try fields.finish(Self.keys)
    }

    public var json: JSONValue {
        .object([
            "v": .number(Double(TraceReader.version)), "type": .string("header"), "start": .string(start),
            "interfaces": .array(interfaces.map { i in
                var members: [String: JSONValue] = ["name": .string(i.name), "host": i.host.map { .string($0) } ?? .null,
                                                    "addresses": .array(i.addresses.map { .string($0) })]
                if !i.segment.isEmpty {
                    members["segment"] = .array(i.segment.map { m in
                        .object(["host": .string(m.host), "mac": m.mac.map { .string($0) } ?? .null,
                                 "addresses": .array(m.addresses.map { .string($0) })])
                    })
                }
                return .object(members)
            }),
        ])
    }
}

extension TracePacket {
    init(_ fields: JSONFields, interfaces: Set<String>?) throws(FieldError) {
        func interface(_ key: String) throws(FieldError) -> String? {
            guard let name = try fields.optionalString(key) else { return nil }
            if let interfaces, !interfaces.contains(name) {
                throw FieldError(message: "\(key): interface \"\(name)\" is not in the header")
            }
            return name
        }
        let originText = try fields.string("origin")
        guard let origin = PacketOrigin(rawValue: originText) else {
            throw FieldError(message: "origin: unknown value \"\(originText)\"")
        }
        let verdictText = try fields.string("verdict")
        guard let verdict = PacketVerdict(rawValue: verdictText) else {
            throw FieldError(message: "verdict: unknown value \"\(verdictText)\"")
        }
        let info = try PacketInfo(try fields.object("packet"))
        // "`in`: interface it arrived on (null unless received)".
        let inInterface = try interface("in")
        if origin == .received && inInterface == nil {
            throw FieldError(message: "missing key \"in\" (a received packet names its interface)")
        }
        if origin != .received && inInterface != nil {
            throw FieldError(message: "in: must be null, the packet was \(origin.rawValue)")
        }
        // "`out` … when `verdict` is forward"; "`sent` … when `verdict` is forward".
        let outInterface = try interface("out")
        var sent: PacketInfo?
        if let s = try fields.optionalObject("sent") { sent = try PacketInfo(s) }
        if verdict == .forward {
            guard outInterface != nil else { throw fields.missing("out", "verdict is forward") }
            guard sent != nil else { throw fields.missing("sent", "verdict is forward") }
        } else {
            if outInterface != nil { throw FieldError(message: "out: only when verdict is forward (it is \(verdict.rawValue))") }
            if sent != nil { throw FieldError(message: "sent: only when verdict is forward (it is \(verdict.rawValue))") }
        }
        var steps: [TraceStep] = []
        for (i, item) in try fields.array("steps").enumerated() {
            steps.append(try TraceStep(try JSONFields(item, path: "steps[\(i)]")))
        }
        let n = try fields.int("n")
        let t = try fields.double("t")
        // "`reason` … when `verdict` is drop".
        let reason = try fields.optionalString("reason")
        if verdict == .drop && reason == nil { throw fields.missing("reason", "verdict is drop") }
        if verdict != .drop && reason != nil { throw FieldError(message: "reason: only when verdict is drop (it is \(verdict.rawValue))") }
        try fields.finish(Self.keys)
        self.init(n: n, t: t, origin: origin, inInterface: inInterface, packet: info, steps: steps, verdict: verdict,
                  outInterface: outInterface, reason: reason, sent: sent)
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "v": .number(Double(TraceReader.version)), "type": .string("packet"), "n": .number(Double(n)), "t": .number(t),
            "origin": .string(origin.rawValue), "in": inInterface.map { .string($0) } ?? .null, "packet": packet.json,
            "steps": .array(steps.map(\.json)), "verdict": .string(verdict.rawValue),
        ]
        if let outInterface { members["out"] = .string(outInterface) }
        if let reason { members["reason"] = .string(reason) }
        if let sent { members["sent"] = sent.json }
        return .object(members)
    }
}

extension PacketInfo {
    init(_ f: JSONFields) throws(FieldError) {
        summary = try f.string("summary")
        family = try f.int("family")
        guard Self.families.contains(family) else { throw FieldError(message: "\(f.name("family")): unknown value \(family)") }
        proto = try f.oneOf("proto", Self.protocols)
        src = try f.string("src")
        dst = try f.string("dst")
        sport = try f.optionalInt("sport")
        dport = try f.optionalInt("dport")
        // "`sport`, `dport` (TCP/UDP only)".
        if Self.portProtocols.contains(proto) {
            if sport == nil { throw f.missing("sport", "\(proto) has ports") }
            if dport == nil { throw f.missing("dport", "\(proto) has ports") }
        } else if sport != nil || dport != nil {
            throw FieldError(message: "\(f.name(sport != nil ? "sport" : "dport")): only for TCP and UDP (proto is \(proto))")
        }
        length = try f.int("length")
        // "`text` (TCP payload of a connection with a helper …)".
        text = try f.optionalString("text")
        if text != nil && proto != "tcp" { throw FieldError(message: "\(f.name("text")): only for TCP (proto is \(proto))") }
        try f.finish(Self.keys)
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "summary": .string(summary), "family": .number(Double(family)), "proto": .string(proto),
            "src": .string(src), "dst": .string(dst), "length": .number(Double(length)),
        ]
        if let sport { members["sport"] = .number(Double(sport)) }
        if let dport { members["dport"] = .number(Double(dport)) }
        if let text { members["text"] = .string(text) }
        return .object(members)
    }
}

extension TraceStep {
    init(_ f: JSONFields) throws(FieldError) {
        let kind = try f.string("kind")
        guard let keys = Self.keys[kind] else { throw FieldError(message: "\(f.name("kind")): unknown value \"\(kind)\"") }
        text = try f.string("text")
        switch kind {
        case "conntrack":
            let master = try f.optionalString("master")
            // "the control connection, `"10.0.1.2:40000 -> 203.0.113.10:21"`".
            if let master, !Self.isConnection(master) {
                throw FieldError(message: "\(f.name("master")): \"\(master)\" is not \"A:P -> B:Q\"")
            }
            detail = .conntrack(ConntrackStep(state: try f.oneOf("state", ConntrackStep.states),
                                              direction: try f.oneOf("direction", ConntrackStep.directions), master: master))
        case "rule":
            detail = .rule(RuleStep(hook: try f.oneOf("hook", RuleStep.hooks), verdict: try f.oneOf("verdict", RuleStep.verdicts),
                                    location: try f.string("where"), rule: try f.string("rule")))
        case "nat":
            detail = .nat
        case "drop":
            detail = .drop(reason: try f.string("reason"))
        case "impair":
            detail = .impair(ImpairStep(event: try f.oneOf("event", ImpairStep.events), interface: try f.string("interface"),
                                        direction: try f.oneOf("direction", ImpairStep.directions)))
        default:
            var expectation: TraceExpectation?
            if let e = try f.optionalObject("expectation") {
                expectation = TraceExpectation(src: try e.optionalString("src"), dst: try e.string("dst"),
                                               dport: try e.int("dport"), to: try e.optionalString("to"))
                try e.finish(TraceExpectation.keys)
            }
            detail = .helper(HelperStep(helper: kind, event: try f.oneOf("event", HelperStep.events[kind] ?? []),
                                        line: try f.optionalString("line"), rewritten: try f.optionalString("rewritten"),
                                        expectation: expectation))
        }
        try f.finish(["kind", "text"] + keys)
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = ["kind": .string(kind), "text": .string(text)]
        switch detail {
        case .conntrack(let c):
            members["state"] = .string(c.state)
            members["direction"] = .string(c.direction)
            if let master = c.master { members["master"] = .string(master) }
        case .rule(let r):
            members["hook"] = .string(r.hook)
            members["verdict"] = .string(r.verdict)
            members["where"] = .string(r.location)
            members["rule"] = .string(r.rule)
        case .nat:
            break
        case .drop(let reason):
            members["reason"] = .string(reason)
        case .impair(let i):
            members["event"] = .string(i.event)
            members["interface"] = .string(i.interface)
            members["direction"] = .string(i.direction)
        case .helper(let h):
            members["event"] = .string(h.event)
            if let line = h.line { members["line"] = .string(line) }
            if let rewritten = h.rewritten { members["rewritten"] = .string(rewritten) }
            if let e = h.expectation {
                var expectation: [String: JSONValue] = ["dst": .string(e.dst), "dport": .number(Double(e.dport))]
                if let src = e.src { expectation["src"] = .string(src) }
                if let to = e.to { expectation["to"] = .string(to) }
                members["expectation"] = .object(expectation)
            }
        }
        return .object(members)
    }

    /// "10.0.1.2:40000 -> 203.0.113.10:21", or with IPv6 addresses in brackets.
    static func isConnection(_ text: String) -> Bool {
        let ends = text.split(separator: " -> ", omittingEmptySubsequences: false)
        return ends.count == 2 && ends.allSatisfy { end in
            guard let colon = end.lastIndex(of: ":"), let port = Int(end[end.index(after: colon)...]) else { return false }
            return (0...65535).contains(port) && colon > end.startIndex
        }
    }
}

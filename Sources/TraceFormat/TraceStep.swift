// One decision taken about a packet (docs/trace-schema.md, "Steps by kind"):
// every step has `kind` and `text` (the narrated line without its prefix), and
// each kind its own keys, typed here by kind.

public struct TraceStep: Sendable, Equatable {
    /// The narrated line without the `#N   kind: ` prefix.
    public var text: String
    public var detail: Detail

    public enum Detail: Sendable, Equatable {
        /// `conntrack`: conntrack's classification.
        case conntrack(ConntrackStep)
        /// `rule`: the rule (or chain policy) that decided at a hook.
        case rule(RuleStep)
        /// `nat`: a translation; the text says which (`source A:P -> B:Q`, `destination …`).
        case nat
        /// `ftp`, `tftp`: a connection helper's event.
        case helper(HelperStep)
        /// `drop`: why the packet stopped (the drop reason's name).
        case drop(reason: String)
        /// `impair`: what an impairment did to the packet after the verdict.
        case impair(ImpairStep)
    }

    /// The kinds, and each kind's keys besides `kind` and `text`.
    public static let keys: [String: [String]] = [
        "conntrack": ConntrackStep.keys,
        "rule": RuleStep.keys,
        "nat": [],
        "ftp": HelperStep.keys["ftp"]!,
        "tftp": HelperStep.keys["tftp"]!,
        "drop": ["reason"],
        "impair": ImpairStep.keys,
    ]

    public init(text: String, detail: Detail) {
        self.text = text
        self.detail = detail
    }
}

public struct ConntrackStep: Sendable, Equatable {
    /// One of `states`.
    public var state: String
    /// One of `directions`.
    public var direction: String
    /// For a connection an expectation let in, on every packet of it: the
    /// control connection, "10.0.1.2:40000 -> 203.0.113.10:21" (IPv6 in brackets).
    public var master: String?

    public static let keys = ["state", "direction", "master"]
    public static let states = ["new", "established", "related", "invalid", "untracked"]
    public static let directions = ["original", "reply"]

    public init(state: String, direction: String, master: String? = nil) {
        self.state = state
        self.direction = direction
        self.master = master
    }
}

public struct RuleStep: Sendable, Equatable {
    /// One of `hooks`.
    public var hook: String
    /// One of `verdicts`.
    public var verdict: String
    /// `where`: "FILE:LINE" of the rule, or "FILE: chain NAME policy" for a chain's policy.
    public var location: String
    /// The rule's text ("policy accept" for a chain's policy).
    public var rule: String

    public static let keys = ["hook", "verdict", "where", "rule"]
    public static let hooks = ["prerouting", "input", "forward", "output", "postrouting"]
    public static let verdicts = ["accept", "drop", "reject"]

    public init(hook: String, verdict: String, location: String, rule: String) {
        self.hook = hook
        self.verdict = verdict
        self.location = location
        self.rule = rule
    }
}

/// A connection helper's step; the helper's name is the step's kind.
public struct HelperStep: Sendable, Equatable {
    /// "ftp" or "tftp".
    public var helper: String
    /// One of `events[helper]`.
    public var event: String
    /// The line read (ftp: the command or reply; tftp: the request's operation, file and mode).
    public var line: String?
    /// ftp `rewrite`: what the line became.
    public var rewritten: String?
    /// `expect`: the expectation made.
    public var expectation: TraceExpectation?

    public static let keys: [String: [String]] = [
        "ftp": ["event", "line", "rewritten", "expectation"],
        "tftp": ["event", "line", "expectation"],
    ]
    public static let events: [String: [String]] = [
        "ftp": ["attached", "parsed", "expect", "rewrite", "refuse", "held", "released", "related", "closed",
                "encrypted", "clear", "epsv-all", "out-of-order", "too-long"],
        "tftp": ["attached", "parsed", "expect", "refuse", "related"],
    ]

    public init(helper: String, event: String, line: String? = nil, rewritten: String? = nil,
                expectation: TraceExpectation? = nil) {
        self.helper = helper
        self.event = event
        self.line = line
        self.rewritten = rewritten
        self.expectation = expectation
    }
}

/// An impairment's decision (`tunwall impair`): which interface and
/// direction, and what it did.
public struct ImpairStep: Sendable, Equatable {
    /// One of `events`.
    public var event: String
    public var interface: String
    /// One of `directions`.
    public var direction: String

    public static let keys = ["event", "interface", "direction"]
    public static let events = ["delayed", "lost", "duplicated", "reordered", "corrupted", "queue-full"]
    public static let directions = ["in", "out"]

    public init(event: String, interface: String, direction: String) {
        self.event = event
        self.interface = interface
        self.direction = direction
    }
}

/// What an `expect` step announces: `src` → `dst`:`dport`, going on to `to`.
public struct TraceExpectation: Sendable, Equatable {
    public var src: String?
    public var dst: String
    public var dport: Int
    /// Where the expected connection goes after NAT ("10.0.1.2:50000").
    public var to: String?

    public static let keys = ["src", "dst", "dport", "to"]

    public init(src: String?, dst: String, dport: Int, to: String?) {
        self.src = src
        self.dst = dst
        self.dport = dport
        self.to = to
    }
}

// The keys of any kind, by their JSON names (nil when the kind has none):
// how the diagram and `tunwall demo` read steps without caring about kinds.
extension TraceStep {
    /// The JSON `kind`.
    public var kind: String {
        switch detail {
        case .conntrack: return "conntrack"
        case .rule: return "rule"
        case .nat: return "nat"
        case .helper(let h): return h.helper
        case .drop: return "drop"
        case .impair: return "impair"
        }
    }

    /// A step of a connection helper (FTP, TFTP): drawn alike.
    public var isHelper: Bool {
        if case .helper = detail { return true }
        return false
    }

    public var conntrack: ConntrackStep? {
        if case .conntrack(let c) = detail { return c }
        return nil
    }

    public var rule: RuleStep? {
        if case .rule(let r) = detail { return r }
        return nil
    }

    public var helper: HelperStep? {
        if case .helper(let h) = detail { return h }
        return nil
    }

    /// conntrack: `new`, `established`, `related`, `invalid`, `untracked`.
    public var state: String? { conntrack?.state }
    /// conntrack: the control connection an expectation belongs to.
    public var master: String? { conntrack?.master }
    /// rule: `accept`, `drop`, `reject`.
    public var verdict: String? { rule?.verdict }
    /// rule: `where`.
    public var location: String? { rule?.location }
    /// A helper's event.
    public var event: String? { helper?.event }
    public var line: String? { helper?.line }
    public var rewritten: String? { helper?.rewritten }
    public var expectation: TraceExpectation? { helper?.expectation }
    /// drop: the reason's name.
    public var reason: String? {
        if case .drop(let reason) = detail { return reason }
        return nil
    }
}

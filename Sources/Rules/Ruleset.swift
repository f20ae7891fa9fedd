// Ruleset: a parsed, checked and compiled ruleset.
//
//   let rules = try Ruleset.load(path: "Topologies/basic.nft")
//   rules.bind(interfaceNames: ["lan0", "wan0"])
//   var packet = RulePacket()  // … filled by the engine
//   var log: [String] = []
//   let verdict = rules.evaluate(.forward, &packet, log: &log)
//   print(rules.listing())
//
// Reading a file runs: Lexer → Parser (syntax, defines, unsupported words) →
// Resolver (types, names, protocol context; what `nft -c` checks) →
// Validator (what the kernel checks on commit) → CompiledProgram. Each stage
// runs only if the one before found no error, as in nft, and reports every
// error it finds.
//
// The compiled arrays are copied into buffers this object owns, so that
// `evaluate` reads them through plain pointers: no reference counting, no
// copy-on-write checks, no allocation (Evaluator.swift).

import Conntrack
import Wire

#if canImport(Glibc)
import Glibc
#endif

public final class Ruleset: @unchecked Sendable {
    let tables: [Table]
    /// The file it was read from (as given to `parse`/`load`), for traces.
    public let file: String
    public let usesNAT: Bool
    public let usesHelpers: Bool
    /// The file and the files it included, in the order they were read (rule places name them).
    let sources: [String]
    /// The syntax trees with their handles, to apply later commands to (`applying`).
    var asts: [TableAST] = []
    var lastTableHandle = 0

    // The compiled program (see Compiler.swift), in owned buffers.
    let matches: UnsafeMutableBufferPointer<CompiledMatch>
    let actions: UnsafeMutableBufferPointer<CompiledAction>
    let rules: UnsafeMutableBufferPointer<CompiledRule>
    let chains: UnsafeMutableBufferPointer<CompiledChain>
    let intervals: UnsafeMutableBufferPointer<Interval>
    let hookChains: UnsafeMutableBufferPointer<Int32>
    let hookOffsets: UnsafeMutableBufferPointer<Int32>
    let natHookChains: UnsafeMutableBufferPointer<Int32>
    let natHookOffsets: UnsafeMutableBufferPointer<Int32>
    let natActions: UnsafeMutableBufferPointer<CompiledNAT>
    /// Bit `hook.rawValue` set when a `type nat` base chain is attached to that hook (either family).
    let natHooks: UInt8
    let counterPackets: UnsafeMutableBufferPointer<UInt64>
    let counterBytes: UnsafeMutableBufferPointer<UInt64>
    let interfaceRows: [[IfnamePattern]]
    let logs: [CompiledLog]
    let mapEntries: UnsafeMutableBufferPointer<CompiledMapEntry>
    let lateMatches: UnsafeMutableBufferPointer<CompiledMatch>
    // `limit rate`: each statement's spec and bucket (LimitBuckets.swift; the
    // rulesets of several workers share one set of buckets: shareLimits).
    let limits: UnsafeMutableBufferPointer<CompiledLimit>
    @exclusivity(unchecked) private(set) var limitBuckets: LimitBuckets
    // `ct count`: each statement's spec and its list of connections (ConnlimitLists.swift; shared
    // by the rulesets of several workers: shareLimits).
    let connlimits: UnsafeMutableBufferPointer<CompiledConnlimit>
    @exclusivity(unchecked) private(set) var connlimitLists: ConnlimitLists

    /// Asked by `ct count` about a connection it counted (at the packet's time); the engine sets it
    /// when `countsConnections` (nil: every connection but the packet's own is gone after a jiffy).
    @exclusivity(unchecked) public var connectionPresence: ((ConnTuple, Timestamp) -> ConnectionPresence)?

    /// Makes this ruleset's `limit rate` statements draw from `first`'s
    /// buckets and its `ct count` statements count in `first`'s lists: the
    /// rulesets that several workers run, each parsed from the same text,
    /// then limit the firewall's rate and connections as Linux does for all
    /// CPUs (nft_limit, nft_connlimit: one bucket, one list per rule). Call
    /// before the ruleset is in use.
    public func shareLimits(with first: Ruleset) {
        guard first !== self else { return }
        if !limits.isEmpty, first.limits.count == limits.count { limitBuckets = first.limitBuckets }
        // `ct count` likewise: one list per statement for the whole firewall (ConnlimitLists.swift).
        if !connlimits.isEmpty, first.connlimits.count == connlimits.count,
           first.connlimitLists.tuples.count == connlimitLists.tuples.count {
            first.connlimitLists.share()
            connlimitLists = first.connlimitLists
        }
    }

    /// Takes a connection out of every `ct count` list: its owner calls
    /// this when the connection closes (TIME_WAIT, CLOSE), so that workers
    /// which cannot see its state stop counting it (nf_conncount's
    /// `already_closed`). Only needed while the lists are shared.
    public func forgetCounted(_ tuple: ConnTuple) {
        for index in 0..<connlimits.count {
            connlimitLists.forget(tuple, statement: index, start: Int(connlimits[index].start))
        }
    }

    /// True once the `ct count` lists are shared with another worker's ruleset.
    public var sharesConnectionCounts: Bool { !connlimits.isEmpty && connlimitLists.shared }

    /// True if a `ct count` statement needs `connectionPresence`.
    public var countsConnections: Bool { !connlimits.isEmpty }

    /// True if a rule can set `meta nftrace set 1`: only then does the engine look at
    /// RulePacket.nftrace (a ruleset without one costs nothing for it). Walks the actions:
    /// the engine asks once, when the ruleset is installed.
    public var setsNftrace: Bool {
        actions.contains { if case .nftrace(true) = $0 { return true } else { return false } }
    }

    // Filled by `bind`: for interface row r and interface i (the last slot is "no interface"),
    // bit i % 64 of interfaceBits[r * interfaceWords + i / 64].
    // (Written only by `bind`, which the engine calls before it evaluates: no exclusivity checks
    // on every read.)
    @exclusivity(unchecked) var interfaceBits: UnsafeMutableBufferPointer<UInt64>
    @exclusivity(unchecked) var interfaceWords = 1
    @exclusivity(unchecked) var interfaceNames: [String] = []
    /// Each bound interface's ARPHRD type (`meta iiftype`), by index.
    var interfaceTypes: [UInt16] = []

    init(tables: [Table], program: CompiledProgram, counters: [CounterSeed], usesNAT: Bool, usesHelpers: Bool,
         file: String = "", sources: [String] = []) {
        self.tables = tables
        self.file = file
        self.sources = sources
        self.usesNAT = usesNAT
        self.usesHelpers = usesHelpers
        matches = Ruleset.buffer(program.matches)
        actions = Ruleset.buffer(program.actions)
        rules = Ruleset.buffer(program.rules)
        chains = Ruleset.buffer(program.chains)
        intervals = Ruleset.buffer(program.intervals)
        hookChains = Ruleset.buffer(program.hookChains)
        hookOffsets = Ruleset.buffer(program.hookOffsets.isEmpty
            ? Array(repeating: 0, count: Hook.allCases.count * 2 + 1) : program.hookOffsets)
        natHookChains = Ruleset.buffer(program.natHookChains)
        natHookOffsets = Ruleset.buffer(program.natHookOffsets.isEmpty
            ? Array(repeating: 0, count: Hook.allCases.count * 2 + 1) : program.natHookOffsets)
        natActions = Ruleset.buffer(program.natActions)
        var natHooks: UInt8 = 0
        for hook in Hook.allCases {
            let slot = CompiledProgram.slot(hook, ipv6: false)
            if natHookOffsets[slot] != natHookOffsets[slot + 2] { natHooks |= 1 << UInt8(hook.rawValue) }
        }
        self.natHooks = natHooks
        counterPackets = Ruleset.buffer(counters.map(\.packets))
        counterBytes = Ruleset.buffer(counters.map(\.bytes))
        interfaceRows = program.interfaceRows
        logs = program.logs
        mapEntries = Ruleset.buffer(program.mapEntries)
        lateMatches = Ruleset.buffer(program.lateMatches)
        limits = Ruleset.buffer(program.limits)
        limitBuckets = LimitBuckets(count: program.limits.count)
        connlimits = Ruleset.buffer(program.connlimits)
        connlimitLists = ConnlimitLists(statements: program.connlimits.count, slots: program.connlimitSlots)
        interfaceBits = Ruleset.buffer([])
        bind(interfaceNames: [])
    }

    deinit {
        matches.deallocate()
        actions.deallocate()
        rules.deallocate()
        chains.deallocate()
        intervals.deallocate()
        hookChains.deallocate()
        hookOffsets.deallocate()
        natHookChains.deallocate()
        natHookOffsets.deallocate()
        natActions.deallocate()
        counterPackets.deallocate()
        counterBytes.deallocate()
        interfaceBits.deallocate()
        mapEntries.deallocate()
        lateMatches.deallocate()
        limits.deallocate()
        connlimits.deallocate()
    }

    private static func buffer<T>(_ array: [T]) -> UnsafeMutableBufferPointer<T> {
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(array.count, 1))
        _ = buffer.initialize(from: array)
        return UnsafeMutableBufferPointer(rebasing: buffer[0..<array.count])
    }

    /// Parses and compiles text (the file name is only for messages).
    /// `includes: false` refuses `include` (a fuzzer must not read whatever files it names).
    public static func parse(_ text: String, file: String, includes: Bool = true) throws(RuleErrors) -> Ruleset {
        try build(text, file: file, name: file, from: nil, includes: includes)
    }

    /// Applies nft commands to this ruleset (`add element inet filter allowed { 10.0.1.5 }`,
    /// `delete rule inet filter forward handle 7`, several separated by `;` or newlines) and
    /// returns the ruleset they make, or throws nft's errors (reported without a file name, as
    /// nft reports a command line's; `source` names a script file they were read from, for its
    /// errors and includes). This ruleset is left as it is; counters of rules that are still
    /// there keep their values.
    public func applying(_ commands: String, from source: String = "") throws(RuleErrors) -> Ruleset {
        let next = try Ruleset.build(commands, file: file, name: source, from: self)
        next.copyCounters(from: self)
        return next
    }

    private static func build(_ text: String, file: String, name: String, from old: Ruleset?,
                              includes: Bool = true) throws(RuleErrors) -> Ruleset {
        var sources = SourceFiles()
        let tokens: [Token]
        if let old, !old.sources.isEmpty {
            // Live commands: the rules already there keep the places they had (FILE:LINE in
            // traces), and the command's own rules get the command's: it is one more source
            // after the old ones (their text is not needed, only their names).
            sources.files = old.sources.map { SourceFiles.File(name: $0, lines: [], endsWithNewline: true) }
            var lexer = Lexer(text)
            var lexed = lexer.tokenize()
            for index in lexed.indices { lexed[index].range.line += sources.files.count * SourceFiles.lineBase }
            sources.files.append(SourceFiles.File(name: name, lines: lexer.lines, endsWithNewline: lexer.endsWithNewline))
            tokens = lexed
        } else {
            var lexer = Lexer(text)
            tokens = lexer.tokenize()
            sources.files.append(SourceFiles.File(name: name, lines: lexer.lines, endsWithNewline: lexer.endsWithNewline))
        }
        var parser = Parser(tokens: tokens, sources: sources)
        parser.includesAllowed = includes
        if let old {
            parser.tables = old.asts
            parser.lastTableHandle = old.lastTableHandle
        }
        parser.parseFile()
        sources = parser.sources
        func fail(_ diagnostics: Diagnostics) -> RuleErrors {
            RuleErrors(errors: sources.ruleErrors(diagnostics))
        }
        guard parser.diagnostics.isEmpty else { throw fail(parser.diagnostics) }
        var resolver = Resolver(tables: parser.tables)
        let tables = resolver.resolve()
        guard resolver.diagnostics.isEmpty else { throw fail(resolver.diagnostics) }
        var validator = Validator(tables: tables, ranges: resolver.statementRanges)
        validator.validate()
        guard validator.diagnostics.isEmpty else { throw fail(validator.diagnostics) }
        let ruleset = Ruleset(tables: tables, program: CompiledProgram(tables: tables), counters: resolver.counters,
                              usesNAT: resolver.usesNAT || tables.contains { $0.chains.contains { $0.base?.type == .nat } },
                              usesHelpers: resolver.usesHelpers, file: file,
                              sources: sources.files.map(\.name))
        ruleset.asts = parser.tables
        ruleset.lastTableHandle = parser.lastTableHandle
        return ruleset
    }

    /// Counter values of rules this ruleset shares with `old` (same table and rule handle).
    private func copyCounters(from old: Ruleset) {
        func counters(_ ruleset: Ruleset) -> [String: [Int]] {
            var result: [String: [Int]] = [:]
            for table in ruleset.tables {
                for chain in table.chains {
                    for rule in chain.rules {
                        let indexes = rule.statements.compactMap { statement -> Int? in
                            if case .counter(let index) = statement { return index }
                            return nil
                        }
                        if !indexes.isEmpty { result["\(table.family.rawValue) \(table.name) \(rule.handle)"] = indexes }
                    }
                }
            }
            return result
        }
        let previous = counters(old)
        for (key, indexes) in counters(self) {
            guard let before = previous[key], before.count == indexes.count else { continue }
            for (new, was) in zip(indexes, before) where new < counterPackets.count && was < old.counterPackets.count {
                counterPackets[new] = old.counterPackets[was]
                counterBytes[new] = old.counterBytes[was]
            }
        }
    }

    /// Reads and parses a file; an unreadable file is a RuleErrors with line 0 and the OS error.
    public static func load(path: String) throws(RuleErrors) -> Ruleset {
        let text: String
        switch readFile(path) {
        case .success(let contents): text = contents
        case .failure(let error):
            throw RuleErrors(errors: [RuleError(file: path, line: 0, column: 0, endColumn: 0, message: error.message, sourceLine: "")])
        }
        return try parse(text, file: path)
    }

    static func readFile(_ path: String) -> Result<String, FileError> {
        guard let file = fopen(path, "rb") else {
            return .failure(FileError(message: "Could not open file \"\(path)\": \(String(cString: strerror(errno)))"))
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count > 0 { bytes += chunk[0..<count] }
            if count < chunk.count {
                if ferror(file) != 0 {
                    return .failure(FileError(message: "Could not read file \"\(path)\": \(String(cString: strerror(errno)))"))
                }
                break
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(FileError(message: "Could not read file \"\(path)\": not UTF-8 text"))
        }
        return .success(text)
    }

    struct FileError: Error { var message: String }

    /// An empty ruleset: every hook accepts.
    public static let empty = Ruleset(tables: [], program: CompiledProgram(), counters: [], usesNAT: false, usesHelpers: false)

    /// Resolves interface names used by iifname/oifname (exact names and trailing-`*` wildcards) to
    /// the engine's interface indexes. Called once after parse, before evaluate.
    /// `interfaceTypes[i]` is interface `i`'s ARPHRD type for `meta iiftype`
    /// (1 Ethernet for TAP; ARPHRD_NONE, 65534, for TUN, the default).
    public func bind(interfaceNames names: [String], interfaceTypes types: [UInt16] = []) {
        interfaceNames = names
        interfaceTypes = names.indices.map { $0 < types.count ? types[$0] : 0xfffe }
        // One slot per name plus one for "no interface" (nft compares an empty name then).
        let slots = names.count + 1
        interfaceWords = (slots + 63) / 64
        interfaceBits.deallocate()
        interfaceBits = .allocate(capacity: max(interfaceRows.count * interfaceWords, 1))
        interfaceBits.initialize(repeating: 0)
        for (row, patterns) in interfaceRows.enumerated() {
            for slot in 0..<slots {
                let name = slot < names.count ? names[slot] : ""
                if patterns.contains(where: { $0.matches(name) }) {
                    interfaceBits[row * interfaceWords + slot / 64] |= 1 << UInt64(slot % 64)
                }
            }
        }
    }
}

// MARK: Decisions, for traces

/// The rule or policy behind a verdict: where it is written and what it says.
public struct RuleDecision: Equatable, Sendable {
    /// "FILE:LINE" of the rule, or "FILE: chain NAME policy".
    public var location: String
    /// The rule as `list ruleset` prints it (without counter values), or "policy accept" / "policy drop".
    public var text: String
    /// A chain's policy decided, not a rule.
    public var isPolicy = false
    /// The rule's table as nft names it in traces ("inet filter") and its chain.
    public var table = ""
    public var chain = ""
}

extension Ruleset {
    /// What `RulePacket.decision` names (nil for -1 or an index out of range). Allocates: traces only.
    public func decision(_ value: Int32) -> RuleDecision? {
        var ruleIndex = 0
        var chainIndex = 0
        let name = file.split(separator: "/").last.map(String.init) ?? file
        for table in tables {
            for chain in table.chains {
                if value == -2 - Int32(chainIndex) {
                    let policy = chain.base?.policyDrop == true ? "drop" : "accept"
                    return RuleDecision(location: "\(name): chain \(chain.name) policy", text: "policy \(policy)", isPolicy: true,
                                        table: "\(table.family.rawValue) \(table.name)", chain: chain.name)
                }
                for rule in chain.rules {
                    if Int32(ruleIndex) == value {
                        let source = SourceFiles.file(of: rule.range)
                        var place = "\(name):\(rule.range.line)"
                        if source > 0, source < sources.count {
                            // (A rule a live `tunwall nft` command added, from no file, is placed in "tunwall-nft".)
                            let included = sources[source].split(separator: "/").last.map(String.init) ?? "tunwall-nft"
                            place = "\(included):\(SourceFiles.line(of: rule.range))"
                        }
                        return RuleDecision(location: place, text: ruleText(rule, table: table, counts: false),
                                            table: "\(table.family.rawValue) \(table.name)", chain: chain.name)
                    }
                    ruleIndex += 1
                }
                chainIndex += 1
            }
        }
        return nil
    }
}

extension Ruleset {
    /// With several workers each engine has its own copy of the ruleset
    /// (the same rules, so the same counters in the same places): `render`
    /// sees this ruleset with every other copy's counter values added, as
    /// `nft list ruleset` shows one set of counters. The caller has the other
    /// workers parked; this ruleset's own counts are put back afterwards.
    public func withCountersSummed(from others: [Ruleset], _ render: (Ruleset) -> String) -> String {
        guard !others.isEmpty else { return render(self) }
        let savedPackets = Array(counterPackets), savedBytes = Array(counterBytes)
        for other in others where other.counterPackets.count == counterPackets.count {
            for index in counterPackets.indices {
                counterPackets[index] &+= other.counterPackets[index]
                counterBytes[index] &+= other.counterBytes[index]
            }
        }
        defer {
            for index in counterPackets.indices {
                counterPackets[index] = savedPackets[index]
                counterBytes[index] = savedBytes[index]
            }
        }
        return render(self)
    }
}

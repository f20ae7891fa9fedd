// The parser, top level: the file, tables and chains, as in nft's grammar
// (nftables src/parser_bison.y: `line`, `table_block`, `chain_block`). Sets
// and ct helpers are in ParserSets.swift, rules in ParserRules.swift, values
// in ParserValues.swift.
//
// Like nft, every item in a block ends with a newline or `;` (so
// `chain c { drop }` is a syntax error: the rule needs its separator before
// the `}`), `define` is allowed in any block and scoped to it, and declaring a
// table or chain twice adds to the first declaration. A syntax error stops the
// parse (nft goes on after one, but its further messages are mostly echoes);
// an unsupported keyword or an undefined variable is reported and the parse
// goes on with the next rule.

/// Thrown to stop at a syntax error (already recorded).
struct SyntaxAbort: Error {}

struct Parser {
    var tokens: [Token]
    var index = 0
    var diagnostics = Diagnostics()
    var scopes: [[String: ValueExpr]] = [[:]]
    var tables: [TableAST] = []
    /// The files read so far (the main one first); `include` adds to it.
    var sources = SourceFiles()
    /// False: `include` is refused (Ruleset.parse(includes: false)).
    var includesAllowed = true
    /// The last table handle given (nft's are per network namespace, from 1).
    var lastTableHandle = 0
    /// Chains named in the table block being read, in order (for their rules' handles).
    var blockChains: [String] = []

    init(tokens: [Token], sources: SourceFiles = SourceFiles()) {
        self.tokens = tokens
        self.sources = sources
    }

    // MARK: Token helpers

    var token: Token { tokens[index] }
    func peek(_ offset: Int = 1) -> Token { tokens[min(index + offset, tokens.count - 1)] }

    mutating func advance() -> Token {
        let current = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return current
    }

    var atSeparator: Bool { token.kind == .newline || token.kind == .semicolon }
    var atEndOfStatement: Bool { atSeparator || token.kind == .rightBrace || token.kind == .eof }

    mutating func skipSeparators() {
        while atSeparator { _ = advance() }
    }

    /// Records "syntax error, unexpected X[, expecting Y]" at the current token; throw the result.
    mutating func fail(expecting: String? = nil) -> SyntaxAbort {
        var message = "syntax error, unexpected \(token.nftName)"
        if let expecting { message += ", expecting \(expecting)" }
        diagnostics.error(token.range, message)
        return SyntaxAbort()
    }

    mutating func expect(_ kind: TokenKind, _ expecting: String) throws(SyntaxAbort) -> Token {
        guard token.kind == kind else { throw fail(expecting: expecting) }
        return advance()
    }

    mutating func expectWord(_ word: String) throws(SyntaxAbort) -> Token {
        guard token.is(word) else { throw fail(expecting: word) }
        return advance()
    }

    /// A name: a word nft does not reserve.
    mutating func identifier() throws(SyntaxAbort) -> Token {
        guard token.kind == .word, !Keywords.reserved.contains(token.text) else { throw fail(expecting: "string") }
        return advance()
    }

    /// The end of an item inside a block: a newline or `;`.
    mutating func endOfItem() throws(SyntaxAbort) {
        guard atSeparator else { throw fail(expecting: "newline or semicolon") }
        _ = advance()
    }

    mutating func unsupported(_ what: String, at range: SourceRange) {
        diagnostics.error(range, "not supported by tunwall: \(what)")
    }

    /// After an error that is not a syntax error: skip the rest of the statement,
    /// keeping braces balanced, up to (not past) its newline, `;` or closing `}`.
    mutating func skipStatement() {
        var depth = 0
        while token.kind != .eof {
            switch token.kind {
            case .leftBrace: depth += 1
            case .rightBrace:
                if depth == 0 { return }
                depth -= 1
            case .newline, .semicolon:
                if depth == 0 { return }
            default: break
            }
            _ = advance()
        }
    }

    // MARK: File

    mutating func parseFile() {
        do {
            while true {
                skipSeparators()
                if token.kind == .eof { return }
                try command()
                guard atSeparator || token.kind == .eof else {
                    throw fail(expecting: "end of file or newline or semicolon")
                }
            }
        } catch {
            return
        }
    }

    private mutating func command() throws(SyntaxAbort) {
        let start = token
        guard start.kind == .word else { throw fail() }
        switch start.text {
        case "flush":
            _ = advance()
            if token.is("ruleset") {
                _ = advance()
                tables = []
                return
            }
            try flushCommand(start)
        case "add", "insert", "delete":
            try scriptCommand(start)
        case "define":
            try define()
        case "include":
            try include()
        case "table":
            try table()
        case "chain", "set":
            unsupported("\(start.text) outside a table block", at: start.range)
            skipStatement()
        default:
            if Keywords.unsupported.contains(start.text) || Keywords.unsupportedFamilies.contains(start.text) {
                unsupported(start.text, at: start.range)
                skipStatement()
                return
            }
            throw fail()
        }
    }

    /// `define NAME = VALUE` in the innermost scope; NAME must be new there.
    mutating func define() throws(SyntaxAbort) {
        _ = advance()
        let name = try identifier()
        _ = try expect(.assign, "'='")
        let value = try defineValue()
        if scopes[scopes.count - 1][name.text] != nil {
            diagnostics.error(name.range, "redefinition of symbol '\(name.text)'")
        }
        scopes[scopes.count - 1][name.text] = value
    }

    func lookupVariable(_ name: String) -> ValueExpr? {
        for scope in scopes.reversed() {
            if let value = scope[name] { return value }
        }
        return nil
    }

    // MARK: Tables

    mutating func table() throws(SyntaxAbort) {
        _ = advance()
        var family = TableFamily.ip
        if token.kind == .word, let explicit = Keywords.families[token.text] {
            family = explicit
            _ = advance()
        } else if token.kind == .word, Keywords.unsupportedFamilies.contains(token.text) {
            unsupported("table family \(token.text)", at: token.range)
            skipStatement()
            return
        }
        let name = try identifier()
        let position: Int
        if let existing = tables.firstIndex(where: { $0.family == family && $0.name == name.text }) {
            position = existing
        } else {
            lastTableHandle += 1
            tables.append(TableAST(family: family, name: name.text, nameRange: name.range, handle: lastTableHandle))
            position = tables.count - 1
        }
        guard token.kind == .leftBrace else { return }
        _ = advance()
        scopes.append([:])
        defer { scopes.removeLast() }
        let before = HandleSnapshot(tables[position])
        blockChains = []
        while true {
            skipSeparators()
            if token.kind == .rightBrace {
                _ = advance()
                assignHandles(table: position, since: before)
                return
            }
            try tableItem(position)
        }
    }

    /// nft's handles for what one table block added, in the order nft's cmd_expand adds them:
    /// new chains, then ct helpers, then sets and maps, then each chain's new rules (each
    /// anonymous set of a rule taking a handle just before it).
    mutating func assignHandles(table: Int, since before: HandleSnapshot) {
        var next = tables[table].lastHandle
        for index in tables[table].chains.indices where tables[table].chains[index].handle == 0 {
            next += 1
            tables[table].chains[index].handle = next
        }
        for index in tables[table].helpers.indices where tables[table].helpers[index].handle == 0 {
            next += 1
            tables[table].helpers[index].handle = next
        }
        for index in tables[table].sets.indices where tables[table].sets[index].handle == 0 {
            next += 1
            tables[table].sets[index].handle = next
        }
        for name in blockChains {
            guard let chain = tables[table].chains.firstIndex(where: { $0.name == name }) else { continue }
            let start = before.rules[name] ?? 0
            for rule in start..<tables[table].chains[chain].rules.count where tables[table].chains[chain].rules[rule].handle == 0 {
                next += tables[table].chains[chain].rules[rule].anonymousSets + 1
                tables[table].chains[chain].rules[rule].handle = next
            }
        }
        tables[table].lastHandle = next
    }

    private mutating func tableItem(_ table: Int) throws(SyntaxAbort) {
        let start = token
        guard start.kind == .word else { throw fail() }
        switch start.text {
        case "chain":
            _ = advance()
            try chain(table)
            try endOfItem()
        case "set", "map":
            _ = advance()
            try namedSet(table, map: start.text == "map")
            try endOfItem()
        case "ct":
            _ = advance()
            guard token.is("helper") else {
                if token.kind == .word, ["timeout", "expectation"].contains(token.text) {
                    unsupported("ct \(token.text)", at: start.range.through(token.range))
                    skipStatement()
                    return
                }
                throw fail(expecting: "helper")
            }
            _ = advance()
            try helper(table)
            try endOfItem()
        case "define":
            try define()
            try endOfItem()
        case "flowtable", "counter", "quota", "limit", "secmark", "synproxy", "flags", "comment":
            unsupported(start.text == "flags" || start.text == "comment" ? "table \(start.text)" : start.text,
                        at: start.range)
            skipStatement()
        default:
            if Keywords.unsupported.contains(start.text) {
                unsupported(start.text, at: start.range)
                skipStatement()
                return
            }
            throw fail()
        }
    }

    // MARK: Chains

    mutating func chain(_ table: Int) throws(SyntaxAbort) {
        let name = try identifier()
        _ = try expect(.leftBrace, "'{'")
        var chain = ChainAST(name: name.text, nameRange: name.range)
        scopes.append([:])
        defer { scopes.removeLast() }
        loop: while true {
            skipSeparators()
            switch token.kind {
            case .rightBrace:
                _ = advance()
                break loop
            case .eof:
                throw fail()
            default:
                break
            }
            if token.is("type") {
                let spec = try baseChainSpec()
                if chain.base != nil {
                    diagnostics.error(spec.typeRange, "chain '\(chain.name)' has more than one hook specification")
                }
                chain.base = spec
                try endOfItem()
            } else if token.is("policy") {
                let policyToken = advance()
                let verdict: VerdictAST
                if token.is("accept") {
                    verdict = .accept
                } else if token.is("drop") {
                    verdict = .drop
                } else {
                    throw fail(expecting: "accept or drop or '$'")
                }
                let valueToken = advance()
                chain.policy = (verdict, policyToken.range.through(valueToken.range))
                try endOfItem()
            } else if token.is("define") {
                try define()
                try endOfItem()
            } else if token.kind == .word, ["comment", "flags", "devices", "device"].contains(token.text) {
                unsupported("chain \(token.text)", at: token.range)
                skipStatement()
            } else {
                if let rule = try rule() { chain.rules.append(rule) }
                try endOfItem()
            }
        }
        merge(chain, into: table)
        if !blockChains.contains(chain.name) { blockChains.append(chain.name) }
    }

    /// A chain declared again adds its rules to the first declaration (nft's
    /// `add chain` is idempotent); a different hook specification is an error.
    private mutating func merge(_ chain: ChainAST, into table: Int) {
        guard let existing = tables[table].chains.firstIndex(where: { $0.name == chain.name }) else {
            tables[table].chains.append(chain)
            return
        }
        var first = tables[table].chains[existing]
        if let base = chain.base {
            if let old = first.base {
                if old.type != base.type || old.hook != base.hook || old.priority != base.priority {
                    diagnostics.error(chain.nameRange,
                        "chain '\(chain.name)' redeclared with a different type, hook or priority than at line \(first.nameRange.line)")
                }
            } else {
                diagnostics.error(chain.nameRange,
                    "chain '\(chain.name)' was declared as a regular chain at line \(first.nameRange.line) and cannot become a base chain")
            }
        }
        if let policy = chain.policy { first.policy = policy }
        first.rules += chain.rules
        tables[table].chains[existing] = first
    }

    /// `type filter hook input priority filter`
    private mutating func baseChainSpec() throws(SyntaxAbort) -> BaseChainAST {
        _ = advance()
        guard token.kind == .word else { throw fail(expecting: "string") }
        let typeToken = advance()
        let type = ChainType(rawValue: typeToken.text)
        if type == nil { diagnostics.error(typeToken.range, "unknown chain type") }
        _ = try expectWord("hook")
        guard token.kind == .word, !Keywords.reserved.contains(token.text) else { throw fail(expecting: "string") }
        let hookToken = advance()
        let hook = Keywords.hooks[hookToken.text]
        if hook == nil {
            if hookToken.text == "ingress" || hookToken.text == "egress" {
                unsupported("hook \(hookToken.text)", at: hookToken.range)
            } else {
                diagnostics.error(hookToken.range, "unknown chain hook")
            }
        }
        if token.is("device") || token.is("devices") {
            unsupported(token.text, at: token.range)
            skipStatement()
            throw SyntaxAbort()
        }
        let priorityToken = try expectWord("priority")
        let (priority, priorityRange) = try priorityValue(keyword: priorityToken, hook: hook ?? .input)
        return BaseChainAST(type: type ?? .filter, typeRange: typeToken.range, hook: hook ?? .input,
                            hookRange: hookToken.range, priority: priority, priorityRange: priorityRange)
    }

    /// `N`, `-N`, `NAME`, `NAME + N`, `NAME - N` (nft's prio_spec).
    private mutating func priorityValue(keyword: Token, hook: Hook) throws(SyntaxAbort) -> (Int, SourceRange) {
        var end = token.range
        var value = 0
        if token.kind == .dash, peek().kind == .number {
            _ = advance()
            end = token.range
            value = -Int(clamping: advance().number)
        } else if token.kind == .number {
            end = token.range
            value = Int(clamping: advance().number)
        } else if token.kind == .word || token.kind == .dollar {
            var nameToken = advance()
            if nameToken.kind == .dollar, token.kind == .word {
                nameToken = advance()
            }
            end = nameToken.range
            var base: Int? = nil
            if let standard = Keywords.priorities.first(where: { $0.name == nameToken.text }),
               Keywords.priorityName(standard.name, fitsHook: hook) {
                base = standard.value
            }
            var offset = 0
            if (token.kind == .plus || token.kind == .dash), peek().kind == .number {
                let sign = advance()
                end = token.range
                let amount = Int(clamping: min(advance().number, UInt64(UInt32.max)))
                offset = sign.kind == .plus ? amount : -amount
            }
            guard let base else {
                diagnostics.error(keyword.range.through(end), "invalid priority expression value in this context.")
                return (0, keyword.range.through(end))
            }
            value = base + offset
        } else {
            throw fail(expecting: "number or string")
        }
        // The kernel takes a 32-bit signed priority.
        if value < Int(Int32.min) || value > Int(Int32.max) {
            diagnostics.error(keyword.range.through(end), "priority value out of range")
            return (0, keyword.range.through(end))
        }
        return (value, keyword.range.through(end))
    }
}

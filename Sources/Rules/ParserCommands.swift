// nft script commands (nft(8), "RULESET", "TABLES", "CHAINS", "RULES",
// "ELEMENTS"), applied in order as `nft -f` applies them, in a file or as a
// live `tunwall nft CMD` (Ruleset.applying):
//
//   add table [FAMILY] NAME [{ … }]         add chain [FAMILY] TABLE NAME [{ … }]
//   add set|map [FAMILY] TABLE NAME { … }   add rule [FAMILY] TABLE CHAIN [position H] STATEMENTS
//   insert rule [FAMILY] TABLE CHAIN [position H] STATEMENTS
//   delete rule [FAMILY] TABLE CHAIN handle H
//   add element / delete element [FAMILY] TABLE SET { ELEMENTS }
//   flush chain [FAMILY] TABLE CHAIN        flush table [FAMILY] TABLE    flush set|map [FAMILY] TABLE SET
//
// `add rule … position H` puts the rule after the rule with handle H,
// `insert rule … position H` before it; without a position, add appends and
// insert prepends. What is missing (a table, chain, set, handle, element) is
// nft's "Could not process rule: No such file or directory" at its name.

/// A table's chains and their rule counts before a block (which rules are new).
struct HandleSnapshot {
    var rules: [String: Int] = [:]

    init(_ table: TableAST) {
        for chain in table.chains { rules[chain.name] = chain.rules.count }
    }
}

extension Parser {
    static let missing = "Could not process rule: No such file or directory"

    /// `[FAMILY] TABLE`: the table's index (nil after an error, reported).
    private mutating func tableReference() throws(SyntaxAbort) -> Int? {
        var family = TableFamily.ip
        if token.kind == .word, let explicit = Keywords.families[token.text], peek().kind == .word {
            family = explicit
            _ = advance()
        }
        let name = try identifier()
        guard let index = tables.firstIndex(where: { $0.family == family && $0.name == name.text }) else {
            diagnostics.error(name.range, Parser.missing)
            return nil
        }
        return index
    }

    private mutating func chainReference(_ table: Int) throws(SyntaxAbort) -> Int? {
        let name = try identifier()
        guard let index = tables[table].chains.firstIndex(where: { $0.name == name.text }) else {
            diagnostics.error(name.range, Parser.missing)
            return nil
        }
        return index
    }

    private mutating func nextHandle(_ table: Int) -> Int {
        tables[table].lastHandle += 1
        return tables[table].lastHandle
    }

    mutating func scriptCommand(_ start: Token) throws(SyntaxAbort) {
        let verb = advance()
        guard token.kind == .word else { throw fail() }
        let object = advance()
        switch (verb.text, object.text) {
        case ("add", "table"):
            index -= 1
            try table()
        case ("add", "chain"):
            guard let table = try tableReference() else { return skipStatement() }
            if peek().kind == .leftBrace {
                let before = HandleSnapshot(tables[table])
                blockChains = []
                scopes.append([:])
                defer { scopes.removeLast() }
                try chain(table)
                assignHandles(table: table, since: before)
            } else {
                let name = try identifier()
                if !tables[table].chains.contains(where: { $0.name == name.text }) {
                    var chain = ChainAST(name: name.text, nameRange: name.range)
                    chain.handle = nextHandle(table)
                    tables[table].chains.append(chain)
                }
            }
        case ("add", "set"), ("add", "map"):
            guard let table = try tableReference() else { return skipStatement() }
            let before = HandleSnapshot(tables[table])
            blockChains = []
            try namedSet(table, map: object.text == "map")
            assignHandles(table: table, since: before)
        case ("add", "rule"), ("insert", "rule"):
            try ruleCommand(append: verb.text == "add")
        case ("delete", "rule"):
            guard let table = try tableReference(), let chain = try chainReference(table) else { return skipStatement() }
            _ = try expectWord("handle")
            let handle = try expect(.number, "number")
            guard let rule = tables[table].chains[chain].rules.firstIndex(where: { UInt64($0.handle) == handle.number }) else {
                diagnostics.error(handle.range, Parser.missing)
                return
            }
            tables[table].chains[chain].rules.remove(at: rule)
        case ("add", "element"), ("delete", "element"):
            guard let table = try tableReference() else { return skipStatement() }
            let name = try identifier()
            guard let set = tables[table].sets.firstIndex(where: { $0.name == name.text }) else {
                diagnostics.error(name.range, Parser.missing)
                return skipStatement()
            }
            try elementCommand(table: table, set: set, add: verb.text == "add")
        default:
            if ["table", "chain", "set", "map", "element", "rule", "flowtable", "counter", "quota", "limit",
                "ct"].contains(object.text) {
                unsupported("\(verb.text) \(object.text)", at: verb.range.through(object.range))
                skipStatement()
                return
            }
            index -= 1
            throw fail()
        }
    }

    /// `add element` / `delete element`: `{ a, b }` (maps: `{ k : verdict, … }`).
    private mutating func elementCommand(table: Int, set: Int, add: Bool) throws(SyntaxAbort) {
        if tables[table].sets[set].mapElements != nil {
            if add {
                tables[table].sets[set].mapElements! += try mapElements()
                return
            }
            let open = try expect(.leftBrace, "'{'")
            _ = open
            var keys: [ValueExpr] = []
            while true {
                while token.kind == .newline { _ = advance() }
                if token.kind == .rightBrace { break }
                keys.append(try rangeOrPrefix())
                if token.kind == .colon {
                    _ = advance()
                    _ = try mapVerdict()
                }
                while token.kind == .newline { _ = advance() }
                if token.kind == .comma { _ = advance(); continue }
                if token.kind == .rightBrace { break }
                throw fail(expecting: "comma or '}'")
            }
            _ = advance()
            let count = tables[table].sets[set].mapElements!.count
            tables[table].sets[set].removals += keys.map { (count, $0) }
            return
        }
        guard token.kind == .leftBrace else { throw fail(expecting: "'{'") }
        let value = try primary()
        let items: [ValueExpr]
        if case .set(let list, _) = value { items = list } else { items = [value] }
        if add {
            tables[table].sets[set].elements += items
        } else {
            let count = tables[table].sets[set].elements.count
            tables[table].sets[set].removals += items.map { (count, $0) }
        }
    }

    /// `add rule` / `insert rule [FAMILY] TABLE CHAIN [position H] STATEMENTS`.
    private mutating func ruleCommand(append: Bool) throws(SyntaxAbort) {
        guard let table = try tableReference(), let chain = try chainReference(table) else { return skipStatement() }
        var at = append ? tables[table].chains[chain].rules.count : 0
        if token.is("position") || token.is("handle") || token.is("index") {
            let keyword = advance()
            let number = try expect(.number, "number")
            let rules = tables[table].chains[chain].rules
            let found: Int?
            if keyword.text == "index" {
                found = number.number < UInt64(rules.count) ? Int(number.number) : nil
            } else {
                found = rules.firstIndex { UInt64($0.handle) == number.number }
            }
            guard let found else {
                diagnostics.error(keyword.range.through(number.range), Parser.missing)
                skipStatement()
                return
            }
            at = append ? found + 1 : found
        }
        scopes.append([:])
        defer { scopes.removeLast() }
        guard var rule = try rule() else { return }
        rule.handle = nextHandle(table) + rule.anonymousSets
        tables[table].lastHandle = rule.handle
        tables[table].chains[chain].rules.insert(rule, at: at)
    }

    /// `flush chain|table|set|map …` (`flush ruleset` is the caller's).
    mutating func flushCommand(_ start: Token) throws(SyntaxAbort) {
        guard token.kind == .word, ["table", "chain", "set", "map"].contains(token.text) else {
            throw fail(expecting: "ruleset")
        }
        let object = advance()
        guard let table = try tableReference() else { return skipStatement() }
        switch object.text {
        case "table":
            for chain in tables[table].chains.indices { tables[table].chains[chain].rules = [] }
        case "chain":
            guard let chain = try chainReference(table) else { return }
            tables[table].chains[chain].rules = []
        default:
            let name = try identifier()
            guard let set = tables[table].sets.firstIndex(where: { $0.name == name.text }) else {
                diagnostics.error(name.range, Parser.missing)
                return
            }
            tables[table].sets[set].elements = []
            tables[table].sets[set].removals = []
            if tables[table].sets[set].mapElements != nil { tables[table].sets[set].mapElements = [] }
        }
    }
}

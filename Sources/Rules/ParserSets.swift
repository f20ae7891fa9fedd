// The parser, named sets and ct helper objects inside a table (nft's
// `set_block` and `ct_helper_block`):
//
//   set trusted { type ipv4_addr; flags interval; elements = { 10.0.1.0/24, 192.168.7.1 } }
//   ct helper ftp-standard { type "ftp" protocol tcp; }
//
// `type` and `flags` lines need their separator, `elements = { … }` does not
// (as in nft). A set declared twice gets the elements of both declarations;
// a different type or flags the second time is an error.

import Conntrack

extension Parser {
    mutating func namedSet(_ table: Int, map isMap: Bool = false) throws(SyntaxAbort) {
        let name = try identifier()
        _ = try expect(.leftBrace, "'{'")
        var set = SetAST(name: name.text, nameRange: name.range)
        if isMap { set.mapElements = [] }
        while true {
            skipSeparators()
            if token.kind == .rightBrace { _ = advance(); break }
            guard token.kind == .word else { throw fail() }
            let keyword = token
            switch keyword.text {
            case "type":
                _ = advance()
                guard token.kind == .word else { throw fail(expecting: "string") }
                let typeToken = advance()
                if token.kind == .dot {
                    unsupported("concatenated set types", at: token.range)
                    skipStatement()
                } else if isMap {
                    _ = try expect(.colon, "colon")
                    guard token.kind == .word else { throw fail(expecting: "string") }
                    let data = advance()
                    if data.text != "verdict" {
                        unsupported("map data type \(data.text) (only verdict maps)", at: data.range)
                    }
                    set.type = (typeToken.text, typeToken.range)
                    try endOfItem()
                } else {
                    set.type = (typeToken.text, typeToken.range)
                    try endOfItem()
                }
            case "flags":
                _ = advance()
                while true {
                    guard token.kind == .word else { throw fail(expecting: "string") }
                    let flag = advance()
                    switch flag.text {
                    case "interval": set.interval = true
                    case "constant": break
                    case "timeout", "dynamic": unsupported("set flags \(flag.text)", at: flag.range)
                    default: diagnostics.error(flag.range, "unknown set flag '\(flag.text)'")
                    }
                    guard token.kind == .comma else { break }
                    _ = advance()
                }
                try endOfItem()
            case "elements":
                _ = advance()
                _ = try expect(.assign, "'='")
                guard token.kind == .leftBrace || token.kind == .dollar else { throw fail(expecting: "'{'") }
                if isMap {
                    guard token.kind == .leftBrace else { throw fail(expecting: "'{'") }
                    set.mapElements! += try mapElements()
                    continue
                }
                let value = try primary()
                if case .set(let items, _) = value {
                    set.elements += items
                } else {
                    set.elements.append(value)
                }
            case "auto-merge":
                _ = advance()
                set.autoMerge = true
            case "typeof", "timeout", "gc-interval", "size", "policy", "counter", "comment":
                unsupported("set \(keyword.text)", at: keyword.range)
                skipStatement()
            default:
                throw fail()
            }
        }
        if let existing = tables[table].sets.firstIndex(where: { $0.name == set.name }) {
            let first = tables[table].sets[existing]
            if (first.mapElements == nil) != (set.mapElements == nil) {
                diagnostics.error(set.nameRange, "'\(set.name)' was declared as a \(first.mapElements == nil ? "set" : "map") at line \(first.nameRange.line)")
                return
            }
            if let more = set.mapElements { tables[table].sets[existing].mapElements! += more }
            if let type = set.type, type.name != first.type?.name || set.interval != first.interval {
                diagnostics.error(set.nameRange,
                    "set '\(set.name)' redeclared with a different type or flags than at line \(first.nameRange.line)")
            }
            tables[table].sets[existing].elements += set.elements
        } else {
            tables[table].sets.append(set)
        }
    }

    /// `{ KEY : VERDICT, … }` of a verdict map (newlines and a trailing comma allowed).
    mutating func mapElements() throws(SyntaxAbort) -> [MapElementAST] {
        _ = try expect(.leftBrace, "'{'")
        var elements: [MapElementAST] = []
        while true {
            while token.kind == .newline { _ = advance() }
            if token.kind == .rightBrace { break }
            let key = try rangeOrPrefix()
            _ = try expect(.colon, "colon")
            let start = token
            guard let verdict = try mapVerdict() else { throw fail(expecting: "verdict") }
            elements.append(MapElementAST(key: key, verdict: verdict, verdictRange: start.range.through(previousRange)))
            while token.kind == .newline { _ = advance() }
            if token.kind == .comma {
                _ = advance()
                continue
            }
            if token.kind == .rightBrace { break }
            throw fail(expecting: "comma or '}'")
        }
        _ = advance()
        return elements
    }

    /// `accept`, `drop`, `continue`, `return`, `jump NAME`, `goto NAME`; nil at anything else.
    mutating func mapVerdict() throws(SyntaxAbort) -> VerdictAST? {
        guard token.kind == .word else { return nil }
        switch token.text {
        case "accept": _ = advance(); return .accept
        case "drop": _ = advance(); return .drop
        case "continue": _ = advance(); return .continue
        case "return": _ = advance(); return .return
        case "jump", "goto":
            let keyword = advance()
            guard token.kind == .word else { throw fail(expecting: "string") }
            let name = advance()
            return keyword.text == "jump" ? .jump(name.text, name.range) : .goto(name.text, name.range)
        default:
            return nil
        }
    }

    /// `ct helper NAME { type "ftp" protocol tcp; [l3proto ip;] }`
    mutating func helper(_ table: Int) throws(SyntaxAbort) {
        let name = try identifier()
        _ = try expect(.leftBrace, "'{'")
        var type: Token? = nil
        var l4: UInt8 = 6
        var l3: String? = nil
        while true {
            skipSeparators()
            if token.kind == .rightBrace { _ = advance(); break }
            if token.is("type") {
                _ = advance()
                guard token.kind == .quoted else { throw fail(expecting: "quoted string") }
                type = advance()
                _ = try expectWord("protocol")
                guard token.is("tcp") || token.is("udp") else { throw fail(expecting: "tcp or udp") }
                l4 = advance().text == "tcp" ? 6 : 17
                try endOfItem()
            } else if token.is("l3proto") {
                _ = advance()
                guard token.kind == .word, ["ip", "ip6", "inet"].contains(token.text) else { throw fail(expecting: "ip or ip6 or inet") }
                l3 = advance().text
                try endOfItem()
            } else {
                throw fail()
            }
        }
        guard let type else {
            diagnostics.error(name.range, "ct helper '\(name.text)' has no type")
            return
        }
        if let kind = HelperKind(type: type.text) {
            if kind.transport?.rawValue != l4 {
                diagnostics.error(type.range, "ct helper type \"\(type.text)\" reads \(kind.transport == .tcp ? "tcp" : "udp"), not \(l4 == 6 ? "tcp" : "udp")")
            }
        } else {
            unsupported("ct helper type \"\(type.text)\"", at: type.range)
        }
        if tables[table].helpers.contains(where: { $0.name == name.text }) { return }
        tables[table].helpers.append(HelperAST(name: name.text, nameRange: name.range, type: type.text,
                                               typeRange: type.range, l4Protocol: l4, l3Family: l3))
    }
}

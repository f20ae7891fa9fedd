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
    mutating func namedSet(_ table: Int) throws(SyntaxAbort) {
        let name = try identifier()
        _ = try expect(.leftBrace, "'{'")
        var set = SetAST(name: name.text, nameRange: name.range)
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
            if let type = set.type, type.name != first.type?.name || set.interval != first.interval {
                diagnostics.error(set.nameRange,
                    "set '\(set.name)' redeclared with a different type or flags than at line \(first.nameRange.line)")
            }
            tables[table].sets[existing].elements += set.elements
        } else {
            tables[table].sets.append(set)
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

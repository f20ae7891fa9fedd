// The parser, values: what follows a match's field, a `define NAME =`, or
// `elements =` (nft's rhs_expr and set_expr): single values, `a-b` ranges,
// `a/len` prefixes, `{ … }` anonymous sets (newlines allowed inside, a trailing
// comma too), `@name` set references, `a,b,c` lists and `a|b` (for bitmask
// types), and `$NAME` variables, replaced here by their value (which keeps the
// place of the `define`, as nft does).

extension Parser {
    /// Reserved words nft accepts as values (its primary_rhs_expr / keyword_expr):
    /// protocol names, `redirect` (an ICMP type), `reset`.
    private static let keywordValues: Set<String> = [
        "tcp", "udp", "udplite", "esp", "ah", "icmp", "igmp", "icmpv6", "comp", "dccp", "sctp", "redirect",
        "ip", "ip6", "ecn", "reset", "snat", "dnat", "ether", "vlan", "arp", "mark", "random",
    ]

    /// The value of a match: a set, a set reference, or values with `,` or `|` between them.
    mutating func rhs(bitmask: Bool) throws(SyntaxAbort) -> ValueExpr {
        if token.kind == .at {
            let at = advance()
            guard token.kind == .word else { throw fail(expecting: "string") }
            let name = advance()
            return .setReference(name.text, at.range.through(name.range))
        }
        let first = try rangeOrPrefix()
        if token.kind == .comma {
            var items = [first]
            while token.kind == .comma {
                _ = advance()
                items.append(try rangeOrPrefix())
            }
            return .list(items, first.range.through(items.last!.range))
        }
        if token.kind == .pipe {
            var items = [first]
            while token.kind == .pipe {
                _ = advance()
                items.append(try rangeOrPrefix())
            }
            return .bitwiseOr(items, first.range.through(items.last!.range))
        }
        return first
    }

    /// The value of a `define`.
    mutating func defineValue() throws(SyntaxAbort) -> ValueExpr {
        try rhs(bitmask: true)
    }

    /// `a`, `a-b` or `a/len`.
    mutating func rangeOrPrefix() throws(SyntaxAbort) -> ValueExpr {
        let low = try primary()
        if token.kind == .dash {
            _ = advance()
            let high = try primary()
            return .range(low, high, low.range.through(high.range))
        }
        if token.kind == .slash, peek().kind == .number {
            _ = advance()
            let length = advance()
            return .prefix(low, Int(clamping: length.number), low.range.through(length.range))
        }
        return low
    }

    mutating func primary() throws(SyntaxAbort) -> ValueExpr {
        switch token.kind {
        case .word:
            if Keywords.reserved.contains(token.text) && Keywords.unsupported.contains(token.text)
                && !Parser.keywordValues.contains(token.text) {
                unsupported(token.text, at: token.range)
                throw SyntaxAbort()
            }
            if Keywords.reserved.contains(token.text) && !Parser.keywordValues.contains(token.text) { throw fail() }
            let word = advance()
            return .symbol(word.text, word.range)
        case .quoted:
            let quoted = advance()
            return .quoted(quoted.text, quoted.range)
        case .asteriskString:
            let word = advance()
            return .wildcard(word.text, word.range)
        case .number:
            let number = advance()
            return .number(number.number, number.text, number.range)
        case .address:
            let address = advance()
            return .address(address.text, address.range, bracketed: address.bracketed)
        case .dollar:
            _ = advance()
            guard token.kind == .word else { throw fail(expecting: "string") }
            let name = advance()
            guard let value = lookupVariable(name.text) else {
                diagnostics.error(name.range, "unknown identifier '\(name.text)'")
                return .invalid(name.range)
            }
            return value
        case .leftBrace:
            return try setLiteral()
        default:
            throw fail()
        }
    }

    /// `{ a, b-c, d/24, $SET }` (elements of a `$SET` are spliced in).
    private mutating func setLiteral() throws(SyntaxAbort) -> ValueExpr {
        let open = advance()
        var items: [ValueExpr] = []
        while true {
            while token.kind == .newline { _ = advance() }
            if token.kind == .rightBrace { break }
            let element = try rangeOrPrefix()
            if case .set(let inner, _) = element {
                items += inner
            } else {
                items.append(element)
            }
            if token.kind == .word, ["comment", "timeout", "expires", "counter"].contains(token.text) {
                unsupported("set element \(token.text)", at: token.range)
                skipStatement()
                throw SyntaxAbort()
            }
            while token.kind == .newline { _ = advance() }
            if token.kind == .comma {
                _ = advance()
                continue
            }
            if token.kind == .rightBrace { break }
            throw fail(expecting: "comma or '}'")
        }
        let close = advance()
        return .set(items, open.range.through(close.range))
    }
}

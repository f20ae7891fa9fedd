// The parser, rules: a rule is a list of statements (matches and actions) up to
// a newline, `;` or the chain's `}`, optionally ending in `comment "text"`
// (nft(8), "RULES" and "STATEMENTS"). Matches are `FIELD [OP] VALUE`
// (OP one of == != < > <= >=, or none), plus the two mask forms of
// `tcp flags` and `ct state`: `tcp flags & (syn|ack) == syn` and
// `tcp flags syn / syn,ack`.
//
// Keywords of nft features tunwall lacks (limit, quota, meta mark set, ct
// mark, ip ttl, …) are reported as "not supported by tunwall: …" and the rest
// of that rule is skipped, so one file shows every such use at once.

extension Parser {
    /// The previous token's place (the end of what was just read).
    var previousRange: SourceRange { tokens[max(index - 1, 0)].range }

    /// One rule; nil if a statement in it was reported and skipped.
    mutating func rule() throws(SyntaxAbort) -> RuleAST? {
        var statements: [StatementAST] = []
        var comment: String? = nil
        while !atEndOfStatement {
            if token.is("comment") {
                _ = advance()
                guard token.kind == .quoted || token.kind == .word else { throw fail(expecting: "quoted string") }
                comment = advance().text
                guard atEndOfStatement else { throw fail(expecting: "newline or semicolon") }
                break
            }
            guard let statement = try statement() else {
                skipStatement()
                return nil
            }
            statements.append(statement)
        }
        guard let first = statements.first, let last = statements.last else { return nil }
        return RuleAST(statements: statements, comment: comment, range: first.range.through(last.range))
    }

    private static let fields: [String: [String: Field]] = [
        "ip": ["saddr": .ipSaddr, "daddr": .ipDaddr, "protocol": .ipProtocol],
        "ip6": ["saddr": .ip6Saddr, "daddr": .ip6Daddr, "nexthdr": .ip6Nexthdr],
        "tcp": ["sport": .tcpSport, "dport": .tcpDport, "flags": .tcpFlags],
        "udp": ["sport": .udpSport, "dport": .udpDport],
        "th": ["sport": .thSport, "dport": .thDport],
        "icmp": ["type": .icmpType, "code": .icmpCode],
        "icmpv6": ["type": .icmpv6Type, "code": .icmpv6Code],
        "meta": ["iifname": .iifname, "oifname": .oifname, "mark": .metaMark, "l4proto": .metaL4proto,
                 "nfproto": .metaNfproto, "iiftype": .metaIiftype],
        "ether": ["saddr": .etherSaddr, "daddr": .etherDaddr, "type": .etherType],
    ]

    /// Header fields nft has and tunwall does not match on.
    private static let unsupportedFields: [String: Set<String>] = [
        "ip": ["version", "hdrlength", "dscp", "ecn", "length", "id", "frag-off", "ttl", "checksum", "option", "tos"],
        "ip6": ["version", "dscp", "ecn", "flowlabel", "length", "hoplimit"],
        "tcp": ["sequence", "ackseq", "doff", "reserved", "window", "checksum", "urgptr", "option"],
        "udp": ["length", "checksum"],
        "th": ["length", "checksum"],
        "icmp": ["checksum", "id", "sequence", "gateway", "mtu"],
        "icmpv6": ["checksum", "param-problem", "mtu", "id", "sequence", "max-delay", "taddr", "daddr"],
        "meta": ["length", "protocol", "priority", "iif", "oif", "oiftype", "skuid", "skgid", "nftrace",
                 "rtclassid", "secmark", "ibrname", "obrname", "pkttype", "cpu", "iifgroup", "oifgroup", "cgroup",
                 "random", "ipsec", "iifkind", "oifkind", "ibrpvid", "ibrvproto", "time", "day", "hour", "sdif",
                 "sdifname", "secpath", "ibriport", "obriport"],
        "ct": ["mark", "status", "direction", "expiration", "zone", "l3proto", "protocol", "saddr", "daddr",
               "proto-src", "proto-dst", "label", "bytes", "packets", "avgpkt", "id", "original", "reply",
               "event", "secmark", "timeout", "expectation"],
    ]

    /// nft's message for an unknown meta key (src/parser_bison.y, meta_key).
    private static let metaKeys = "length, protocol, priority, mark, iif, oif, iifname, oifname, iiftype, oiftype, skuid, skgid, nftrace, rtclassid, secmark, nfproto, l4proto, ibrname, obrname, pkttype, cpu, iifgroup, oifgroup, cgroup, random, ipsec, iifkind, oifkind, ibrpvid, ibrvproto, time, day, hour, sdif, sdifname"

    private mutating func statement() throws(SyntaxAbort) -> StatementAST? {
        let start = token
        guard start.kind == .word else { throw fail(expecting: index > 0 && tokens[index - 1].kind != .newline && tokens[index - 1].kind != .semicolon && tokens[index - 1].kind != .leftBrace ? "newline or semicolon" : nil) }
        switch start.text {
        case "iiftype":
            // nft takes iiftype unqualified, as iifname, and lists it `meta iiftype`.
            _ = advance()
            return try fieldStatement(.metaIiftype, fieldRange: start.range)
        case "iifname", "oifname":
            _ = advance()
            return try fieldStatement(start.text == "iifname" ? .iifname : .oifname, fieldRange: start.range)
        case "mark":
            _ = advance()
            if token.is("set") {
                unsupported("meta mark set", at: start.range.through(token.range))
                return nil
            }
            return try fieldStatement(.metaMark, fieldRange: start.range)
        case "ip", "ip6", "tcp", "udp", "th", "icmp", "icmpv6", "meta", "ether":
            _ = advance()
            guard token.kind == .word else { throw fail() }
            let key = token
            let fieldRange = start.range.through(key.range)
            if let field = Parser.fields[start.text]?[key.text] {
                _ = advance()
                if token.is("set") {
                    unsupported("\(start.text) \(key.text) set", at: fieldRange.through(token.range))
                    return nil
                }
                return try fieldStatement(field, fieldRange: fieldRange)
            }
            if Parser.unsupportedFields[start.text]?.contains(key.text) == true {
                unsupported("\(start.text) \(key.text)", at: fieldRange)
                return nil
            }
            if start.text == "meta" {
                diagnostics.error(fieldRange, "syntax error, unexpected \(key.text), known keys are \(Parser.metaKeys)")
                throw SyntaxAbort()
            }
            let known = Parser.fields[start.text]!.keys.sorted().joined(separator: " or ")
            throw fail(expecting: known)
        case "ct":
            return try ctStatement()
        case "counter":
            _ = advance()
            if token.is("name") {
                unsupported("counter name", at: start.range.through(token.range))
                return nil
            }
            guard token.is("packets") else { return .counter(packets: 0, bytes: 0, start.range) }
            _ = advance()
            let packets = try expect(.number, "number").number
            _ = try expectWord("bytes")
            let bytes = try expect(.number, "number").number
            return .counter(packets: packets, bytes: bytes, start.range.through(previousRange))
        case "log":
            return try logStatement()
        case "accept", "drop", "continue", "return":
            _ = advance()
            let verdict: VerdictAST = switch start.text {
            case "accept": .accept
            case "drop": .drop
            case "continue": .continue
            default: .return
            }
            return .verdict(verdict, start.range)
        case "jump", "goto":
            _ = advance()
            guard let (name, nameRange) = try nameOrVariable(quoted: false) else { return nil }
            let verdict: VerdictAST = start.text == "jump" ? .jump(name, nameRange) : .goto(name, nameRange)
            return .verdict(verdict, start.range.through(previousRange))
        case "reject":
            return try rejectStatement()
        case "limit":
            return try limitStatement()
        case "masquerade", "snat", "dnat", "redirect":
            return try natStatement()
        default:
            if Keywords.unsupported.contains(start.text) {
                unsupported(start.text, at: start.range)
                return nil
            }
            if Keywords.reserved.contains(start.text) { throw fail() }
            diagnostics.error(start.range, "unknown expression or statement: \(start.text)")
            return nil
        }
    }

    /// A chain or helper name, or a `$VAR` holding one (nil if the variable is undefined: reported).
    /// The name's place is where its text is: the `define`'s, for a variable.
    private mutating func nameOrVariable(quoted: Bool) throws(SyntaxAbort) -> (String, SourceRange)? {
        if token.kind == .dollar {
            switch try primary() {
            case .symbol(let text, let range), .quoted(let text, let range): return (text, range)
            case .invalid: return nil
            case let other:
                diagnostics.error(other.range, "datatype mismatch, expected a name")
                return nil
            }
        }
        guard token.kind == .word || (quoted && token.kind == .quoted) else {
            throw fail(expecting: quoted ? "quoted string" : "string")
        }
        let name = advance()
        return (name.text, name.range)
    }

    /// A match on the field, or `FIELD vmap { … }` / `FIELD vmap @name`.
    private mutating func fieldStatement(_ field: Field, fieldRange: SourceRange) throws(SyntaxAbort) -> StatementAST? {
        guard token.is("vmap") else { return .match(try relational(field, fieldRange: fieldRange)) }
        _ = advance()
        var vmap = VmapAST(field: field, fieldRange: fieldRange, elements: nil, mapName: nil, range: fieldRange)
        if token.kind == .at {
            let at = advance()
            guard token.kind == .word else { throw fail(expecting: "string") }
            let name = advance()
            vmap.mapName = (name.text, at.range.through(name.range))
        } else if token.kind == .leftBrace {
            vmap.elements = try mapElements()
        } else {
            throw fail(expecting: "'{' or '@'")
        }
        vmap.range = fieldRange.through(previousRange)
        return .vmap(vmap)
    }

    /// `limit rate [over] N/UNIT [burst M packets]` (nft's limit_stmt, packet mode).
    private mutating func limitStatement() throws(SyntaxAbort) -> StatementAST? {
        let start = advance()
        _ = try expectWord("rate")
        var over = false
        if token.is("over") {
            _ = advance()
            over = true
        } else if token.is("until") {
            _ = advance()
        }
        let rate = try expect(.number, "number")
        if token.kind == .word {
            // `limit rate 10 mbytes/second`: a byte rate.
            unsupported("limit rate in bytes", at: token.range)
            return nil
        }
        _ = try expect(.slash, "'/'")
        guard token.kind == .word else { throw fail(expecting: "string") }
        let unitToken = advance()
        guard let unit = LimitUnit(rawValue: unitToken.text) else {
            diagnostics.error(unitToken.range, "Wrong time format, expecting second, minute, hour, day or week")
            return nil
        }
        if rate.number == 0 {
            diagnostics.error(rate.range, "limit rate must be > 0")
        }
        var limit = LimitAST(rate: rate.number, unit: unit, burst: nil, over: over, range: start.range)
        if token.is("burst") {
            let burstToken = advance()
            let burst = try expect(.number, "number")
            if token.is("bytes") || token.is("kbytes") || token.is("mbytes") {
                unsupported("limit burst in bytes", at: token.range)
                return nil
            }
            _ = try expectWord("packets")
            if burst.number == 0 {
                diagnostics.error(burstToken.range.through(previousRange), "packet limit burst must be > 0")
            } else if burst.number > UInt64(UInt32.max) {
                diagnostics.error(burst.range, "burst out of range")
            }
            limit.burst = burst.number
        }
        limit.range = start.range.through(previousRange)
        return .limit(limit)
    }

    /// `FIELD [OP] VALUE`, and the mask forms for bitmask fields.
    private mutating func relational(_ field: Field, fieldRange: SourceRange) throws(SyntaxAbort) -> MatchAST {
        let isBitmask = field == .tcpFlags || field == .ctState
        if isBitmask, token.kind == .ampersand {
            _ = advance()
            let mask = try maskExpression()
            let op: RelOp
            switch token.kind {
            case .equal: op = .eq
            case .notEqual: op = .neq
            default: throw fail(expecting: "'==' or '!='")
            }
            _ = advance()
            let value = try rhs(bitmask: true)
            return MatchAST(field: field, fieldRange: fieldRange, op: op, value: value, andMask: mask,
                            range: fieldRange.through(value.range))
        }
        if token.kind == .ampersand {
            unsupported("\(field.rawValue) & (bitwise operations)", at: token.range)
            throw SyntaxAbort()
        }
        let op = relationalOperator()
        let value = try rhs(bitmask: isBitmask)
        var match = MatchAST(field: field, fieldRange: fieldRange, op: op, value: value,
                             range: fieldRange.through(value.range))
        if isBitmask, token.kind == .slash {
            _ = advance()
            let mask = try rhs(bitmask: true)
            match.slashMask = mask
            match.range = fieldRange.through(mask.range)
        }
        return match
    }

    private mutating func relationalOperator() -> RelOp {
        let op: RelOp
        switch token.kind {
        case .equal: op = .eq
        case .notEqual: op = .neq
        case .less: op = .lt
        case .greater: op = .gt
        case .lessEqual: op = .le
        case .greaterEqual: op = .ge
        default: return .implicit
        }
        _ = advance()
        return op
    }

    /// `syn` or `(syn|ack)` after `&`.
    private mutating func maskExpression() throws(SyntaxAbort) -> ValueExpr {
        guard token.kind == .leftParen else { return try primary() }
        let open = advance()
        var items = [try primary()]
        while token.kind == .pipe || token.kind == .comma {
            _ = advance()
            items.append(try primary())
        }
        let close = try expect(.rightParen, "')'")
        return .bitwiseOr(items, open.range.through(close.range))
    }

    private mutating func ctStatement() throws(SyntaxAbort) -> StatementAST? {
        let start = advance()
        guard token.kind == .word else { throw fail() }
        let key = token
        switch key.text {
        case "state":
            _ = advance()
            return try fieldStatement(.ctState, fieldRange: start.range.through(key.range))
        case "count":
            _ = advance()
            var over = false
            if token.is("over") {
                _ = advance()
                over = true
            }
            let number = try expect(.number, "number")
            if number.number > UInt64(UInt32.max) {
                diagnostics.error(number.range, "ct count limit out of range (at most \(UInt32.max))")
            }
            return .ctCount(limit: number.number, over: over, start.range.through(number.range))
        case "helper":
            _ = advance()
            guard token.is("set") else {
                unsupported("ct helper match", at: start.range.through(key.range))
                return nil
            }
            _ = advance()
            guard let (name, nameRange) = try nameOrVariable(quoted: true) else { return nil }
            return .ctHelperSet(name, nameRange: nameRange, start.range.through(previousRange))
        default:
            if Parser.unsupportedFields["ct"]!.contains(key.text) {
                let extra = peek().is("set") ? " set" : ""
                unsupported("ct \(key.text)\(extra)", at: start.range.through(extra.isEmpty ? key.range : peek().range))
                return nil
            }
            throw fail()
        }
    }

    private mutating func logStatement() throws(SyntaxAbort) -> StatementAST? {
        let start = advance()
        var prefix: String? = nil
        var level: String? = nil
        while token.kind == .word {
            switch token.text {
            case "prefix":
                _ = advance()
                guard [.quoted, .word, .asteriskString].contains(token.kind) else {
                    throw fail(expecting: "string or quoted string or string with a trailing asterisk")
                }
                let text = advance()
                if text.text.utf8.count > 127 {
                    diagnostics.error(text.range, "log prefix is too long (the kernel keeps at most 127 bytes)")
                }
                prefix = text.text
            case "level":
                _ = advance()
                guard token.kind == .word else { throw fail(expecting: "string") }
                let value = advance()
                if !Keywords.logLevels.contains(value.text) {
                    diagnostics.error(value.range, "invalid log level")
                }
                level = value.text
            case "flags", "group", "snaplen", "queue-threshold":
                unsupported("log \(token.text)", at: token.range)
                return nil
            default:
                return .log(prefix: prefix, level: level, start.range.through(previousRange))
            }
        }
        return .log(prefix: prefix, level: level, start.range.through(previousRange))
    }

    private mutating func rejectStatement() throws(SyntaxAbort) -> StatementAST? {
        let start = advance()
        guard token.is("with") else { return .reject(.default, start.range) }
        _ = advance()
        if token.is("tcp") {
            _ = advance()
            _ = try expectWord("reset")
            return .reject(.tcpReset, start.range.through(previousRange))
        }
        guard token.kind == .word, let family = RejectFamily(rawValue: token.text) else {
            throw fail(expecting: "icmp or icmpv6 or icmpx or tcp")
        }
        _ = advance()
        if token.is("type") { _ = advance() }
        let code = try primary()
        return .reject(.icmp(family, code), start.range.through(code.range))
    }

    private mutating func natStatement() throws(SyntaxAbort) -> StatementAST? {
        let keyword = advance()
        let kind = NATKind(rawValue: keyword.text)!
        var nat = NATAST(kind: kind, keywordRange: keyword.range, range: keyword.range)
        if kind == .snat || kind == .dnat {
            if token.is("ip") || token.is("ip6") {
                nat.family = advance().text == "ip" ? .ip : .ip6
            }
            _ = try expectWord("to")
            if token.kind != .colon {
                var address = try primary()
                if token.kind == .dash {
                    _ = advance()
                    let high = try primary()
                    address = .range(address, high, address.range.through(high.range))
                } else if token.kind == .slash, peek().kind == .number {
                    _ = advance()
                    let length = advance()
                    address = .prefix(address, Int(clamping: length.number), address.range.through(length.range))
                }
                nat.address = address
            }
            if token.kind == .colon { try natPorts(&nat) }
        } else if token.is("to") {
            _ = advance()
            guard token.kind == .colon else { throw fail(expecting: "colon") }
            try natPorts(&nat)
        }
        let flagNames: Set<String> = ["random", "fully-random", "persistent"]
        while token.kind == .word, flagNames.contains(token.text) {
            nat.flags.append(advance().text)
            guard token.kind == .comma, peek().kind == .word, flagNames.contains(peek().text) else { break }
            _ = advance()
        }
        if token.is("port") {
            unsupported("\(kind.rawValue) port", at: token.range)
            return nil
        }
        nat.range = keyword.range.through(previousRange)
        return .nat(nat)
    }

    /// `:PORT` or `:PORT-PORT`
    private mutating func natPorts(_ nat: inout NATAST) throws(SyntaxAbort) {
        _ = advance()
        let low = try primary()
        nat.portLow = low
        if token.kind == .dash {
            _ = advance()
            nat.portHigh = try primary()
        }
        nat.portRange = low.range.through(previousRange)
    }
}

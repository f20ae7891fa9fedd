// The lexer follows nft's flex scanner where it changes what a file means:
// longest match among addresses, numbers and words; octal with a leading
// zero; `[v6]` as one address; words with `-` `/` `.`; comments; `\` joins
// lines; columns count characters.

@testable import Rules
import Testing

@Suite struct LexerTests {
    func tokens(_ text: String) -> [String] {
        var lexer = Lexer(text)
        return lexer.tokenize().dropLast().map { token in
            switch token.kind {
            case .word: return "w:\(token.text)"
            case .number: return "n:\(token.number)"
            case .address: return token.bracketed ? "a:[\(token.text)]" : "a:\(token.text)"
            case .quoted: return "q:\(token.text)"
            case .asteriskString: return "*:\(token.text)"
            case .newline: return "nl"
            default: return token.text
            }
        }
    }

    @Test func addressesNumbersAndWords() {
        #expect(tokens("ip saddr 10.0.1.0/24") == ["w:ip", "w:saddr", "a:10.0.1.0", "/", "n:24"])
        #expect(tokens("ip6 saddr fd00:1::/64") == ["w:ip6", "w:saddr", "a:fd00:1::", "/", "n:64"])
        #expect(tokens("::ffff:1.2.3.4 ::1 2001:db8::1") == ["a:::ffff:1.2.3.4", "a:::1", "a:2001:db8::1"])
        #expect(tokens("dnat to [fd00::1]:80") == ["w:dnat", "w:to", "a:[fd00::1]", ":", "n:80"])
        #expect(tokens("dnat to 10.0.1.10:80-90") == ["w:dnat", "w:to", "a:10.0.1.10", ":", "n:80", "-", "n:90"])
        #expect(tokens("1024-65535 0x10 022 08") == ["n:1024", "-", "n:65535", "n:16", "n:18", "w:08"])
        #expect(tokens("ftp-data nd-neighbor-solicit ftp-standard") == ["w:ftp-data", "w:nd-neighbor-solicit", "w:ftp-standard"])
        #expect(tokens("iifname wan* \"lan*\"") == ["w:iifname", "*:wan*", "q:lan*"])
        #expect(tokens("redirect to :8080") == ["w:redirect", "w:to", ":", "n:8080"])
        #expect(tokens("a eq b ne c") == ["w:a", "eq", "w:b", "ne", "w:c"])
    }

    @Test func commentsContinuationsAndColumns() {
        #expect(tokens("accept # a comment\ndrop") == ["w:accept", "nl", "w:drop"])
        #expect(tokens("tcp dport 22 \\\n accept") == ["w:tcp", "w:dport", "n:22", "w:accept"])
        var lexer = Lexer("\t\ttcp dport \"ä\" 22\n  x")
        let all = lexer.tokenize()
        #expect(all[0].range == SourceRange(line: 1, column: 3, endColumn: 5))
        #expect(all[2].range == SourceRange(line: 1, column: 13, endColumn: 15))
        #expect(all[3].range == SourceRange(line: 1, column: 17, endColumn: 18))
        #expect(all[5].range == SourceRange(line: 2, column: 3, endColumn: 3))
    }
}

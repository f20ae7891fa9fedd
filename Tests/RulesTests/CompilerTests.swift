// The compiled form: matches are 32 bytes, and a rule's protocol
// dependencies (`meta nfproto`, `meta l4proto`, whether nft adds them or the
// file says them) move into the rule header, checked before any match.

@testable import Rules
import Testing

@Suite struct CompilerTests {
    @Test func compactMatches() {
        #expect(MemoryLayout<CompiledMatch>.stride == 32)
    }

    @Test func dependenciesGoIntoTheRuleHeader() throws {
        let rules = try parse("""
            table inet t {
            \tchain c {
            \t\ttype filter hook forward priority 0;
            \t\tip saddr 10.0.1.0/24 tcp dport 22 accept
            \t\tmeta l4proto udp meta l4proto != 17 accept
            \t\ticmpv6 type echo-request accept
            \t}
            }
            """)
        let compiled = Array(rules.rules)
        #expect(compiled.count == 3)
        #expect(compiled[0].nfproto == 2 && compiled[0].checksL4 && compiled[0].l4Protocol == 6)
        #expect(compiled[0].matchEnd - compiled[0].matchStart == 2)
        #expect(compiled[1].nfproto == 0 && compiled[1].l4Protocol == 17)
        #expect(compiled[1].matchEnd - compiled[1].matchStart == 1, "the != stays a match")
        #expect(compiled[2].nfproto == 10 && compiled[2].l4Protocol == 58)
    }
}

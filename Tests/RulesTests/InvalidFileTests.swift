// Every file in Invalid/ starts with one `# expect: LINE:COL-COL: Error: MESSAGE`
// line per error the file must produce (in order), and `# nft-accepts` when
// the real nft takes the file (tunwall refuses it: unsupported features, or a
// bare number in an address set, which nft would read as 0.0.0.N).
// Each error must come out exactly so, printed as nft prints errors:
//
//   FILE:LINE:COL-COL: Error: MESSAGE
//   <the source line>
//   <tabs of the line kept, other characters as spaces>^^^ (one caret per character)

import Foundation
import Rules
import Testing

struct InvalidFile: CustomTestStringConvertible, Sendable {
    let path: String
    let expected: [String]
    let nftAccepts: Bool

    var testDescription: String { (path as NSString).lastPathComponent }

    static func all() -> [InvalidFile] {
        Paths.files(in: Paths.invalid, extension: "nft").map { url in
            let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let expected = lines.prefix { $0.hasPrefix("# expect: ") }.map { String($0.dropFirst("# expect: ".count)) }
            return InvalidFile(path: url.path, expected: expected, nftAccepts: lines.contains("# nft-accepts"))
        }
    }
}

@Suite struct InvalidFileTests {
    @Test func thereAreEnoughOfThem() {
        let files = InvalidFile.all()
        #expect(files.count >= 30)
        #expect(files.allSatisfy { !$0.expected.isEmpty }, "every invalid file says what it expects")
    }

    @Test(arguments: InvalidFile.all())
    func reportsTheExpectedErrors(_ file: InvalidFile) throws {
        let errors: RuleErrors
        do {
            _ = try Ruleset.load(path: file.path)
            Issue.record("\(file.testDescription) was accepted")
            return
        } catch {
            errors = error
        }
        let found = errors.errors.map { "\($0.line):\($0.column)-\($0.endColumn): Error: \($0.message)" }
        #expect(found == file.expected)
        let source = try String(contentsOfFile: file.path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        for error in errors.errors {
            #expect(error.file == file.path)
            let lines = error.description.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 3)
            #expect(lines[0] == "\(file.path):\(error.line):\(error.column)-\(error.endColumn): Error: \(error.message)")
            // The source line is the line the error is on (at the end of a file that ends with a
            // newline, nft reports the line after the last and shows the last one: so do we).
            let shown = error.line - 1 < source.count - 1 ? error.line - 1 : source.count - 2
            #expect(lines[1] == source[shown])
            // The caret line: `^` under the culprit, `~` under the related place (if any), tabs of the
            // source kept (so the marks line up in a terminal), spaces elsewhere.
            let caret = Array(lines[2])
            let source = Array(lines[1])
            #expect(caret.count == max(error.endColumn, error.related?.upperBound ?? 0))
            for (offset, mark) in caret.enumerated() {
                let position = offset + 1
                if (error.column...error.endColumn).contains(position) {
                    #expect(mark == "^")
                } else if let related = error.related, related.contains(position) {
                    #expect(mark == "~")
                } else {
                    #expect(mark == (offset < source.count && source[offset] == "\t" ? "\t" : " "))
                }
            }
        }
        #expect(errors.description == errors.errors.map(\.description).joined(separator: "\n"))
    }

    @Test func unreadableFile() {
        do {
            _ = try Ruleset.load(path: "/nonexistent/rules.nft")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.errors.count == 1)
            #expect(error.errors[0].line == 0)
            #expect(error.errors[0].message == "Could not open file \"/nonexistent/rules.nft\": No such file or directory")
            #expect(error.description == "/nonexistent/rules.nft: Error: Could not open file \"/nonexistent/rules.nft\": No such file or directory")
        }
    }

    @Test func caretLineLayout() {
        let error = RuleError(file: "f.nft", line: 3, column: 12, endColumn: 21, message: "m",
                              sourceLine: "\t\tip saddr 10.0.0.300 accept")
        #expect(error.description == "f.nft:3:12-21: Error: m\n\t\tip saddr 10.0.0.300 accept\n\t\t         ^^^^^^^^^^")
    }
}

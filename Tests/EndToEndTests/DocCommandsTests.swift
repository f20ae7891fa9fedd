// Every `tunwall` command the README, Topologies/README.md and docs/*.md show
// in a code block is one the tool accepts: each is read by the command table
// (`tunwall --parse-only`, which checks commands, subcommands, options and
// their values, and conntrack-tools' grammar for `tunwall conntrack`) without
// running it. A command renamed or an option dropped fails here with the
// file and line that still show it. (The tutorial's commands run for real
// in TutorialTests, the demo's in DemoTests.)

import Foundation
import Testing
import TestSupport

@Suite struct DocCommandsTests {
    struct Shown: CustomStringConvertible, Sendable {
        var file: String
        var line: Int
        var words: [String]
        var description: String { "\(file):\(line): tunwall \(words.joined(separator: " "))" }
    }

    /// The commands in fenced code blocks: a line's pieces between `|`, `&&`,
    /// `;` that start with `tunwall` (or `.build/release/tunwall`, after `sudo`
    /// or a `$ ` prompt), and what follows ` -- tunwall ` inside `lab exec`.
    static let shown: [Shown] = {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("docs").path)) ?? []
        let files = ["README.md", "Topologies/README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        var result: [Shown] = []
        for file in files {
            guard let text = try? String(contentsOf: repository.appendingPathComponent(file), encoding: .utf8) else { continue }
            var inBlock = false
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if line.hasPrefix("```") { inBlock.toggle(); continue }
                guard inBlock else { continue }
                var command = String(line)
                if let hash = command.range(of: " #") { command = String(command[..<hash.lowerBound]) }
                for piece in command.components(separatedBy: CharacterSet(charactersIn: "|;")).flatMap({ $0.components(separatedBy: "&&") }) {
                    var words = Self.words(piece)
                    while let first = words.first, ["sudo", "$"].contains(first) { words.removeFirst() }
                    while words.last == "&" { words.removeLast() }
                    guard let first = words.first, first == "tunwall" || first.hasSuffix("/tunwall") else { continue }
                    words.removeFirst()
                    result.append(Shown(file: file, line: index + 1, words: words))
                    if let dashes = words.firstIndex(of: "--"), words.indices.contains(dashes + 1),
                       words[dashes + 1] == "tunwall" || words[dashes + 1].hasSuffix("/tunwall") {
                        result.append(Shown(file: file, line: index + 1, words: Array(words[(dashes + 2)...])))
                    }
                }
            }
        }
        return result
    }()

    /// Shell words: whitespace apart, '…' and "…" kept together (quotes removed).
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character?
        var inWord = false
        for character in text {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                inWord = true
            } else if character.isWhitespace {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    @Test func theDocsShowCommands() {
        #expect(Self.shown.count >= 30, "\(Self.shown)")
        #expect(Self.shown.contains { $0.file == "Topologies/README.md" })
    }

    @Test(arguments: shown)
    func everyShownCommandIsAccepted(_ shown: Shown) throws {
        let run = try Tool.run(Tool.binary, ["--parse-only"] + shown.words)
        #expect(run.status == 0, "\(shown)\n\(run.stderr)")
    }
}

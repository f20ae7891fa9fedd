// The fenced code blocks of README.md, Topologies/README.md and docs/*.md and
// the `tunwall` commands in them: DocCommandsTests parse-checks every one,
// LabDocCommandsTests runs those that can run in a lab.

import Foundation
import TestSupport

/// One fenced block: its file, the line of its first content line, its lines.
struct DocBlock: Sendable {
    var file: String
    var line: Int
    var lines: [String]

    /// "README.md:125", where the block's first line is.
    var place: String { "\(file):\(line)" }

    /// Lines that hold a `tunwall` command (DocBlocks.commands finds at least one in them).
    var commandLines: [String] { lines.filter { !DocBlocks.commands(in: $0).isEmpty } }

    static let files: [String] = {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("docs").path)) ?? []
        return ["README.md", "Topologies/README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
    }()

    static let all: [DocBlock] = {
        var blocks: [DocBlock] = []
        for file in files {
            guard let text = try? String(contentsOf: repository.appendingPathComponent(file), encoding: .utf8) else { continue }
            var current: DocBlock? = nil
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if line.hasPrefix("```") {
                    if let block = current { blocks.append(block); current = nil } else {
                        current = DocBlock(file: file, line: index + 2, lines: [])
                    }
                    continue
                }
                current?.lines.append(String(line))
            }
        }
        return blocks
    }()
}

enum DocBlocks {
    /// The `tunwall` commands of one line, as words after `tunwall`: the line's
    /// pieces between `|`, `&&`, `;` that start with `tunwall` (or
    /// `.build/release/tunwall`, after `sudo` or a `$ ` prompt), and what
    /// follows ` -- tunwall ` inside `lab exec`. A ` #` comment is left out.
    static func commands(in line: String) -> [[String]] {
        var command = line
        if let hash = command.range(of: " #") { command = String(command[..<hash.lowerBound]) }
        var result: [[String]] = []
        for piece in command.components(separatedBy: CharacterSet(charactersIn: "|;")).flatMap({ $0.components(separatedBy: "&&") }) {
            var words = Self.words(piece)
            while let first = words.first, ["sudo", "$"].contains(first) { words.removeFirst() }
            while words.last == "&" { words.removeLast() }
            guard let first = words.first, first == "tunwall" || first.hasSuffix("/tunwall") else { continue }
            words.removeFirst()
            result.append(words)
            if let dashes = words.firstIndex(of: "--"), words.indices.contains(dashes + 1),
               words[dashes + 1] == "tunwall" || words[dashes + 1].hasSuffix("/tunwall") {
                result.append(Array(words[(dashes + 2)...]))
            }
        }
        return result
    }

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
}

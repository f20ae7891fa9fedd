// Every `tunwall` command the README, Topologies/README.md and docs/*.md show
// in a code block is one the tool accepts: each is read by the command table
// (`tunwall --parse-only`, which checks commands, subcommands, options and
// their values, and conntrack-tools' grammar for `tunwall conntrack`) without
// running it. A command renamed or an option dropped fails here with the
// file and line that still show it. (Those that can run in a lab run for
// real in LabDocCommandsTests, the tutorial's in TutorialTests, the demo's
// in DemoTests.)

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

    /// Every `tunwall` command in the docs' fenced code blocks (DocBlocks.commands).
    static let shown: [Shown] = DocBlock.all.flatMap { block in
        block.lines.enumerated().flatMap { offset, line in
            DocBlocks.commands(in: line).map { Shown(file: block.file, line: block.line + offset, words: $0) }
        }
    }

    @Test func theDocsShowCommands() {
        #expect(Self.shown.count >= 30, "\(Self.shown)")
        #expect(Self.shown.contains { $0.file == "Topologies/README.md" })
    }

    /// Every block that shows a command is planned in LabDocCommandsTests (run, or not run and
    /// why), and every plan still finds its blocks: a new example must say how it runs.
    @Test func everyBlockWithCommandsIsPlanned() {
        let planned = DocPlan.all.flatMap { plan in plan.blocks.map { (plan.file, $0) } }
        for block in DocBlock.all where !block.commandLines.isEmpty {
            #expect(planned.contains { $0.0 == block.file && block.lines.contains($0.1) },
                    "\(block.place) shows commands but LabDocCommandsTests has no plan for it: \(block.commandLines[0])")
        }
        for (file, line) in planned {
            #expect(DocBlock.all.contains { $0.file == file && $0.lines.contains(line) }, "no block of \(file) has the line: \(line)")
        }
    }

    @Test(arguments: shown)
    func everyShownCommandIsAccepted(_ shown: Shown) throws {
        let run = try Tool.run(Tool.binary, ["--parse-only"] + shown.words)
        #expect(run.status == 0, "\(shown)\n\(run.stderr)")
    }
}

// docs/tutorial.md, run as written: every `sudo Scripts/tutorial.sh LESSON`
// command in it runs (as root, without sudo) and must exit 0, which the
// script does only when every claim of the lesson held. Needs root.

import Foundation
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "the tutorial's labs need root"), .serialized, labTimeLimit)
struct TutorialTests {
    static let commands: [String] = {
        let text = (try? String(contentsOf: repository.appendingPathComponent("docs/tutorial.md"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("sudo Scripts/tutorial.sh ") }
    }()

    @Test func theTutorialHasItsFiveLessons() {
        #expect(Self.commands.count == 5, "\(Self.commands)")
    }

    @Test(arguments: commands)
    func lessonRunsAsWritten(_ command: String) throws {
        let words = command.split(separator: " ").map(String.init).dropFirst()   // no sudo: we are root
        let process = Process()
        process.executableURL = repository.appendingPathComponent(words.first!)
        process.arguments = Array(words.dropFirst())
        process.currentDirectoryURL = repository
        var environment = ProcessInfo.processInfo.environment
        environment["TUNWALL"] = Tool.binary.path
        process.environment = environment
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-tutorial-\(getpid()).txt")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try Tool.start(process)
        process.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "\(command):\n\(text)")
        #expect(text.contains("Everything went as the lesson says."), "\(command):\n\(text)")
    }
}

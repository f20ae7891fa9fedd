// `tunwall diagram TRACE.jsonl -o FILE.svg|FILE.html [--all]`: a ladder diagram
// of a trace written by `--trace-json` (docs/trace-schema.md). The output's
// extension picks the format; `-o -` writes the SVG to stdout. A trace that
// cannot be read ends with `FILE:LINE: message` on stderr and exit status 1.

#if canImport(Glibc)
import Glibc
#endif
import Diagram
import Foundation
import TunIO
import SystemIO
import TraceFormat

enum DiagramCommand {
    static func run(_ arguments: ParsedArguments) -> Int32 {
        guard arguments.words.count == 1, let input = arguments.words.first else {
            return Commands.usageError(arguments, arguments.words.isEmpty ? "missing TRACE.jsonl" : "expected one TRACE.jsonl")
        }
        guard let output = arguments.value("--output") else { return Commands.usageError(arguments, "missing -o FILE") }
        let all = arguments.has("--all")
        let lower = output.lowercased()
        let html = lower.hasSuffix(".html") || lower.hasSuffix(".htm")
        guard output == "-" || html || lower.hasSuffix(".svg") else {
            return Commands.usageError(arguments, "the output must end in .svg or .html (or be -): \(output)")
        }

        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(input)
        } catch {
            Output.error("tunwall: \(input): \(error.reason)")
            return 1
        }
        let trace: Trace
        do {
            trace = try TraceDiagram.read(Data(bytes), file: input)
        } catch {
            Output.error(error.description)
            return 1
        }
        let name = input.split(separator: "/").last.map(String.init) ?? input
        let options = DiagramOptions(all: all, name: name)
        let text = html ? TraceDiagram.html(trace, options: options) : TraceDiagram.svg(trace, options: options)
        if output == "-" {
            Output.unbuffered(text, to: 1)
            return 0
        }
        do {
            try write(text, to: output)
        } catch {
            Output.error("tunwall: \(output): \(error)")
            return 1
        }
        return 0
    }

    /// Writes the whole text, with the syscalls' own error messages.
    static func write(_ text: String, to path: String) throws(SystemError) {
        try FileIO.write(path, Array(text.utf8))
    }
}

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
    static let usage = "usage: tunwall diagram TRACE.jsonl -o FILE.svg|FILE.html [--all]"

    static func run(_ arguments: [String]) -> Int32 {
        var input: String?
        var output: String?
        var all = false
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            switch argument {
            case "-o", "--output":
                guard i + 1 < arguments.count, output == nil else { return Commands.usageError(usage) }
                output = arguments[i + 1]
                i += 1
            case "--all":
                all = true
            case "-h", "--help":
                Output.line(usage)
                return 0
            default:
                guard input == nil, argument == "-" || !argument.hasPrefix("-") else { return Commands.usageError(usage) }
                input = argument
            }
            i += 1
        }
        guard let input, let output else { return Commands.usageError(usage) }
        let lower = output.lowercased()
        let html = lower.hasSuffix(".html") || lower.hasSuffix(".htm")
        guard output == "-" || html || lower.hasSuffix(".svg") else {
            return Commands.usageError("diagram: the output must end in .svg or .html (or be -): \(output)")
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

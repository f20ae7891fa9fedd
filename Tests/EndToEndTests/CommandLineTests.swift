// One consistent command line (issue 15): every command of the table answers
// --help, takes --opt=value, names an unknown option with the nearest valid
// one; the bash completion and the man page come from (or are held to) the
// same table. Runs the built binary without root, as CLITests does.

import Foundation
import Testing
import TestSupport

@Suite(labTimeLimit) struct CommandLineTests {
    /// `tunwall completion commands`: the table's commands, one per line.
    static func commands() throws -> [[String]] {
        let run = try Tool.tunwall("completion", "commands")
        #expect(run.status == 0, "\(run.stderr)")
        return run.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    }

    @Test func everyCommandAnswersHelpOnStdout() throws {
        let commands = try Self.commands()
        #expect(commands.count > 20)
        for words in commands {
            for flag in ["--help", "-h"] {
                let run = try Tool.run(Tool.binary, words + [flag])
                #expect(run.status == 0, "\(words) \(flag): \(run.stderr)")
                #expect(run.stdout.hasPrefix("Usage:\n  tunwall \(words.joined(separator: " "))"), "\(words) \(flag): \(run.stdout)")
                #expect(run.stderr.isEmpty, "\(words) \(flag)")
            }
        }
        // What used to open a file named "--help".
        let check = try Tool.tunwall("check", "--help")
        #expect(check.status == 0 && check.stdout.contains("tunwall check FILE"))
        #expect(try Tool.tunwall("help", "lab", "up").stdout.contains("--daemon"))
    }

    @Test func topLevelHelpListsEveryCommand() throws {
        let help = try Tool.tunwall("--help")
        #expect(help.status == 0)
        for words in try Self.commands() where words != ["help"] {
            #expect(help.stdout.contains("  \(words.joined(separator: " "))"), "\(words)")
        }
        #expect(help.stdout.contains("ftp serve"))
    }

    @Test func versionFlags() throws {
        for flag in ["-V", "--version", "version"] {
            let run = try Tool.tunwall(flag)
            #expect(run.status == 0 && run.stdout == "tunwall 0.1.0\n", "\(flag)")
        }
    }

    /// `--opt=value` is `--opt value`, for every kind of command.
    @Test func optionValuesAfterAnEqualsSign() throws {
        let bench = try Tool.tunwall("bench", "engine", "--packets=1000")
        #expect(bench.status == 0 && bench.stdout.contains("1000 packets"), "\(bench.stderr)")
        for socket in [["--socket=/nonexistent/tunwall.sock"], ["--socket", "/nonexistent/tunwall.sock"]] {
            let stats = try Tool.run(Tool.binary, ["stats"] + socket)
            #expect(stats.status == 1 && stats.stderr.contains("/nonexistent/tunwall.sock"), "\(socket): \(stats.stderr)")
        }
        let flagWithValue = try Tool.tunwall("diagram", "t.jsonl", "-o", "x.svg", "--all=yes")
        #expect(flagWithValue.status == 2 && flagWithValue.stderr.contains("option '--all' takes no value"))
    }

    @Test func unknownOptionsNameTheNearestOne() throws {
        let typo = try Tool.tunwall("lab", "up", "Topologies/basic.json", "--nmae", "x")
        #expect(typo.status == 2)
        #expect(typo.stderr.hasPrefix("tunwall: lab up: unknown option '--nmae' (did you mean '--name'?)"), "\(typo.stderr)")
        #expect(typo.stderr.contains("usage: tunwall lab up FILE"))
        let command = try Tool.tunwall("lsit", "ruleset")
        #expect(command.status == 2 && command.stderr.hasPrefix("tunwall: unknown command 'lsit' (did you mean 'list'?)"))
        let subcommand = try Tool.tunwall("lab", "dwon", "x")
        #expect(subcommand.status == 2 && subcommand.stderr.contains("unknown subcommand 'dwon' (did you mean 'down'?)"))
        let far = try Tool.tunwall("stats", "--frobnicate")
        #expect(far.status == 2 && far.stderr.hasPrefix("tunwall: stats: unknown option '--frobnicate'\n"), "\(far.stderr)")
    }

    @Test(.enabled(if: Tool.which("bash") != nil, "bash is not installed"))
    func bashCompletion() throws {
        let script = try Tool.tunwall("completion", "bash")
        #expect(script.status == 0)
        let file = try Tool.temporaryFile(Array(script.stdout.utf8), name: "completion.bash")
        defer { try? FileManager.default.removeItem(at: file) }
        let syntax = try Tool.run(Tool.which("bash")!, ["-n", file.path])
        #expect(syntax.status == 0, "\(syntax.stderr)")
        func complete(_ words: String...) throws -> [String] {
            let array = words.map { "'\($0)'" }.joined(separator: " ")
            let program = "source '\(file.path)'; COMP_WORDS=(tunwall \(array)); COMP_CWORD=\(words.count); _tunwall; "
                + "printf '%s\\n' \"${COMPREPLY[@]}\""
            let run = try Tool.run(Tool.which("bash")!, ["-c", program])
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdout.split(separator: "\n").map(String.init)
        }
        #expect(try complete("la") == ["lab"])
        #expect(try complete("lab", "u") == ["up"])
        #expect(try complete("lab", "up", "--da") == ["--daemon"])
        #expect(try complete("ftp", "serve", "--ro") == ["--root"])
        #expect(try complete("bench", "fr") == ["fragments"])
        #expect(try complete("conntrack", "--orig-s").contains("--orig-src"))
    }

    @Test(.enabled(if: Tool.which("man") != nil, "man-db is not installed"))
    func manPageCoversTheTable() throws {
        let page = repository.appendingPathComponent("docs/tunwall.8")
        let source = try String(contentsOf: page, encoding: .utf8)
        for words in try Self.commands() {
            #expect(source.contains("tunwall \(words.joined(separator: " "))"), "docs/tunwall.8 lacks \(words)")
        }
        let process = Process()
        process.executableURL = Tool.which("man")
        process.arguments = ["--warnings", "-l", page.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["MANWIDTH": "80"]) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let rendered = out.fileHandleForReading.readDataToEndOfFile()
        let warnings = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(String(decoding: rendered, as: UTF8.self).contains("tunwall lab check"))
    }

    /// `lab check FILE` reads a topology and its ruleset as `lab up` would,
    /// with no root and nothing built.
    @Test func labCheckValidatesOffline() throws {
        for topology in ["basic.json", "masquerade.json", "ftp-masquerade.json", "port-forward.json"] {
            let path = repository.appendingPathComponent("Topologies/\(topology)").path
            let good = try Tool.tunwall("lab", "check", path)
            #expect(good.status == 0 && good.stdout.isEmpty && good.stderr.isEmpty, "\(topology): \(good.stderr)")
        }
        let syntax = try Tool.temporaryFile(Array("{\n  \"firewall\": {\n    \"interfaces\": [,]\n}\n".utf8), name: "syntax.json")
        defer { try? FileManager.default.removeItem(at: syntax) }
        let broken = try Tool.tunwall("lab", "check", syntax.path)
        #expect(broken.status == 1 && broken.stderr.hasPrefix("\(syntax.path): invalid JSON at line 3"), "\(broken.stderr)")

        // A bad value: the line and column of its key path, then the path and the message.
        let basicText = try String(contentsOf: repository.appendingPathComponent("Topologies/basic.json"), encoding: .utf8)
        let badVia = basicText.replacingOccurrences(of: "\"via\": \"203.0.113.1\"", with: "\"via\": \"203.0.113.x\"")
        let badFile = try Tool.temporaryFile(Array(badVia.utf8), name: "via.json")
        defer { try? FileManager.default.removeItem(at: badFile) }
        let lines = badVia.split(separator: "\n", omittingEmptySubsequences: false)
        let line = try #require(lines.firstIndex { $0.contains("203.0.113.x") })
        let column = try #require(lines[line].range(of: "\"203.0.113.x\"")).lowerBound.utf16Offset(in: lines[line]) + 1
        let located = try Tool.tunwall("lab", "check", badFile.path)
        #expect(located.status == 1)
        #expect(located.stderr == "\(badFile.path):\(line + 1):\(column): hosts[1].routes[0].via: \"203.0.113.x\" is not an IP address\n",
                "\(located.stderr)")

        let rules = try Tool.temporaryFile(Array("table inet t {\n\tchain c {\n\t\ttcp dport 99999 accept\n\t}\n}\n".utf8), name: "bad.nft")
        defer { try? FileManager.default.removeItem(at: rules) }
        let basic = try String(contentsOf: repository.appendingPathComponent("Topologies/basic.json"), encoding: .utf8)
        let withRules = basic.replacingOccurrences(of: "\"ruleset\": null", with: "\"ruleset\": \"\(rules.path)\"")
        #expect(withRules != basic)
        let topology = try Tool.temporaryFile(Array(withRules.utf8), name: "rules.json")
        defer { try? FileManager.default.removeItem(at: topology) }
        let refused = try Tool.tunwall("lab", "check", topology.path)
        #expect(refused.status == 1 && refused.stderr.hasPrefix("\(rules.path):3:"), "\(refused.stderr)")
    }
}

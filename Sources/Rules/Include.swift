// `include "FILE"`: the included file's tokens are read in place of the
// statement, as nft's scanner does (src/scanner.l, scanner_include_file).
//
// Where the file is looked for: an absolute path as it is; any other path
// relative to the directory of the file that includes it, then (a plain name
// only) in /etc, nft's default include directory. (nft itself looks for
// `./x` and `../x` from its working directory and for a plain name only in
// its include path, -I and /etc: run from the ruleset's own directory with
// `-I .`, as NFTAgreementTests runs it, nft finds the same files.) A path with
// a wildcard includes every matching file in name order, and none is not an
// error (nft's include_glob). Includes nest at most 16 deep ("Include nested
// too deeply, max 16 levels"). A missing file is "File not found: NAME" at
// the include statement.
//
// Every token keeps the place it has in its own file: a token of file k has
// line k * SourceFiles.lineBase + its line, and errors are printed with that
// file's name and text, after an "In file included from FILE:L:C-C:" line per
// include on the way, as nft prints them.

#if canImport(Glibc)
import Glibc
#endif

/// The files a ruleset was read from: the main file first, then each included one.
struct SourceFiles {
    static let lineBase = 1_000_000
    static let maximumDepth = 16

    struct File {
        var name: String
        var lines: [String]
        var endsWithNewline: Bool
        /// The file and place of the include statement that read this file (nil for the main file).
        var includedAt: (file: Int, range: SourceRange)?
    }

    var files: [File] = []

    static func file(of range: SourceRange) -> Int { max(range.line, 0) / lineBase }
    static func line(of range: SourceRange) -> Int { max(range.line, 0) % lineBase }

    func depth(_ file: Int) -> Int {
        var depth = 0
        var current = file
        while let parent = files[current].includedAt, depth <= SourceFiles.maximumDepth {
            current = parent.file
            depth += 1
        }
        return depth
    }

    /// The directory part of a file name ("" for a bare name).
    static func directory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[...slash])
    }

    /// The files an include of `name` from `file` reads, in order; nil when a plain file is missing.
    func resolve(_ name: String, from file: Int) -> [String]? {
        let base = SourceFiles.directory(files[file].name)
        let candidate = name.hasPrefix("/") ? name : base + name
        if name.contains(where: { "*?[".contains($0) }) {
            return SourceFiles.glob(candidate)
        }
        if SourceFiles.exists(candidate) { return [candidate] }
        if !name.hasPrefix("/") && !name.hasPrefix("./") && !name.hasPrefix("../") && SourceFiles.exists("/etc/" + name) {
            return ["/etc/" + name]
        }
        return nil
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        var paths: [String] = []
        for index in 0..<Int(result.gl_pathc) {
            if let path = result.gl_pathv[index] { paths.append(String(cString: path)) }
        }
        return paths.filter(exists).sorted()
    }

    /// Tokens of `text` as file `file`: lines offset, the end-of-file token left off.
    static func tokens(_ text: String, file: Int) -> (tokens: [Token], lexer: Lexer) {
        var lexer = Lexer(text)
        var tokens = lexer.tokenize()
        if tokens.last?.kind == .eof { tokens.removeLast() }
        for index in tokens.indices { tokens[index].range.line += file * lineBase }
        return (tokens, lexer)
    }

    /// Errors as nft prints them: the file's name and line, its text, and the includes on the way.
    func ruleErrors(_ diagnostics: Diagnostics) -> [RuleError] {
        diagnostics.items.map { item in
            let index = min(SourceFiles.file(of: item.range), files.count - 1)
            let file = files[max(index, 0)]
            let line = index == 0 ? item.range.line : SourceFiles.line(of: item.range)
            var lineIndex = line - 1
            if file.endsWithNewline && lineIndex == file.lines.count - 1 && lineIndex > 0 { lineIndex -= 1 }
            let text = lineIndex >= 0 && lineIndex < file.lines.count ? file.lines[lineIndex] : ""
            var chain: [String] = []
            var current = file.includedAt
            while let place = current, chain.count <= SourceFiles.maximumDepth {
                let parent = files[place.file]
                let parentLine = place.file == 0 ? place.range.line : SourceFiles.line(of: place.range)
                chain.append("In file included from \(parent.name):\(parentLine):\(place.range.column)-\(place.range.endColumn):")
                current = parent.includedAt
            }
            return RuleError(file: file.name, line: line, column: item.range.column, endColumn: item.range.endColumn,
                             message: item.message, sourceLine: text,
                             related: item.related.map { $0.column...$0.endColumn }, includedFrom: chain)
        }
    }
}

extension Parser {
    /// `include "FILE"`: splices the file's tokens in after the statement.
    mutating func include() throws(SyntaxAbort) {
        let keyword = advance()
        guard token.kind == .quoted else { throw fail(expecting: "quoted string") }
        let name = advance()
        // nft's place for an include runs one past the closing quote.
        var range = keyword.range.through(name.range)
        range.endColumn += 1
        guard includesAllowed else {
            diagnostics.error(range, "not supported by tunwall here: include")
            return
        }
        let from = SourceFiles.file(of: keyword.range)
        guard from < sources.files.count else { return }
        if sources.depth(from) + 1 > SourceFiles.maximumDepth {
            diagnostics.error(range, "Include nested too deeply, max \(SourceFiles.maximumDepth) levels")
            return
        }
        guard let paths = sources.resolve(name.text, from: from) else {
            diagnostics.error(range, "File not found: \(name.text)")
            return
        }
        var spliced: [Token] = []
        for path in paths {
            guard let text = readIncluded(path) else {
                diagnostics.error(range, "Could not read file: \(path)")
                continue
            }
            let file = sources.files.count
            let (tokens, lexer) = SourceFiles.tokens(text, file: file)
            sources.files.append(SourceFiles.File(name: path, lines: lexer.lines, endsWithNewline: lexer.endsWithNewline,
                                                  includedAt: (from, range)))
            spliced.append(Token(kind: .newline, text: "", range: range))
            spliced += tokens
        }
        spliced.append(Token(kind: .newline, text: "", range: range))
        tokens.insert(contentsOf: spliced, at: index)
    }

    private func readIncluded(_ path: String) -> String? {
        if case .success(let text) = Ruleset.readFile(path) { return text }
        return nil
    }
}

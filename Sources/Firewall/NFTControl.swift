// `nft COMMAND` on the control socket: nft's commands on the running ruleset.
//
//   nft list ruleset [-a]        the listing (with `# handle N`, as nft -a)
//   nft list ruleset -j          the listing as nft -j prints it (JSONListing.swift)
//   nft -f PATH                  a script file's commands, applied in order (nft -f)
//   nft add element inet filter allowed { 10.0.1.5 }
//   nft delete rule inet filter forward handle 7      (several: separated by `;`)
//
// A change is all or nothing: the commands are applied to a copy of the
// running ruleset's syntax (Ruleset.applying), which is checked and compiled
// whole, and swapped in at once, between two packets (the control socket is
// served by the same event loop as the packets); every connection stays, as
// with `nft -f`. A refused command leaves the running ruleset as it was and is
// answered "error: " and nft's error text.

import Engine
import Rules
import SystemIO

enum NFTControl {
    /// With several workers, the change is applied to each engine's own
    /// ruleset (each keeps state only its thread touches) while the others
    /// are parked, so all swap between the same two packets.
    static func answer(_ command: String, engines: [Engine]) -> String {
        guard let engine = engines.first else { return "error: no engine\n" }
        let words = command.split(separator: " ").map(String.init)
        let listWords = words.filter { $0 != "-a" && $0 != "-j" }
        if listWords.first == "list" {
            guard listWords == ["list", "ruleset"] else {
                return "error: only 'list ruleset [-a] [-j]' lists here\n"
            }
            let others = engines.dropFirst().map(\.ruleset)
            if words.contains("-j") { return engine.ruleset.withCountersSummed(from: others) { $0.jsonListing() } }
            return engine.ruleset.withCountersSummed(from: others) { $0.listing(handles: words.contains("-a")) }
        }
        var next: [Ruleset] = []
        do {
            if words.first == "-f", words.count == 2 {
                let path = words[1]
                guard let text = FileText.read(path) else {
                    return "error: Could not open file \"\(path)\"\n"
                }
                for each in engines { next.append(try each.ruleset.applying(text, from: path)) }
            } else {
                for each in engines { next.append(try each.ruleset.applying(command)) }
            }
        } catch {
            return "error: " + error.description + "\n"
        }
        for ruleset in next.dropFirst() { ruleset.shareLimits(with: next[0]) }
        for (each, ruleset) in zip(engines, next) { each.replaceRuleset(ruleset) }
        return ""
    }
}

/// A whole text file (nil if it cannot be read or is not UTF-8).
enum FileText {
    static func read(_ path: String) -> String? {
        guard let bytes = try? FileIO.read(path) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}

// Reloading: parse the file anew and swap it in whole, keeping every
// connection (as `nft -f` replaces a ruleset atomically without flushing
// conntrack); a file with errors is refused and the running ruleset stays.
// A bare reload, and SIGHUP, read the file the running ruleset came from.

import Engine
import Rules

public final class Reloader {
    /// Every worker's engine (one unless `"workers"` says more); the caller
    /// has the other workers parked while it reloads (WorkerGroup).
    let engines: [Engine]
    /// The file the running ruleset came from (what a bare reload or SIGHUP reads).
    public private(set) var path: String?

    public init(engine: Engine, path: String?) {
        self.engines = [engine]
        self.path = path
    }

    public init(engines: [Engine], path: String?) {
        self.engines = engines
        self.path = path
    }

    public struct Outcome: Sendable {
        public let ok: Bool
        public let message: String
        /// The control socket's answer: "error: " in front of a refusal.
        public var response: String { (ok ? "" : "error: ") + message + "\n" }
    }

    public func reload(_ newPath: String?) -> Outcome {
        guard let file = newPath ?? path else {
            return Outcome(ok: false, message: "no ruleset file to reload: name one (tunwall reload FILE)")
        }
        // Each engine gets a ruleset of its own, read from the file: a
        // ruleset keeps state (counters) that one worker's thread alone may
        // touch; the `limit rate` buckets and `ct count` lists are shared
        // (Ruleset.shareLimits). All are read before any is swapped.
        var loaded: [Ruleset] = []
        for _ in engines {
            switch RulesetFile.load(file) {
            case .success(let ruleset): loaded.append(ruleset)
            case .failure(let error):
                return Outcome(ok: false, message: error.message + "\nthe running ruleset is unchanged")
            }
        }
        for ruleset in loaded.dropFirst() { ruleset.shareLimits(with: loaded[0]) }
        for (engine, ruleset) in zip(engines, loaded) { engine.replaceRuleset(ruleset) }
        path = file
        return Outcome(ok: true, message: "reloaded \(file)")
    }
}

/// Loading a ruleset for running: parse errors as nft prints them.
public enum RulesetFile {
    public static func load(_ path: String) -> Result<Ruleset, LoadError> {
        let ruleset: Ruleset
        do {
            ruleset = try Ruleset.load(path: path)
        } catch {
            return .failure(LoadError(message: error.description))
        }
        return .success(ruleset)
    }

    public struct LoadError: Error {
        public let message: String
    }
}

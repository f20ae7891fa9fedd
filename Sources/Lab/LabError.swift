// LabError: every failure of a lab operation as one line a person can act on,
// naming the command that failed and what it said, or the lab and what is
// wrong with it. Examples:
//
//   ip netns add tw-basic-fw: Cannot create namespace file "/run/netns/tw-basic-fw": File exists
//   lab basic is already up; run 'tunwall lab down basic'
//
// A topology file's mistakes are ConfigError (Firewall), a failed command
// CommandError (SystemIO); a lab operation passes either on with its words.

import Firewall
import SystemIO

public struct LabError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }

    /// A config file's error keeps its words (the topology is one).
    public init(_ error: ConfigError) {
        self.message = error.message
    }

    /// A command's failure keeps its words: "ip netns add tw-basic-fw: ...".
    public init(_ error: CommandError) {
        self.message = error.message
    }
}

/// `command`'s CommandError as the same LabError, for lab operations that run
/// `ip` or start processes (their errors are LabError, typed):
/// `try asLabError(ip.run(["netns", "add", namespace]))`.
@discardableResult
func asLabError<T>(_ command: @autoclosure () throws(CommandError) -> T) throws(LabError) -> T {
    do {
        return try command()
    } catch {
        throw LabError(error)
    }
}

// ConfigError: what is wrong with a configuration file (a firewall config or a
// lab topology) as one line that names the file and the place in it. Examples:
//
//   fw.json: interfaces[0].addresses[1]: "10.0.1.1" needs a prefix length, e.g. "10.0.1.1/24"
//   Topologies/basic.json: firewall.interfaces[0]: unknown key "adresses" (did you mean "addresses"?)
//   /nonexistent/lab.json: No such file or directory
//
// The lab's own failures (commands, namespaces, processes) are Lab's LabError;
// a config file is read by `tunwall run` too, which has no lab.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SystemIO

public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    /// The file and the key path the message is about, when it is about one
    /// (for `location`).
    package var file: String?
    package var path: JSONPath?

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }

    /// Two errors are the same when they say the same.
    public static func == (a: ConfigError, b: ConfigError) -> Bool { a.message == b.message }

    /// "FILE: PATH: MESSAGE", or "FILE: MESSAGE" at the top of the document.
    package static func config(_ file: String, _ path: JSONPath, _ message: String) -> ConfigError {
        var error = path.isRoot ? ConfigError("\(file): \(message)") : ConfigError("\(file): \(path): \(message)")
        error.file = file
        error.path = path
        return error
    }

    /// The message with the line and column of its key path in the file's
    /// text, "FILE:LINE:COL: PATH: MESSAGE", as nft places its errors; the
    /// message as it is when there is no path or the file cannot be read.
    public func located() -> String {
        guard let file, let path, !path.isRoot, let bytes = try? FileIO.read(file),
              let (line, column) = jsonLocation(of: path, in: bytes),
              message.hasPrefix(file + ": ") else { return message }
        return "\(file):\(line):\(column): " + message.dropFirst(file.count + 2)
    }

    /// The whole file; "PATH: No such file or directory" (strerror(3)) when it cannot be read.
    package static func read(_ path: String) throws(ConfigError) -> Data {
        do {
            return Data(try FileIO.read(path))
        } catch {
            throw ConfigError("\(path): \(error.reason)")
        }
    }
}

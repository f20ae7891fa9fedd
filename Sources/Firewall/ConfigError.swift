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

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }

    /// "FILE: PATH: MESSAGE", or "FILE: MESSAGE" at the top of the document.
    package static func config(_ file: String, _ path: JSONPath, _ message: String) -> ConfigError {
        path.isRoot ? ConfigError("\(file): \(message)") : ConfigError("\(file): \(path): \(message)")
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

// LabError: every failure of the Lab module as one line a person can act on,
// naming the file and the place in it, or the command that failed and what it
// said. Examples:
//
//   Topologies/basic.json: hosts[1].routes[0].via: "203.0.113.x" is not an IP address
//   Topologies/basic.json: firewall.interfaces[0]: unknown key "adresses" (did you mean "addresses"?)
//   ip netns add tw-basic-fw: Cannot create namespace file "/run/netns/tw-basic-fw": File exists

public struct LabError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }

    /// "FILE: PATH: MESSAGE", or "FILE: MESSAGE" at the top of the document.
    static func config(_ file: String, _ path: JSONPath, _ message: String) -> LabError {
        path.isRoot ? LabError("\(file): \(message)") : LabError("\(file): \(path): \(message)")
    }
}

// CommandError: a program that could not be started or that failed, as one
// line naming the command and repeating what it said (ChildProcess, IPCommand):
//
//   ip netns add tw-basic-fw: Cannot create namespace file "/run/netns/tw-basic-fw": File exists
//   cannot start /usr/sbin/ip: Permission denied
//   the 'ip' program was not found (install the Debian package iproute2)
//
// Unlike SystemError it carries a finished sentence: a command's stderr has no errno.

public struct CommandError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// strerror(3)'s text for `code`, as SystemError words it.
func systemReason(_ code: Int32) -> String {
    SystemError(call: "", errno: code).reason
}

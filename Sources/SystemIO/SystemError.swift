// SystemError: a failed system call, named, with its errno (errno(3), strerror(3)).
//
// Every system-call wrapper (SystemIO, TunIO, the FTP peers) throws this one type, so a message always says which
// call failed on what, e.g. "ioctl(TUNSETIFF): Operation not permitted" or
// "connect(/run/tunwall/x.sock): No such file or directory".
import Glibc

/// A failed system call: the call's name and errno, e.g. "ioctl(TUNSETIFF): Operation not permitted".
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The call and, where it helps, its object: "open(/dev/net/tun)", "ioctl(TUNSETIFF)", "epoll_wait".
    public let call: String
    /// The errno value the call left (EPERM, ENOENT, ...).
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// "\(call): \(strerror(errno))". glibc's strerror returns static text for
    /// every known errno (and a thread-local buffer otherwise), so this is safe
    /// from any thread.
    public var description: String { "\(call): \(reason)" }

    /// strerror's text alone: "No such file or directory".
    public var reason: String {
        guard let text = strerror(errno) else { return "error \(errno)" }
        return String(cString: text)
    }
}

// IPCommand: runs iproute2's `ip` and turns a failure into one line that names
// the command and repeats what it said:
//
//   try ip.run(["netns", "add", "tw-basic-fw"])
//   → CommandError: ip netns add tw-basic-fw: Cannot create namespace file "/run/netns/tw-basic-fw": File exists
//
// `ip` is looked up in PATH, then in /usr/sbin, /sbin and /usr/bin (sudo and
// cron often leave sbin out of PATH). Both are injectable so a test can show
// what a machine without iproute2 says.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct IPCommand: Sendable {
    /// The PATH value to search (nil: no PATH).
    public var searchPath: String?
    /// Searched after PATH.
    public var fallbackDirectories: [String]

    public static let defaultFallbackDirectories = ["/usr/sbin", "/sbin", "/usr/bin"]

    public init(searchPath: String? = ProcessInfo.processInfo.environment["PATH"],
                fallbackDirectories: [String] = IPCommand.defaultFallbackDirectories) {
        self.searchPath = searchPath
        self.fallbackDirectories = fallbackDirectories
    }

    public static let notFoundMessage = "the 'ip' program was not found (install the Debian package iproute2)"

    /// The full path of `ip`.
    public func executablePath() throws(CommandError) -> String {
        var directories = (searchPath ?? "").split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
        directories += fallbackDirectories
        for directory in directories {
            let candidate = directory.hasSuffix("/") ? directory + "ip" : directory + "/ip"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw CommandError(Self.notFoundMessage)
    }

    /// Runs `ip ARGUMENTS...` and returns its standard output; a non-zero exit
    /// is a CommandError "ip ARGUMENTS...: STDERR".
    @discardableResult
    public func run(_ arguments: [String]) throws(CommandError) -> String {
        let result = try capture(arguments)
        guard result.status == 0 else {
            throw CommandError("ip \(commandLine(arguments)): \(result.failureText)")
        }
        return result.standardOutput
    }

    /// `ip netns exec NAMESPACE ARGV...` with its output captured.
    @discardableResult
    public func netnsExec(_ namespace: String, _ argv: [String]) throws(CommandError) -> String {
        try run(["netns", "exec", namespace] + argv)
    }

    /// `ip netns exec NAMESPACE ARGV...` with our standard input, output and
    /// error, as a shell would run it; returns the exit status (128 + N for a
    /// command killed by signal N). While it runs, SIGINT and SIGQUIT are
    /// ignored here, so Ctrl-C stops the command and not us (as system(3) does).
    public func netnsExecInteractive(_ namespace: String, _ argv: [String]) throws(CommandError) -> Int32 {
        let path = try executablePath()
        let previousInterrupt = signal(SIGINT, SIG_IGN)
        let previousQuit = signal(SIGQUIT, SIG_IGN)
        defer {
            signal(SIGINT, previousInterrupt)
            signal(SIGQUIT, previousQuit)
        }
        let child = try ChildProcess.spawn(path, ["netns", "exec", namespace] + argv, output: .inherit, placement: .sameGroup)
        return child.waitForExit().shellStatus
    }

    /// The names from `ip netns list` (which prints "NAME" or "NAME (id: N)").
    public func namespaces() throws(CommandError) -> [String] {
        try run(["netns", "list"]).split(separator: "\n").compactMap { line in
            line.split(separator: " ").first.map(String.init)
        }
    }

    package struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String

        /// Stderr on one line, or the exit status if it said nothing.
        var failureText: String {
            let lines = standardError.split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return lines.isEmpty ? "exit status \(status)" : lines.joined(separator: "; ")
        }
    }

    /// Runs ip with both pipes read to the end. posix_spawn and poll(2),
    /// not Foundation's Process: Process needs a run loop whose wakeup
    /// sockets live on 127.0.0.1, and `tunwall run` may be started in a fresh
    /// namespace whose loopback is still down, where Process hangs.
    package func capture(_ arguments: [String]) throws(CommandError) -> Result {
        let path = try executablePath()
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { throw CommandError("pipe: \(systemReason(errno))") }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw CommandError("pipe: \(systemReason(errno))")
        }
        for fd in [outPipe[0], errPipe[0]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(path, arguments, output: .pipes(output: outPipe[1], error: errPipe[1]),
                                           placement: .sameGroup)
        } catch {
            for fd in outPipe + errPipe { close(fd) }
            throw error
        }
        close(outPipe[1])
        close(errPipe[1])
        var output: [UInt8] = [], errors: [UInt8] = []
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        var chunk = [UInt8](repeating: 0, count: 4096)
        while fds.contains(where: { $0.fd >= 0 }) {
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = chunk.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if i == 0 { output += chunk[0..<n] } else { errors += chunk[0..<n] }
                } else if n == 0 || errno != EINTR {
                    close(fds[i].fd)
                    fds[i].fd = -1
                }
            }
        }
        let status = child.waitForExit().shellStatus
        return Result(status: status, standardOutput: String(decoding: output, as: UTF8.self),
                      standardError: String(decoding: errors, as: UTF8.self))
    }
}

/// Arguments joined for a message, quoted where a shell would need it.
func commandLine(_ arguments: [String]) -> String {
    arguments.map { argument in
        let plain = !argument.isEmpty && argument.allSatisfy {
            $0.isASCII && ($0.isLetter || $0.isNumber || "-_./:=,@%+".contains($0))
        }
        return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }.joined(separator: " ")
}

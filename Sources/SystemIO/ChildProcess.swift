// ChildProcess: posix_spawn(3) for the two children whose signals and process
// group matter, which Foundation's Process does not let us choose: the
// firewall (its own process group, or its own session when the lab runs as a
// daemon, stdin from /dev/null, stdout and stderr appended to the lab's log)
// and `lab exec`'s command (our terminal, default signal dispositions). Both
// start with an empty signal mask and every signal at its default
// (POSIX_SPAWN_SETSIGMASK, POSIX_SPAWN_SETSIGDEF), whatever we block or ignore.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a child ended, from waitpid(2)'s status word.
public enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case killed(signal: Int32)
    /// Reaped by someone else (waitpid said ECHILD).
    case unknown

    init(waitStatus status: Int32) {
        let low = status & 0x7f
        if low == 0 {
            self = .exited((status >> 8) & 0xff)  // WIFEXITED, WEXITSTATUS
        } else {
            self = .killed(signal: low)  // WIFSIGNALED, WTERMSIG
        }
    }

    /// As a shell reports it: the exit code, or 128 + the signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): return code
        case .killed(let signal): return 128 + signal
        case .unknown: return 1
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .killed(let signal): return "was killed by \(signalDisplayName(signal))"
        case .unknown: return "exited"
        }
    }
}

/// "SIGTERM" for 15, and so on for the signals a process usually ends by.
public func signalDisplayName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
        SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
        SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV",
        SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
    ]
    return names[signal] ?? "signal \(signal)"
}

/// A started child process (the lab's firewall, `lab exec`'s command, `ip`).
public struct ChildProcess: Sendable {
    public let pid: pid_t

    public enum Output: Sendable {
        /// Our standard input, output and error.
        case inherit
        /// Standard input from /dev/null; standard output and error appended to the file.
        case appendingTo(String)
        /// Standard input from /dev/null; standard output and error into these pipe ends.
        case pipes(output: Int32, error: Int32)
    }

    public enum Placement: Sendable {
        /// Our process group: the terminal's Ctrl-C reaches it too.
        case sameGroup
        /// A process group of its own (POSIX_SPAWN_SETPGROUP): only we decide when it stops.
        case newGroup
        /// A session of its own (POSIX_SPAWN_SETSID): it outlives us and our terminal.
        case newSession
    }

    public static func spawn(_ path: String, _ arguments: [String], output: Output, placement: Placement) throws(CommandError) -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var logDescriptor: Int32 = -1
        defer { if logDescriptor >= 0 { close(logDescriptor) } }
        if case .appendingTo(let file) = output {
            logDescriptor = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard logDescriptor >= 0 else { throw CommandError("\(file): \(systemReason(errno))") }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, logDescriptor, 1)
            posix_spawn_file_actions_adddup2(&actions, logDescriptor, 2)
        }
        if case .pipes(let out, let err) = output {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, out, 1)
            posix_spawn_file_actions_adddup2(&actions, err, 2)
        }
        addCloseFrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        switch placement {
        case .sameGroup: break
        case .newGroup:
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        case .newSession:
            flags |= 0x80  // POSIX_SPAWN_SETSID (glibc 2.26; hidden behind _GNU_SOURCE)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let environment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            environment.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, environment)
        guard result == 0 else {
            throw CommandError("cannot start \(path): \(systemReason(result))")
        }
        return ChildProcess(pid: pid)
    }

    /// posix_spawn_file_actions_addclosefrom_np (glibc 2.34), looked up at run
    /// time because Swift's Glibc module hides it behind _GNU_SOURCE: the
    /// child gets no descriptor of ours beyond 0, 1 and 2.
    private static func addCloseFrom(_ actions: inout posix_spawn_file_actions_t, _ first: Int32) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return }
        let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
        _ = closeFrom(&actions, first)
    }

    /// nil while it runs; reaps it when it has ended.
    public func poll() -> ExitStatus? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return ExitStatus(waitStatus: status) }
            if result == 0 { return nil }
            if errno == EINTR { continue }
            return .unknown
        }
    }

    public func waitForExit() -> ExitStatus {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, 0)
            if result == pid { return ExitStatus(waitStatus: status) }
            if result < 0 && errno == EINTR { continue }
            return .unknown
        }
    }
}

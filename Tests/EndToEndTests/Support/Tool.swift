// Running programs from a test: the built `tunwall` as a user runs it, and
// anything else (tcpdump, ip, the lab's clients and servers), each with a
// watchdog so a hung child fails its test instead of hanging the suite.

import Foundation

/// What a program did: its exit status and everything it wrote.
struct Run {
    let status: Int32
    let stdout: String
    let stderr: String
}

enum Tool {
    /// The `tunwall` binary that `swift build` put beside this test bundle.
    static let binary: URL = {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("tunwall")
    }()

    /// Runs a program to its end; one still running after `timeout` seconds
    /// gets SIGTERM (`lab up` then tears down what it built), SIGKILL 5 s
    /// later: a hung child fails its test instead of hanging the suite.
    static func run(_ executable: URL, _ arguments: [String], timeout: Double = 240,
                    environment: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try start(process)
        let watchdog = Watchdog(pid: process.processIdentifier, seconds: timeout)
        defer { watchdog.cancel() }
        // Read both pipes fully before waiting, so a large output cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                   stderr: String(decoding: errData, as: UTF8.self))
    }

    static func tunwall(_ arguments: String...) throws -> Run { try run(binary, arguments) }

    /// Starts `process` with no signal blocked. A child inherits the mask of
    /// the thread that spawns it (posix_spawn(3), signal(7)), and Swift
    /// Testing runs tests on Dispatch worker threads, which block SIGTERM,
    /// SIGINT, SIGHUP and more: a child started as it is ignores
    /// `terminate()`, the watchdog's SIGTERM and `lab down`'s, and only
    /// SIGKILL ends it (a `lab up` killed so cannot tear down what it built).
    static func start(_ process: Process) throws {
        var none = sigset_t(), previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    /// Stops one child after a time unless cancelled first (cancelled right
    /// after the child is reaped, so its pid is never another process's).
    final class Watchdog: @unchecked Sendable {
        private let lock = NSLock()
        private var active = true

        init(pid: pid_t, seconds: Double) {
            guard pid > 0 else { active = false; return }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in signal(pid, SIGTERM) }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds + 5) { [self] in signal(pid, SIGKILL) }
        }

        private func signal(_ pid: pid_t, _ number: Int32) {
            lock.lock(); defer { lock.unlock() }
            if active { kill(pid, number) }
        }

        func cancel() { lock.lock(); active = false; lock.unlock() }
    }

    /// `tunwall lab exec --lab LAB HOST -- COMMAND...`, waited for.
    static func labExec(_ lab: String, _ host: String, _ command: [String]) throws -> Run {
        try run(binary, ["lab", "exec", "--lab", lab, host, "--"] + command)
    }

    /// A command left running in `host`'s namespace of `lab` (its output
    /// discarded), started by `ip netns exec` itself: ip execs the command,
    /// so the returned process is the server, and `terminate()` in a test's
    /// defer stops it. (`tunwall lab exec` waits for it as a child, so
    /// terminating that would leave the server running until `lab down`.)
    static func labBackground(_ lab: String, _ host: String, _ command: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", "tw-\(lab)-\(host)"] + command
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try start(process)
        return process
    }

    /// `tunwall lab exec --lab LAB HOST -- COMMAND...` left running, its
    /// stdout and stderr going to `output`; `lab down` ends what still runs.
    static func labExecInBackground(_ lab: String, _ host: String, _ command: [String], output: URL) throws -> Process {
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = binary
        process.arguments = ["lab", "exec", "--lab", lab, host, "--"] + command
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try start(process)
        try? handle.close()
        return process
    }

    static func which(_ name: String) -> URL? {
        for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let url = URL(fileURLWithPath: dir).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    static func temporaryFile(_ bytes: [UInt8], name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-test-\(getpid())-\(name)")
        try Data(bytes).write(to: url)
        return url
    }
}

// FileIO: whole files and whole writes, the one place for the loops every
// program needs around read(2) and write(2): a call may do part of the work
// (a short write to a pipe or socket) or be interrupted by a signal before it
// did anything (EINTR: retry), signal(7).
//
// Example: try FileIO.replace("/run/tunwall/labs/x/pid", with: Array("42\n".utf8))
// leaves either the old file or the whole new one, never half of it.

import Glibc

public enum FileIO {
    /// Every byte of the file at `path`. Errors name the call and the path:
    /// "open(Topologies/nope.json): No such file or directory".
    public static func read(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = try Syscall.require("open(\(path))") { Int(open(path, O_RDONLY | O_CLOEXEC)) }
        defer { Syscall.close(Int32(truncatingIfNeeded: fd)) }
        return try readToEnd(Int32(truncatingIfNeeded: fd), name: path)
    }

    /// Reads `fd` until its end (a blocking descriptor).
    public static func readToEnd(_ fd: Int32, name: @autoclosure () -> String) throws(SystemError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try Syscall.require("read(\(name()))") {
                chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
        }
    }

    /// write(2) until every byte is written, retrying EINTR and short writes.
    /// A non-blocking descriptor that is full (EAGAIN) is an error here.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer,
                                name: @autoclosure () -> String) throws(SystemError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let start = offset
            offset += try Syscall.require("write(\(name()))") { Glibc.write(fd, base + start, bytes.count - start) }
        }
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], name: @autoclosure () -> String) throws(SystemError) {
        var failure: SystemError?
        bytes.withUnsafeBytes { raw in
            do throws(SystemError) { try writeAll(fd, raw, name: name()) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>,
                                name: @autoclosure () -> String) throws(SystemError) {
        try writeAll(fd, Array(bytes), name: name())
    }

    /// The same for text (UTF-8).
    public static func writeAll(_ fd: Int32, _ text: String, name: @autoclosure () -> String) throws(SystemError) {
        try writeAll(fd, Array(text.utf8), name: name())
    }

    /// The same where nothing can be done about a failure (a log line, a
    /// trace, stderr): gives up quietly; false if not everything was written.
    @discardableResult
    public static func writeAllOrGiveUp(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        (try? writeAll(fd, bytes, name: "")) != nil
    }

    @discardableResult
    public static func writeAllOrGiveUp(_ fd: Int32, _ bytes: some Collection<UInt8>) -> Bool {
        writeAllOrGiveUp(fd, Array(bytes))
    }

    /// Writes `bytes` to a temporary name beside `path`, then renames it into
    /// place (rename(2) is atomic), so a reader never sees half a file.
    public static func replace(_ path: String, with bytes: some Collection<UInt8>, mode: mode_t = 0o644) throws(SystemError) {
        let temporary = path + ".tmp"
        let fd = Int32(truncatingIfNeeded: try Syscall.require("open(\(temporary))") {
            Int(open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode))
        })
        do {
            try writeAll(fd, bytes, name: temporary)
        } catch {
            Syscall.close(fd)
            unlink(temporary)
            throw error
        }
        Syscall.close(fd)
        if rename(temporary, path) != 0 {
            let code = errno
            unlink(temporary)
            throw SystemError(call: "rename(\(temporary), \(path))", errno: code)
        }
    }

    /// Creates (or truncates) `path` and writes all of `bytes` to it.
    public static func write(_ path: String, _ bytes: some Collection<UInt8>, mode: mode_t = 0o644) throws(SystemError) {
        let fd = Int32(truncatingIfNeeded: try Syscall.require("open(\(path))") {
            Int(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode))
        })
        defer { Syscall.close(fd) }
        try writeAll(fd, bytes, name: path)
    }

    /// A pipe(2) with close-on-exec ends, optionally non-blocking.
    public static func pipe(nonBlocking: Bool = false) throws(SystemError) -> (read: Int32, write: Int32) {
        // pipe2(2) is not in Swift's Glibc module: pipe(2), then the flags.
        var fds: [Int32] = [-1, -1]
        _ = try Syscall.require("pipe") { Int(Glibc.pipe(&fds)) }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            if nonBlocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        }
        return (fds[0], fds[1])
    }
}

// Syscall: the one place where a raw system call result becomes Swift
// (the SwiftNIO pattern; errno(3), signal(7) "Interruption of system calls").
//
// - EINTR: a signal arrived before the call did anything; retry it.
// - EAGAIN / EWOULDBLOCK: a non-blocking fd has nothing now; that is a value
//   (nil), not an error, because the event loop meets it on every busy fd.
// - anything else: throw SystemError naming the call.
//
// The call's name is an autoclosure so that the hot path (one read per packet)
// builds no string unless the call fails.
import Glibc

public enum Syscall {
    /// Runs `body` (a call returning -1 and setting errno on failure), retrying
    /// EINTR. Returns the result, or nil on EAGAIN/EWOULDBLOCK; throws otherwise.
    @inline(__always)
    public static func call(_ name: @autoclosure () -> String, _ body: () -> Int) throws(SystemError) -> Int? {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = Glibc.errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            throw SystemError(call: name(), errno: code)
        }
    }

    /// Like `call`, for calls where EAGAIN is a failure too (open, ioctl, bind,
    /// an SO_RCVTIMEO that ran out): retries EINTR, throws on any other error.
    @inline(__always)
    public static func require(_ name: @autoclosure () -> String, _ body: () -> Int) throws(SystemError) -> Int {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = Glibc.errno
            if code == EINTR { continue }
            throw SystemError(call: name(), errno: code)
        }
    }

    /// close(2) without retrying EINTR: Linux releases the descriptor even when
    /// close reports EINTR, and a retry could close a descriptor another thread
    /// has just been given. Errors are ignored: there is nothing left to undo.
    public static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }
}

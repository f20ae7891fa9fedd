// Tests of SystemError's text and of Syscall's EINTR / EAGAIN / error handling,
// on pipes (pipe2(2)) so that no privilege is needed.
import Glibc
import Testing

@testable import SystemIO

@Suite struct SyscallTests {
    @Test func descriptionNamesTheCallAndTheErrno() {
        #expect(SystemError(call: "ioctl(TUNSETIFF)", errno: EPERM).description == "ioctl(TUNSETIFF): Operation not permitted")
        #expect(SystemError(call: "open(/dev/net/tun)", errno: ENOENT).description == "open(/dev/net/tun): No such file or directory")
        #expect("\(SystemError(call: "epoll_wait", errno: EBADF))" == "epoll_wait: Bad file descriptor")
        // An errno nobody defined still gives text, not a crash.
        #expect(SystemError(call: "x", errno: 99999).description.hasPrefix("x: "))
        #expect(SystemError(call: "a", errno: 1) == SystemError(call: "a", errno: 1))
    }

    @Test func emptyNonBlockingPipeReadsAsNil() throws {
        let (readEnd, writeEnd) = try FileIO.pipe(nonBlocking: true)
        defer { close(readEnd); close(writeEnd) }
        var byte: UInt8 = 0
        let result = try Syscall.call("read(pipe)") { read(readEnd, &byte, 1) }
        #expect(result == nil)

        var one: UInt8 = 42
        #expect(try Syscall.call("write(pipe)") { write(writeEnd, &one, 1) } == 1)
        #expect(try Syscall.call("read(pipe)") { read(readEnd, &byte, 1) } == 1)
        #expect(byte == 42)
    }

    @Test func otherErrorsThrowWithTheCallsName() {
        var byte: UInt8 = 0
        #expect(throws: SystemError(call: "read(fd -1)", errno: EBADF)) {
            try Syscall.call("read(fd -1)") { read(-1, &byte, 1) }
        }
        // require: EAGAIN is a failure there.
        #expect(throws: SystemError(call: "open(x)", errno: EAGAIN)) {
            try Syscall.require("open(x)") { errno = EAGAIN; return -1 }
        }
    }

    @Test func eintrIsRetried() throws {
        var attempts = 0
        let result = try Syscall.call("interrupted") { () -> Int in
            attempts += 1
            if attempts < 3 { errno = EINTR; return -1 }
            return 7
        }
        #expect(result == 7)
        #expect(attempts == 3)
    }

    @Test func nameIsBuiltOnlyOnFailure() throws {
        var built = 0
        func name() -> String { built += 1; return "n" }
        _ = try Syscall.call(name()) { 0 }
        _ = try Syscall.call(name()) { errno = EAGAIN; return -1 }
        #expect(built == 0)
    }
}

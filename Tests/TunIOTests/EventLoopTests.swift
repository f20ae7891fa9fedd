// Tests of EventLoop (epoll(7)) on pipes: a ready fd comes back as its token,
// a timeout as 0 events, a removed fd not at all.
import CTunwall
import Glibc
import Testing

@testable import TunIO
import SystemIO

@Suite struct EventLoopTests {
    @Test func epollEventHasTheKernelsPackedLayout() {
        // x86-64 packs struct epoll_event to 12 bytes; if the importer padded
        // it to 16, every event after the first would be read from the wrong place.
        #if arch(x86_64)
        #expect(MemoryLayout<epoll_event>.stride == 12)
        #endif
    }

    @Test func timeoutReturnsZeroEvents() throws {
        let loop = try EventLoop()
        let (readEnd, writeEnd) = try FileIO.pipe(nonBlocking: true)
        defer { close(readEnd); close(writeEnd) }
        try loop.add(readEnd, token: 5)
        var tokens: [Int] = []
        #expect(try loop.wait(timeoutMilliseconds: 20) { tokens.append($0) } == 0)
        #expect(tokens.isEmpty)
    }

    @Test func readyFdComesBackAsItsToken() throws {
        let loop = try EventLoop(maximumEvents: 4)
        let (readA, writeA) = try FileIO.pipe(nonBlocking: true)
        let (readB, writeB) = try FileIO.pipe(nonBlocking: true)
        defer { [readA, writeA, readB, writeB].forEach { _ = close($0) } }
        try loop.add(readA, token: 1)
        try loop.add(readB, token: -2)  // any Int, negative ones too

        var byte: UInt8 = 1
        #expect(write(writeB, &byte, 1) == 1)
        var tokens: [Int] = []
        #expect(try loop.wait(timeoutMilliseconds: 1000) { tokens.append($0) } == 1)
        #expect(tokens == [-2])

        // Level-triggered: still ready until read.
        #expect(write(writeA, &byte, 1) == 1)
        tokens = []
        #expect(try loop.wait(timeoutMilliseconds: 1000) { tokens.append($0) } == 2)
        #expect(Set(tokens) == [1, -2])

        // Removed: no longer reported although still readable.
        try loop.remove(readB)
        tokens = []
        #expect(try loop.wait(timeoutMilliseconds: 0) { tokens.append($0) } == 1)
        #expect(tokens == [1])
    }

    @Test func errorsNameTheCall() throws {
        let loop = try EventLoop()
        let (readEnd, writeEnd) = try FileIO.pipe(nonBlocking: true)
        defer { close(readEnd); close(writeEnd) }
        try loop.add(readEnd, token: 0)
        #expect(throws: SystemError(call: "epoll_ctl(EPOLL_CTL_ADD, \(readEnd))", errno: EEXIST)) {
            try loop.add(readEnd, token: 0)
        }
        loop.close()
        loop.close()  // idempotent
        #expect(throws: SystemError(call: "epoll_wait", errno: EBADF)) {
            try loop.wait(timeoutMilliseconds: 0) { _ in }
        }
    }

    @Test func sillyMaximumsAreClamped() throws {
        let loop = try EventLoop(maximumEvents: -3)
        let (readEnd, writeEnd) = try FileIO.pipe(nonBlocking: true)
        defer { close(readEnd); close(writeEnd) }
        try loop.add(readEnd, token: 9)
        var byte: UInt8 = 1
        #expect(write(writeEnd, &byte, 1) == 1)
        var tokens: [Int] = []
        #expect(try loop.wait(timeoutMilliseconds: 1000) { tokens.append($0) } == 1)
        #expect(tokens == [9])
    }
}

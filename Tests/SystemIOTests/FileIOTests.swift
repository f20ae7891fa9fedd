// FileIO: whole reads and writes, errors that name the call and the path,
// the atomic replace, and writes larger than a pipe holds (short writes).

import Foundation
import Glibc
import Testing

@testable import SystemIO

@Suite struct FileIOTests {
    let directory: String = {
        var template = Array("/tmp/tunwall-fileio-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }()

    @Test func writeThenReadGivesTheSameBytes() throws {
        let path = directory + "/data"
        defer { unlink(path); rmdir(directory) }
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try FileIO.write(path, bytes)
        #expect(try FileIO.read(path) == bytes)
        try FileIO.write(path, Array("short".utf8))
        #expect(try FileIO.read(path) == Array("short".utf8), "write truncates")
    }

    @Test func replaceLeavesNoTemporaryAndReplacesWhole() throws {
        let path = directory + "/state"
        defer { unlink(path); rmdir(directory) }
        try FileIO.replace(path, with: Array("first, longer\n".utf8))
        try FileIO.replace(path, with: Array("second\n".utf8))
        #expect(try FileIO.read(path) == Array("second\n".utf8))
        #expect(access(path + ".tmp", F_OK) != 0)
    }

    @Test func errorsNameTheCallAndThePath() {
        #expect(throws: SystemError(call: "open(/nonexistent/x)", errno: ENOENT)) { try FileIO.read("/nonexistent/x") }
        #expect(throws: SystemError(call: "open(/nonexistent/x.tmp)", errno: ENOENT)) {
            try FileIO.replace("/nonexistent/x", with: [1])
        }
        #expect(throws: SystemError(call: "read(/)", errno: EISDIR)) { try FileIO.read("/") }
    }

    /// More than a pipe's buffer (64 KiB): write(2) returns short counts and
    /// blocks; writeAll goes on until a reader has taken everything.
    @Test func writeAllCompletesShortWrites() throws {
        let (readEnd, writeEnd) = try FileIO.pipe()
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0) }
        let writer = Thread {
            try? FileIO.writeAll(writeEnd, bytes, name: "pipe")
            close(writeEnd)
        }
        writer.start()
        let received = try FileIO.readToEnd(readEnd, name: "pipe")
        close(readEnd)
        #expect(received == bytes)
    }

    @Test func writeToAClosedReaderIsAnError() throws {
        let (readEnd, writeEnd) = try FileIO.pipe()
        close(readEnd)
        signal(SIGPIPE, SIG_IGN)
        #expect(throws: SystemError(call: "write(pipe)", errno: EPIPE)) { try FileIO.writeAll(writeEnd, [1, 2, 3], name: "pipe") }
        #expect(!FileIO.writeAllOrGiveUp(writeEnd, [1]))
        close(writeEnd)
    }
}

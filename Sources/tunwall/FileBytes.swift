// Reading a whole file with the syscalls' own error messages, e.g.
// "open: No such file or directory".

#if canImport(Glibc)
import Glibc
#endif
import TunIO

enum FileBytes {
    static func read(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(call: "open", errno: errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(call: "read", errno: errno)
            }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
        }
    }
}

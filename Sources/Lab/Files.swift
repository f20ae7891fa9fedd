// Small file operations with the system's reason in the message, e.g.
// "Topologies/nope.json: No such file or directory".

import Foundation
#if canImport(Glibc)
import Glibc
#endif

func systemMessage(_ code: Int32) -> String {
    String(cString: strerror(code))
}

func readFile(_ path: String) throws(LabError) -> Data {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw LabError("\(path): \(systemMessage(errno))") }
    defer { close(fd) }
    var result = Data()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw LabError("\(path): \(systemMessage(errno))")
        }
        if n == 0 { return result }
        result.append(contentsOf: chunk[0..<n])
    }
}

/// Writes to a temporary name beside `path`, then renames it into place, so a
/// reader never sees half a file.
func writeFile(_ path: String, _ data: Data) throws(LabError) {
    let temporary = path + ".tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw LabError("\(temporary): \(systemMessage(errno))") }
    var offset = 0
    let bytes = [UInt8](data)
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            let code = errno
            close(fd)
            unlink(temporary)
            throw LabError("\(temporary): \(systemMessage(code))")
        }
        offset += n
    }
    close(fd)
    guard rename(temporary, path) == 0 else {
        let code = errno
        unlink(temporary)
        throw LabError("\(path): \(systemMessage(code))")
    }
}

/// `mkdir -p`.
func makeDirectories(_ path: String) throws(LabError) {
    var prefix = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        prefix += "/" + component
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            throw LabError("cannot create \(prefix): \(systemMessage(errno))")
        }
    }
}

/// `rm -rf`; nothing to do if `path` does not exist.
func removeTree(_ path: String) throws(LabError) {
    guard fileExists(path) else { return }
    do {
        try FileManager.default.removeItem(atPath: path)
    } catch {
        throw LabError("cannot remove \(path): \(error.localizedDescription)")
    }
}

func fileExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

/// The absolute form of `path`, relative to the working directory; "." and
/// ".." components are left alone (the kernel resolves them).
public func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    let directory = FileManager.default.currentDirectoryPath
    return directory.hasSuffix("/") ? directory + path : directory + "/" + path
}

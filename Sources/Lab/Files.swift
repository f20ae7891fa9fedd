// Small file operations with the system's reason in the message, e.g.
// "Topologies/nope.json: No such file or directory".

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SystemIO

func systemMessage(_ code: Int32) -> String {
    String(cString: strerror(code))
}

func readFile(_ path: String) throws(LabError) -> Data {
    do {
        return Data(try FileIO.read(path))
    } catch {
        throw LabError("\(path): \(systemMessage(error.errno))")
    }
}

/// Writes to a temporary name beside `path`, then renames it into place, so a
/// reader never sees half a file.
func writeFile(_ path: String, _ data: Data) throws(LabError) {
    do {
        try FileIO.replace(path, with: data)
    } catch {
        throw LabError("\(path): \(systemMessage(error.errno))")
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

// FTPRoot: the tree the server serves, and the only way from a client's path
// to a file. Two steps, each enough on its own for what it guards against:
//
// 1. The client's path becomes a virtual path ("/pub/file.bin") by text
//    alone: relative to the working directory, "." dropped, ".." taking
//    the previous component away and never going above "/", as it does
//    below a chroot(2). So "../../etc/passwd" is "/etc/passwd" under the root.
// 2. The local file is the root plus that path, resolved with realpath(3) and
//    refused unless it is still under the resolved root: a symbolic link in
//    the tree that points out of it leads nowhere. A new file (STOR) is
//    checked by its directory and opened with O_NOFOLLOW.

#if canImport(Glibc)
import Glibc
#endif

struct FTPRoot: Sendable {
    /// The root, resolved (no symbolic links, no trailing "/").
    let path: String

    init(_ directory: String) throws(FTPPeerError) {
        guard let resolved = Self.resolve(directory) else {
            throw FTPPeerError("\(directory): \(String(cString: strerror(errno)))")
        }
        guard Self.isDirectory(resolved) else { throw FTPPeerError("\(directory): not a directory") }
        path = resolved == "/" ? "" : resolved
    }

    /// The client's `argument` as an absolute virtual path, seen from the
    /// working directory `cwd` (itself a virtual path); an empty argument is `cwd`.
    static func virtualPath(_ argument: String, cwd: String) -> String {
        let start = argument.hasPrefix("/") ? [] : cwd.split(separator: "/").map(String.init)
        var components = start
        for component in argument.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": if !components.isEmpty { components.removeLast() }
            default: components.append(String(component))
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// The local path of an existing file or directory at `virtual`, resolved;
    /// nil if there is none or it lies outside the root.
    func existing(_ virtual: String) -> String? {
        let local = path + virtual
        guard !virtual.contains("\0"), let resolved = Self.resolve(local.isEmpty ? "/" : local) else { return nil }
        return contains(resolved) ? resolved : nil
    }

    /// Where a file at `virtual` would be created: its directory resolved
    /// and inside the root, and a name that is not "/" itself.
    func creatable(_ virtual: String) -> String? {
        guard !virtual.contains("\0"), virtual != "/", let slash = virtual.lastIndex(of: "/") else { return nil }
        let name = virtual[virtual.index(after: slash)...]
        guard !name.isEmpty, let directory = existing(String(virtual[..<slash])), Self.isDirectory(directory) else {
            return nil
        }
        return (directory == "/" ? "" : directory) + "/" + name
    }

    /// Whether a resolved local path is the root or below it.
    func contains(_ resolved: String) -> Bool {
        path.isEmpty || resolved == path || resolved.hasPrefix(path + "/")
    }

    /// The virtual path back from a resolved local one inside the root.
    func virtual(_ resolved: String) -> String {
        let rest = resolved.dropFirst(path.count)
        return rest.isEmpty ? "/" : String(rest)
    }

    static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}

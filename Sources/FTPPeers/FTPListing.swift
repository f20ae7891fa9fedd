// What LIST and NLST send. RFC 959 leaves LIST's format to the server ("the
// information on a file may vary widely from system to system"); nearly every
// server sends `ls -l` lines, and clients (curl, lftp, browsers) parse those,
// so the server sends them too, in the layout vsftpd uses. NLST is names only
// (RFC 959 §4.1.3), one per line. Both are CRLF lines: a listing travels as
// ASCII text whatever TYPE says.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum FTPListing {
    struct Entry {
        var name: String
        var info: stat
    }

    /// A directory's entries sorted by name (without "." and ".."), or the
    /// file itself; nil if `local` cannot be read.
    static func entries(_ local: String) -> [Entry]? {
        var info = stat()
        guard lstat(local, &info) == 0 else { return nil }
        guard (info.st_mode & S_IFMT) == S_IFDIR || FTPRoot.isDirectory(local) else {
            return [Entry(name: String(local.split(separator: "/").last ?? ""), info: info)]
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: local) else { return nil }
        return names.sorted().compactMap { name in
            var entry = stat()
            guard lstat(local + "/" + name, &entry) == 0 else { return nil }
            return Entry(name: name, info: entry)
        }
    }

    /// "-rw-r--r--    1 ftp      ftp       2000000 Jan 01 12:00 file.bin"
    static func longLine(_ entry: Entry, now: time_t) -> String {
        let info = entry.info
        let size = String(info.st_size)
        let links = String(info.st_nlink)
        return mode(info.st_mode) + " " + pad(links, 4) + " ftp      ftp      " + pad(size, 8) + " "
            + date(info.st_mtim.tv_sec, now: now) + " " + entry.name
    }

    /// "drwxr-xr-x": the type, then read, write, execute for owner, group, others.
    static func mode(_ mode: mode_t) -> String {
        let type: Character = switch mode & S_IFMT {
        case S_IFDIR: "d"
        case S_IFLNK: "l"
        default: "-"
        }
        var text = String(type)
        for shift in [6, 3, 0] {
            let bits = (mode >> mode_t(shift)) & 7
            text += (bits & 4 != 0 ? "r" : "-") + (bits & 2 != 0 ? "w" : "-") + (bits & 1 != 0 ? "x" : "-")
        }
        return text
    }

    /// As ls(1): "Jan 01 12:00" within half a year of now, "Jan 01  2023" otherwise (UTC).
    static func date(_ time: time_t, now: time_t) -> String {
        var seconds = time
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let month = months[Int(max(0, min(11, parts.tm_mon)))]
        let day = parts.tm_mday < 10 ? "0\(parts.tm_mday)" : "\(parts.tm_mday)"
        let halfYear: time_t = 182 * 24 * 3600
        if abs(now - time) < halfYear {
            let hour = parts.tm_hour < 10 ? "0\(parts.tm_hour)" : "\(parts.tm_hour)"
            let minute = parts.tm_min < 10 ? "0\(parts.tm_min)" : "\(parts.tm_min)"
            return "\(month) \(day) \(hour):\(minute)"
        }
        return "\(month) \(day)  \(parts.tm_year + 1900)"
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

/// RFC 959 §3.1.1.1: in ASCII type, lines end with CRLF on the wire,
/// whatever the local convention. Sending: LF becomes CRLF (a CR already
/// before it stays alone). Receiving: CRLF becomes LF. A CR that ends one
/// chunk is held until the next shows what follows it.
struct ASCIITranslation {
    private var previous: UInt8 = 0
    private var heldCR = false

    /// Local text to the wire.
    mutating func toNetwork(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 16)
        for byte in bytes {
            if byte == 0x0A && previous != 0x0D { out.append(0x0D) }
            out.append(byte)
            previous = byte
        }
        return out
    }

    /// The wire to local text; `end` at the end of the stream releases a held CR.
    mutating func fromNetwork(_ bytes: some Collection<UInt8>, end: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 1)
        for byte in bytes {
            if heldCR {
                heldCR = false
                if byte != 0x0A { out.append(0x0D) }
            }
            if byte == 0x0D {
                heldCR = true
            } else {
                out.append(byte)
            }
        }
        if end && heldCR {
            heldCR = false
            out.append(0x0D)
        }
        return out
    }
}

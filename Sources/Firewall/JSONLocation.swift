// Where a key path (`hosts[1].routes[0].via`) is in a JSON document's text,
// as a line and column, so that `tunwall lab check` can point at the place
// of a config error as nft and `tunwall check` do (`FILE:LINE:COL: ...`).
// JSONSerialization keeps no positions, so the text is scanned again here,
// along the path only: a small tokenizer that skips every value it does not
// need. It runs on documents JSONSerialization already accepted; on anything
// else it answers nil rather than guess (and never traps: every index is
// checked against the end).

/// The 1-based line and column (in characters) of the value at `path`;
/// for a path that ends at a key the object does not have, its object.
package func jsonLocation(of path: JSONPath, in bytes: [UInt8]) -> (line: Int, column: Int)? {
    var scanner = JSONScanner(bytes: bytes)
    guard let offset = scanner.find(path.steps[...]) else { return nil }
    var line = 1, column = 1
    for byte in bytes.prefix(offset) {
        if byte == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if byte & 0xC0 != 0x80 {  // characters, not UTF-8 continuation bytes
            column += 1
        }
    }
    return (line, column)
}

private struct JSONScanner {
    let bytes: [UInt8]
    var index = 0

    /// The offset of the value at `steps` from the value at `index`.
    mutating func find(_ steps: ArraySlice<JSONPath.Step>) -> Int? {
        skipSpace()
        guard let step = steps.first else { return index < bytes.count ? index : nil }
        let start = index
        switch step {
        case .key(let wanted):
            guard take(UInt8(ascii: "{")) else { return nil }
            while true {
                skipSpace()
                if take(UInt8(ascii: "}")) { return start }  // no such key: point at the object
                guard let key = string() else { return nil }
                skipSpace()
                guard take(UInt8(ascii: ":")) else { return nil }
                if key == wanted { return find(steps.dropFirst()) }
                guard skipValue() else { return nil }
                skipSpace()
                _ = take(UInt8(ascii: ","))
            }
        case .index(let wanted):
            guard take(UInt8(ascii: "[")) else { return nil }
            var position = 0
            while true {
                skipSpace()
                if take(UInt8(ascii: "]")) { return start }
                if position == wanted { return find(steps.dropFirst()) }
                guard skipValue() else { return nil }
                skipSpace()
                _ = take(UInt8(ascii: ","))
                position += 1
            }
        }
    }

    mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// A string's text with its simple escapes undone (keys are plain words).
    mutating func string() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        var text: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return String(decoding: text, as: UTF8.self) }
            if byte == UInt8(ascii: "\\"), index < bytes.count {
                text.append(bytes[index])
                index += 1
            } else {
                text.append(byte)
            }
        }
        return nil
    }

    /// Skips one value of any kind; false at malformed text.
    mutating func skipValue() -> Bool {
        skipSpace()
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return string() != nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard string() != nil else { return false }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return true
                    }
                default: break
                }
                index += 1
            }
            return false
        default:  // a number, true, false or null: up to the next delimiter
            while index < bytes.count, !",}] \t\r\n".utf8.contains(bytes[index]) { index += 1 }
            return true
        }
    }
}

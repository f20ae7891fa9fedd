// TCP options: decoded as values (`TCPOption`) for builders and tests, and
// walked in place (`TCPOptionSlots`) for the per-packet path, where sequence
// adjustment rewrites SACK blocks without copying the segment.
//
// Kinds (IANA "TCP Option Kind Numbers"): 0 End of Option List, 1 No-Operation
// (RFC 9293 §3.2), 2 MSS (length 4), 3 Window Scale (length 3, RFC 7323 §2),
// 4 SACK-Permitted (length 2, RFC 2018 §2), 5 SACK (length 2 + 8n, RFC 2018 §3),
// 8 Timestamps (length 10, RFC 7323 §3). Every other kind has a length byte
// and is kept as `.unknown`.
//
// Example: 02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 00 00 01 03 03 07 is
// [mss 1460, sackOK, TS val 1 ecr 0, nop, wscale 7].

public struct TCPSACKBlock: Hashable, Sendable {
    public var left: SeqNumber
    public var right: SeqNumber
    public init(left: SeqNumber, right: SeqNumber) {
        self.left = left
        self.right = right
    }
}

public enum TCPOption: Hashable, Sendable, CustomStringConvertible {
    case endOfList
    case noOperation
    case maximumSegmentSize(UInt16)
    case windowScale(UInt8)
    case sackPermitted
    case sack([TCPSACKBlock])
    case timestamps(value: UInt32, echoReply: UInt32)
    /// Any other kind, or a known kind with an unexpected length: the bytes after kind and length.
    case unknown(kind: UInt8, data: [UInt8])
    /// Bytes that are not options: anything but zero padding after End of
    /// Option List, or a malformed tail (a length byte that is missing, below
    /// two, or past the end). Kept verbatim so that the header re-emits unchanged.
    case trailing([UInt8])

    /// Bytes this option takes on the wire.
    public var encodedLength: Int {
        switch self {
        case .endOfList, .noOperation: return 1
        case .maximumSegmentSize: return 4
        case .windowScale: return 3
        case .sackPermitted: return 2
        case .sack(let blocks): return 2 + 8 * blocks.count
        case .timestamps: return 10
        case .unknown(_, let data): return 2 + data.count
        case .trailing(let bytes): return bytes.count
        }
    }

    /// tcpdump's spelling: `mss 1460`, `sackOK`, `TS val 1 ecr 0`, `nop`, `wscale 7`, `sack 1 {l:r}`, `eol`.
    public var description: String {
        switch self {
        case .endOfList: return "eol"
        case .noOperation: return "nop"
        case .maximumSegmentSize(let mss): return "mss \(mss)"
        case .windowScale(let shift): return "wscale \(shift)"
        case .sackPermitted: return "sackOK"
        case .sack(let blocks):
            return "sack \(blocks.count) " + blocks.map { "{\($0.left):\($0.right)}" }.joined()
        case .timestamps(let value, let echo): return "TS val \(value) ecr \(echo)"
        case .unknown(let kind, let data): return "unknown-\(kind) len \(data.count + 2)"
        case .trailing(let bytes): return "[bad opt \(bytes.count) bytes]"
        }
    }

    static func encodedLength(_ options: [TCPOption]) -> Int {
        options.reduce(0) { $0 + $1.encodedLength }
    }

    /// Decodes an option area. Never fails: what cannot be read as options is
    /// kept as `.trailing`.
    public static func decode(_ area: UnsafeRawBufferPointer) -> [TCPOption] {
        var result: [TCPOption] = []
        var i = 0
        let n = area.count
        while i < n {
            let kind = area[i]
            if kind == 0 {
                result.append(.endOfList)
                let rest = UnsafeRawBufferPointer(rebasing: area[(i + 1)...])
                // Zero padding up to the next multiple of four is implied by
                // emission; anything else is kept so the length round-trips.
                let padded = (i + 1 + 3) & ~3
                if !(rest.allSatisfy { $0 == 0 } && padded == n) && !rest.isEmpty {
                    result.append(.trailing(Array(rest)))
                }
                return result
            }
            if kind == 1 {
                result.append(.noOperation)
                i += 1
                continue
            }
            guard i + 1 < n, area[i + 1] >= 2, i + Int(area[i + 1]) <= n else {
                result.append(.trailing(Array(area[i...])))
                return result
            }
            let length = Int(area[i + 1])
            let data = UnsafeRawBufferPointer(rebasing: area[(i + 2)..<(i + length)])
            switch (kind, length) {
            case (2, 4): result.append(.maximumSegmentSize(data.be16(0)))
            case (3, 3): result.append(.windowScale(data[0]))
            case (4, 2): result.append(.sackPermitted)
            case (5, _) where (length - 2) % 8 == 0 && length > 2:
                var blocks: [TCPSACKBlock] = []
                var k = 0
                while k < data.count {
                    blocks.append(TCPSACKBlock(left: SeqNumber(data.be32(k)), right: SeqNumber(data.be32(k + 4))))
                    k += 8
                }
                result.append(.sack(blocks))
            case (8, 10): result.append(.timestamps(value: data.be32(0), echoReply: data.be32(4)))
            default: result.append(.unknown(kind: kind, data: Array(data)))
            }
            i += length
        }
        return result
    }

    /// Writes `options` at the start of `area`, truncating at its end (the
    /// caller zeroes the area first, so the remainder is End-of-List padding).
    static func encode(_ options: [TCPOption], into area: UnsafeMutableRawBufferPointer) {
        var bytes: [UInt8] = []
        for option in options {
            switch option {
            case .endOfList: bytes.append(0)
            case .noOperation: bytes.append(1)
            case .maximumSegmentSize(let mss): bytes += [2, 4, UInt8(mss >> 8), UInt8(mss & 0xff)]
            case .windowScale(let shift): bytes += [3, 3, shift]
            case .sackPermitted: bytes += [4, 2]
            case .sack(let blocks):
                bytes += [5, UInt8(truncatingIfNeeded: 2 + 8 * blocks.count)]
                for block in blocks { bytes += be32Bytes(block.left.rawValue) + be32Bytes(block.right.rawValue) }
            case .timestamps(let value, let echo): bytes += [8, 10] + be32Bytes(value) + be32Bytes(echo)
            case .unknown(let kind, let data): bytes += [kind, UInt8(truncatingIfNeeded: 2 + data.count)] + data
            case .trailing(let raw): bytes += raw
            }
        }
        for (i, byte) in bytes.prefix(area.count).enumerated() { area[i] = byte }
    }

    private static func be32Bytes(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
    }
}

/// Where one option sits in the option area.
public struct TCPOptionSlot: Hashable, Sendable {
    public var kind: UInt8
    /// Offset of the kind byte from the start of the option area.
    public var offset: Int
    /// Total length including kind (and length) bytes.
    public var length: Int
}

/// The options of a segment, walked in place: a `Sequence` of slots that
/// allocates nothing. The walk stops at End of Option List or at the first
/// malformed option; `isWellFormed` tells which.
public struct TCPOptionSlots: Sequence {
    let bytes: UnsafeMutableRawBufferPointer

    public struct Iterator: IteratorProtocol {
        let bytes: UnsafeMutableRawBufferPointer
        var offset = 0
        var malformed = false

        public mutating func next() -> TCPOptionSlot? {
            guard offset < bytes.count, !malformed else { return nil }
            let kind = bytes[offset]
            if kind == 0 { return nil }
            if kind == 1 {
                offset += 1
                return TCPOptionSlot(kind: 1, offset: offset - 1, length: 1)
            }
            guard offset + 1 < bytes.count, bytes[offset + 1] >= 2, offset + Int(bytes[offset + 1]) <= bytes.count else {
                malformed = true
                return nil
            }
            let slot = TCPOptionSlot(kind: kind, offset: offset, length: Int(bytes[offset + 1]))
            offset += slot.length
            return slot
        }
    }

    public func makeIterator() -> Iterator { Iterator(bytes: bytes) }

    /// False if an option's length byte is missing, below 2 or runs past the area.
    public var isWellFormed: Bool {
        var iterator = makeIterator()
        while iterator.next() != nil {}
        return !iterator.malformed
    }

    public func first(kind: UInt8) -> TCPOptionSlot? {
        for slot in self where slot.kind == kind { return slot }
        return nil
    }
}

extension TCPSegment {
    /// MSS option value (RFC 9293 §3.7.1), if present with its proper length.
    public var maximumSegmentSize: UInt16? {
        guard let slot = options.first(kind: 2), slot.length == 4 else { return nil }
        return optionBytes.be16(slot.offset + 2)
    }

    /// Window scale shift count (RFC 7323 §2.2), if present.
    public var windowScale: UInt8? {
        guard let slot = options.first(kind: 3), slot.length == 3 else { return nil }
        return optionBytes.u8(slot.offset + 2)
    }

    public var isSACKPermitted: Bool { options.first(kind: 4)?.length == 2 }

    /// TSval and TSecr (RFC 7323 §3.2), if present.
    public var timestamps: (value: UInt32, echoReply: UInt32)? {
        guard let slot = options.first(kind: 8), slot.length == 10 else { return nil }
        return (optionBytes.be32(slot.offset + 2), optionBytes.be32(slot.offset + 6))
    }

    /// The SACK option's slot, if present and well formed (2 + 8n bytes).
    public var sackSlot: TCPOptionSlot? {
        guard let slot = options.first(kind: 5), slot.length > 2, (slot.length - 2) % 8 == 0 else { return nil }
        return slot
    }

    /// Number of SACK blocks (RFC 2018 §3: at most 4 fit, 3 with timestamps).
    public var sackBlockCount: Int { sackSlot.map { ($0.length - 2) / 8 } ?? 0 }

    /// Block `index` of the SACK option, or nil if there is no such block.
    public func sackBlock(at index: Int) -> TCPSACKBlock? {
        guard let slot = sackSlot, index >= 0, index < (slot.length - 2) / 8 else { return nil }
        let base = slot.offset + 2 + index * 8
        return TCPSACKBlock(left: SeqNumber(optionBytes.be32(base)), right: SeqNumber(optionBytes.be32(base + 4)))
    }

    /// Rewrites block `index` in place (used by sequence adjustment); false if
    /// there is no such block. The caller fixes the checksum, incrementally
    /// with `Checksum.update`.
    @discardableResult
    public func setSACKBlock(_ block: TCPSACKBlock, at index: Int) -> Bool {
        guard let slot = sackSlot, index >= 0, index < (slot.length - 2) / 8 else { return false }
        let base = slot.offset + 2 + index * 8
        optionBytes.setBE32(block.left.rawValue, at: base)
        optionBytes.setBE32(block.right.rawValue, at: base + 4)
        return true
    }
}

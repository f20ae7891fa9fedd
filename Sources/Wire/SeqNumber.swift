// TCP sequence numbers: 32-bit values compared in modular ("serial number")
// arithmetic. RFC 9293 §3.4: "the symbol =< means less than or equal (modulo
// 2**32)"; a is before b when the signed 32-bit difference a - b is negative.
//
// Deliberately not `Comparable`: modular order is not transitive over the whole
// space (a < b < c does not imply a < c when they span more than 2^31), so the
// operators are provided on their own and no sort can be built on them.
//
// Example: SeqNumber(0xffff_fff0) + 0x20 == SeqNumber(0x10), and
// SeqNumber(0xffff_fff0) < SeqNumber(0x10) because 0x10 is 0x20 ahead.

public struct SeqNumber: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    @inline(__always)
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public var description: String { String(rawValue) }

    /// `self - other` as a signed distance (positive: self is after other).
    @inline(__always)
    public func distance(from other: SeqNumber) -> Int32 {
        Int32(bitPattern: rawValue &- other.rawValue)
    }

    @inline(__always)
    public static func + (lhs: SeqNumber, rhs: Int32) -> SeqNumber {
        SeqNumber(lhs.rawValue &+ UInt32(bitPattern: rhs))
    }

    @inline(__always)
    public static func - (lhs: SeqNumber, rhs: Int32) -> SeqNumber {
        SeqNumber(lhs.rawValue &- UInt32(bitPattern: rhs))
    }

    @inline(__always)
    public static func += (lhs: inout SeqNumber, rhs: Int32) { lhs = lhs + rhs }

    @inline(__always)
    public static func -= (lhs: inout SeqNumber, rhs: Int32) { lhs = lhs - rhs }

    /// Signed distance `lhs - rhs`.
    @inline(__always)
    public static func - (lhs: SeqNumber, rhs: SeqNumber) -> Int32 { lhs.distance(from: rhs) }

    @inline(__always)
    public static func < (lhs: SeqNumber, rhs: SeqNumber) -> Bool { lhs.distance(from: rhs) < 0 }
    @inline(__always)
    public static func <= (lhs: SeqNumber, rhs: SeqNumber) -> Bool { lhs.distance(from: rhs) <= 0 }
    @inline(__always)
    public static func > (lhs: SeqNumber, rhs: SeqNumber) -> Bool { lhs.distance(from: rhs) > 0 }
    @inline(__always)
    public static func >= (lhs: SeqNumber, rhs: SeqNumber) -> Bool { lhs.distance(from: rhs) >= 0 }

    /// True if `self` lies in the half-open window [start, start + length).
    @inline(__always)
    public func isIn(windowStart start: SeqNumber, length: UInt32) -> Bool {
        rawValue &- start.rawValue < length
    }
}

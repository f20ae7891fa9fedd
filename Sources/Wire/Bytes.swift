// Big-endian field access over raw packet bytes.
//
// Every view in Wire checks the buffer's length once, when it is made; after that
// these accessors are only ever called with offsets inside the checked range, so
// they use unaligned loads without a second bounds check in release builds.
// (Debug builds keep the standard library's bounds preconditions, which is what
// the fuzz tests run under: an out-of-range read there traps and fails the test.)

extension UnsafeRawBufferPointer {
    @inline(__always)
    func u8(_ offset: Int) -> UInt8 { self[offset] }

    @inlinable @inline(__always)
    public func be16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable @inline(__always)
    public func be32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    func u8(_ offset: Int) -> UInt8 { self[offset] }

    @inlinable @inline(__always)
    public func be16(_ offset: Int) -> UInt16 { readOnly.be16(offset) }

    @inlinable @inline(__always)
    public func be32(_ offset: Int) -> UInt32 { readOnly.be32(offset) }

    @inline(__always)
    func setU8(_ value: UInt8, at offset: Int) { self[offset] = value }

    @inlinable @inline(__always)
    public func setBE16(_ value: UInt16, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    @inlinable @inline(__always)
    public func setBE32(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// The bytes `range` of this buffer, as a buffer of their own (no copy).
    @inlinable @inline(__always)
    public func slice(_ range: Range<Int>) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: self[range])
    }

    /// The bytes from `offset` to the end (no copy).
    @inlinable @inline(__always)
    public func suffix(from offset: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: self[offset...])
    }

    @inlinable @inline(__always)
    public var readOnly: UnsafeRawBufferPointer { UnsafeRawBufferPointer(self) }
}

extension Array where Element == UInt8 {
    /// Runs `body` with a mutable raw view of the array's bytes; views made
    /// inside must not escape it.
    @inlinable @discardableResult
    public mutating func withPacketBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        let result: Result<R, E> = withUnsafeMutableBytes { raw in
            do throws(E) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

// The keyed hash of connection tuples, one for the flow table's index
// (FlowTable) and the steering directory (SteeringDirectory).
//
// Multiply-and-fold mixing (wyhash's "mum") of the tuple's words with secret
// keys drawn per table: a sender who cannot learn the keys cannot aim flows
// at one probe run (hash flooding), which is why Linux keys its conntrack
// hash (siphash since 4.13) and Go keys its maps the same way. It costs a
// few multiplies where SipHash through Swift's Hasher cost a third of a
// lookup.

import Wire

struct TupleHash: Sendable {
    typealias Keys = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    let keys: Keys

    /// Fresh secret keys (what every table takes).
    init() {
        var random = SystemRandomNumberGenerator()
        keys = (random.next(), random.next(), random.next(), random.next(), random.next(), random.next())
    }

    /// Given keys: tests replay keys that once clustered.
    init(keys: Keys) { self.keys = keys }

    @inline(__always)
    static func mum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    /// MurmurHash3's 64-bit finalizer (fmix64), a bijection in which every
    /// input bit reaches every output bit. Without it the low bits of the
    /// last multiply were too weakly tied to the ports: flows that differ
    /// only in their source port (a load generator's) clustered into a few
    /// slots under some keys, and the steering directory's windows
    /// overflowed, refusing new connections (seen in CI: 187 of 1,000; the
    /// keys are replayed in SteeringDirectoryTests.portsAloneDoNotCluster).
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h &*= 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }

    /// The hash of two addresses and a word holding everything else (ports,
    /// protocol, family, and a domain bit for keys that are not tuples).
    @inline(__always)
    func hash(source: IPv6Address, destination: IPv6Address, rest: UInt64) -> UInt64 {
        var h = Self.mum(source.high ^ keys.0, source.low ^ keys.1)
        h ^= Self.mum(destination.high ^ keys.2, destination.low ^ keys.3)
        return Self.mix(Self.mum(h ^ keys.4, rest ^ keys.5))
    }

    /// The hash of a whole tuple.
    @inline(__always)
    func hash(_ tuple: ConnTuple) -> UInt64 {
        hash(source: tuple.source, destination: tuple.destination,
             rest: UInt64(tuple.sourcePort) << 32 | UInt64(tuple.destinationPort) << 16
                | UInt64(tuple.protocol.rawValue) << 8 | UInt64(tuple.family.rawValue))
    }
}

// The TFTP helper's reading of requests (RFC 1350 §5, RFC 2347) and the
// expectation it asks for, with and without NAT, as Linux's
// nf_conntrack_tftp + nf_nat_tftp would.

@testable import Conntrack
import TestSeeds
import Testing
@testable import TFTP
import Wire

@Suite struct TFTPRequestTests {
    func parse(_ bytes: [UInt8]) -> Result<TFTPRequest, TFTPRequest.ParseError> {
        bytes.withUnsafeBytes { raw in
            do throws(TFTPRequest.ParseError) { return .success(try TFTPRequest(parsing: raw)) } catch { return .failure(error) }
        }
    }

    @Test func readAndWriteRequests() throws {
        let read = TFTPRequest(operation: .read, filename: "boot.img", mode: "octet", options: [("blksize", "1428")])
        #expect(read.encoded == [0, 1] + Array("boot.img".utf8) + [0] + Array("octet".utf8) + [0]
                + Array("blksize".utf8) + [0] + Array("1428".utf8) + [0])
        #expect(try parse(read.encoded).get() == read)
        let write = TFTPRequest(operation: .write, filename: "dir/up.bin", mode: "netascii")
        #expect(try parse(write.encoded).get() == write)
        // Mode and option names in any case (RFC 1350: "in any combination of upper and lower case").
        var shouting = Array("x".utf8) + [0] + Array("OcTeT".utf8) + [0] + Array("TSIZE".utf8) + [0] + Array("0".utf8) + [0]
        shouting.insert(contentsOf: [0, 1], at: 0)
        let parsed = try parse(shouting).get()
        #expect(parsed.mode == "octet" && parsed.options.first?.name == "tsize")
    }

    @Test func otherOpcodesAreNotRequests() {
        #expect(parse([0, 3, 0, 1, 1, 2, 3]) == .failure(.notARequest(opcode: 3)), "DATA")
        #expect(parse([0, 4, 0, 1]) == .failure(.notARequest(opcode: 4)), "ACK")
        #expect(parse([0, 5, 0, 1] + Array("no".utf8) + [0]) == .failure(.notARequest(opcode: 5)), "ERROR")
        #expect(parse([0, 6]) == .failure(.notARequest(opcode: 6)), "OACK")
        #expect(parse([0xff, 0xff]) == .failure(.notARequest(opcode: 0xffff)))
    }

    /// Linux expects an answer for any datagram starting 00 01 or 00 02;
    /// tunwall only for a whole request.
    @Test(arguments: [
        [0, 1], [0, 1, 0], [0, 1] + Array("file".utf8), [0, 1] + Array("file".utf8) + [0],
        [0, 1] + Array("file".utf8) + [0] + Array("octet".utf8),
        [0, 1, 0] + Array("octet".utf8) + [0],
        [0, 2] + Array("f".utf8) + [0] + Array("octet".utf8) + [0] + Array("blksize".utf8) + [0],
    ] as [[UInt8]])
    func incompleteRequestsAreMalformed(bytes: [UInt8]) {
        #expect(parse(bytes) == .failure(.malformed))
    }

    @Test func shortAndOddInput() {
        #expect(parse([]) == .failure(.truncated))
        #expect(parse([0]) == .failure(.truncated))
        #expect(parse([0, 1] + Array("f".utf8) + [0] + Array("binary".utf8) + [0]) == .failure(.unknownMode))
        let long = [0, 1] + [UInt8](repeating: 0x41, count: 2000) + [0] + Array("octet".utf8) + [0]
        #expect(parse(long) == .failure(.malformed), "longer than any request")
        // Random bytes never trap and open nothing unless they are a whole request.
        var generator = SeededGenerator(testSeed: 19)
        for _ in 0..<5_000 {
            let count = Int(generator.next() % 40)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if count >= 2 && generator.next() % 2 == 0 { bytes[0] = 0; bytes[1] = UInt8(1 + generator.next() % 2) }
            if case .success(let request) = parse(bytes) { #expect(!request.filename.isEmpty) }
        }
    }
}

@Suite struct TFTPHelperTests {
    let client = IPv6Address(ipv4Mapped: IPv4Address(10, 0, 1, 2))
    let server = IPv6Address(ipv4Mapped: IPv4Address(203, 0, 113, 10))
    let public4 = IPv6Address(ipv4Mapped: IPv4Address(203, 0, 113, 1))
    let now: Timestamp = 1_000 * nanosecondsPerSecond

    func entry(translatedTo source: IPv6Address? = nil, port: UInt16 = 40000) -> ConnEntry {
        let original = ConnTuple(source: client, destination: server, sourcePort: 40000, destinationPort: 69,
                                 protocol: .udp, family: .ipv4)
        let reply = ConnTuple(source: server, destination: source ?? client, sourcePort: 69,
                              destinationPort: source == nil ? 40000 : port, protocol: .udp, family: .ipv4)
        var entry = ConnEntry(original: original, reply: reply)
        if source != nil { entry.status.insert(.sourceNAT) }
        return entry
    }

    func read(_ request: TFTPRequest, _ entry: ConnEntry, direction: Direction = .original) -> TFTPOutcome {
        request.encoded.withUnsafeBytes { TFTPHelper.read($0, direction: direction, entry: entry, now: now) }
    }

    @Test func requestExpectsTheServersAnswerToTheClientsPort() throws {
        guard case .expect(let expectation) = read(TFTPRequest(operation: .read, filename: "f"), entry()) else {
            Issue.record("a read request expects the answer")
            return
        }
        #expect(expectation.key == ExpectationKey(source: server, destination: client, destinationPort: 40000,
                                                  protocol: .udp, family: .ipv4))
        #expect(expectation.translation == nil)
        #expect(expectation.expires == now + 300 * nanosecondsPerSecond)
    }

    /// Behind masquerade the answer comes to the public address and port and
    /// is translated back to the client's own (nf_nat_tftp: follow the master).
    @Test func behindNATTheAnswerFollowsTheMaster() throws {
        guard case .expect(let expectation) = read(TFTPRequest(operation: .write, filename: "f"),
                                                    entry(translatedTo: public4, port: 1025)) else {
            Issue.record("a write request expects the answer")
            return
        }
        #expect(expectation.key == ExpectationKey(source: server, destination: public4, destinationPort: 1025,
                                                  protocol: .udp, family: .ipv4))
        let translation = try #require(expectation.translation)
        #expect(translation.source == server && translation.destination == client && translation.destinationPort == 40000)
    }

    @Test func repliesAndDataExpectNothing() {
        if case .ignored = read(TFTPRequest(operation: .read, filename: "f"), entry(), direction: .reply) {} else {
            Issue.record("a request in the reply direction is ignored")
        }
        let data: [UInt8] = [0, 3, 0, 1, 0x41]
        let outcome = data.withUnsafeBytes { TFTPHelper.read($0, direction: .original, entry: entry(), now: now) }
        if case .ignored = outcome {} else { Issue.record("DATA is ignored") }
        let broken: [UInt8] = [0, 1, 0x41]
        let refused = broken.withUnsafeBytes { TFTPHelper.read($0, direction: .original, entry: entry(), now: now) }
        if case .refused(.malformed) = refused {} else { Issue.record("a broken request is refused: \(refused)") }
    }
}

// The views the engine edits packets through: a TCP payload replaced in
// place must leave exactly the bytes a builder makes for the new payload
// (lengths, IPv4 header checksum, TCP checksum), and the transport-header
// view must read ports and ICMP identifiers from as few bytes as an ICMP
// error quotes, and nothing from fewer.

import Testing
@testable import Wire

@Suite struct IPDatagramTests {
    static let old = Array("PORT 10,0,1,2,195,80\r\n".utf8)
    static let new = Array("PORT 203,0,113,1,195,80\r\n".utf8)

    static func segment(v6: Bool, payload: [UInt8], sequence: UInt32) -> [UInt8] {
        (v6 ? Packet.tcp(client6, 40000, server6, 21, flags: [.ack, .psh], sequenceNumber: SeqNumber(sequence),
                         acknowledgmentNumber: SeqNumber(7), payload: payload)
            : Packet.tcp(client4, 40000, server4, 21, flags: [.ack, .psh], sequenceNumber: SeqNumber(sequence),
                         acknowledgmentNumber: SeqNumber(7), payload: payload)).encoded()
    }

    @Test(arguments: [false, true])
    func replacedPayloadIsWhatABuilderMakes(v6: Bool) {
        let before = Self.segment(v6: v6, payload: Self.old, sequence: 1000)
        let expected = Self.segment(v6: v6, payload: Self.new, sequence: 2000)
        var buffer = before + [UInt8](repeating: 0xee, count: 64)
        let transportOffset = v6 ? IPv6Packet.headerLength : IPv4Packet.minimumHeaderLength
        let (length, placed) = buffer.withUnsafeMutableBytes { raw in
            Self.new.withUnsafeBytes { payload in
                IPDatagram(parsed: raw).replaceTCPPayload(transportOffset: transportOffset, sequence: SeqNumber(2000),
                                                          payload: payload, limit: .max, partialChecksum: false)
            }
        }
        #expect(placed == Self.new.count)
        #expect(length == expected.count)
        #expect(Array(buffer[..<length]) == expected)
    }

    @Test func placesOnlyWhatTheLimitAllows() {
        var buffer = Self.segment(v6: false, payload: Self.old, sequence: 1) + [UInt8](repeating: 0, count: 64)
        let (length, placed) = buffer.withUnsafeMutableBytes { raw in
            Self.new.withUnsafeBytes { payload in
                IPDatagram(parsed: raw).replaceTCPPayload(transportOffset: 20, sequence: SeqNumber(1), payload: payload,
                                                          limit: 50, partialChecksum: false)
            }
        }
        #expect(length == 50 && placed == 10)
        #expect(Array(buffer[40..<50]) == Array(Self.new[..<10]))
        buffer.withUnsafeMutableBytes { raw in
            let ip = IPv4Packet(parsed: raw)
            #expect(ip.totalLength == 50 && ip.isHeaderChecksumValid)
            let tcp = TCPSegment(parsed: raw.slice(20..<50))
            #expect(tcp.isChecksumValid(pseudoHeaderSum: ip.pseudoHeaderSum(length: 30)))
        }
    }

    @Test func offloadedSegmentKeepsThePseudoHeaderSum() {
        var buffer = Self.segment(v6: true, payload: Self.old, sequence: 5) + [UInt8](repeating: 0, count: 64)
        buffer.withUnsafeMutableBytes { raw in
            let (length, _) = Self.new.withUnsafeBytes { payload in
                IPDatagram(parsed: raw).replaceTCPPayload(transportOffset: 40, sequence: SeqNumber(5), payload: payload,
                                                          limit: .max, partialChecksum: true)
            }
            let ip = IPv6Packet(parsed: raw)
            #expect(ip.payloadLength == length - 40)
            #expect(TCPSegment(parsed: raw.slice(40..<length)).checksum
                    == ip.pseudoHeaderSum(protocol: .tcp, length: length - 40))
        }
    }
}

@Suite struct TransportHeaderViewTests {
    @Test func portsFromEightQuotedBytes() {
        var quoted = hex("9c40 0050 0000 03e8")
        quoted.withUnsafeMutableBytes { raw in
            let view = TransportHeaderView(raw, protocol: .tcp)
            #expect(view.port(.source) == 40000 && view.port(.destination) == 80)
            #expect(view.checksum == nil, "TCP's checksum is past the quoted 8 bytes")
            view.setPort(.destination, 8080)
            #expect(view.port(.destination) == 8080)
        }
    }

    @Test func icmpQueryIdentifier() {
        var echo = hex("0800 f7fe 1234 0001")
        echo.withUnsafeMutableBytes { raw in
            let view = TransportHeaderView(raw, protocol: .icmp)
            #expect(view.icmpTypeAndCode == 0x0800 && view.icmpIdentifier == 0x1234)
            #expect(view.checksum == 0xf7fe && !view.pseudoHeaderCovers)
            view.icmpIdentifier = 0x4321
        }
        #expect(echo == hex("0800 f7fe 4321 0001"))
    }

    @Test func tooFewBytesReadNothing() {
        var short = hex("9c40 00")
        short.withUnsafeMutableBytes { raw in
            let view = TransportHeaderView(raw, protocol: .udp)
            #expect(view.port(.source) == nil && view.port(.destination) == nil && view.checksum == nil)
            view.setPort(.source, 1)
            view.checksum = 1
        }
        #expect(short == hex("9c40 00"), "writes past the end are ignored, not trapped")
    }
}

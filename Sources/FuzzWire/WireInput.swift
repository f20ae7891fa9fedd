// One fuzz input through Wire's parsers. The first byte picks the parser (so
// libFuzzer's coverage feedback can tell them apart), the rest is its input,
// copied into a buffer of exactly that size: a read past it is an ASan report
// in the fuzzing build and a trap in the debug build.
//
//   0 IPv4 (validating, then its transport)   6 ICMPv4 (+ the packet it quotes)
//   1 IPv4 as quoted by an ICMP error         7 ICMPv6 (+ the packet it quotes)
//   2 IPv6 (+ extension chain, transport)     8 virtio_net_hdr
//   3 IPv6 as quoted by an ICMPv6 error       9 pcap or pcapng file (either byte order)
//   4 TCP (+ options, SACK blocks)           10 Packet value: parse, re-emit, parse
//   5 UDP                                    11 address and prefix text
//
// The invariants are those of Tests/WireTests/FuzzTests.swift: a view that
// validated stays within its bytes, and a parsed Packet re-emits bytes that
// parse back to the same value.

import Wire

enum WireInput {
    static let parsers = 12

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let selector = input.first else { return }
        let body = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count - 1, alignment: 8)
        defer { body.deallocate() }
        if input.count > 1 { body.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[1...])) }
        switch Int(selector) % parsers {
        case 0:
            guard let ip = try? IPv4Packet(validating: body) else { return }
            check(ip.headerLength <= ip.bytes.count && ip.totalLength == ip.bytes.count, "IPv4 lengths")
            _ = (ip.typeOfService, ip.identification, ip.fragmentOffset, ip.ttl, ip.source, ip.destination)
            _ = (ip.isHeaderChecksumValid, ip.options.count, ip.pseudoHeaderSum(length: ip.payload.count), IPv4Header(ip))
            if !ip.isLaterFragment { transport(ip.protocol, ip.payload) }
        case 1:
            guard let ip = try? IPv4Packet(validatingQuoted: body) else { return }
            check(ip.headerLength <= ip.bytes.count, "quoted IPv4 header")
            transport(ip.protocol, ip.payload)
        case 2, 3:
            let quoted = selector % UInt8(parsers) == 3
            guard let ip = quoted ? try? IPv6Packet(validatingQuoted: body) : try? IPv6Packet(validating: body) else { return }
            _ = (ip.trafficClass, ip.flowLabel, ip.hopLimit, ip.source, ip.destination, ip.payloadLength)
            guard let chain = try? ip.extensionChain() else { return }
            check(chain.upperLayerOffset <= ip.bytes.count, "IPv6 extension chain")
            _ = IPv6Header(ip, chain: chain)
            if !chain.isLaterFragment { transport(chain.upperLayerProtocol, ip.bytes.suffix(from: chain.upperLayerOffset)) }
        case 4: transport(.tcp, body)
        case 5: transport(.udp, body)
        case 6: transport(.icmp, body)
        case 7: transport(.icmpv6, body)
        case 8:
            guard let header = try? VirtioNetHeader(loadingFrom: UnsafeRawBufferPointer(body)) else { return }
            let again = UnsafeMutableRawBufferPointer.allocate(byteCount: VirtioNetHeader.size, alignment: 8)
            defer { again.deallocate() }
            header.store(to: again)
            check((try? VirtioNetHeader(loadingFrom: UnsafeRawBufferPointer(again))) == header, "virtio header round trip")
        case 9: pcap(Array(body))
        case 10: packet(Array(body))
        default: text(Array(body))
        }
    }

    static func check(_ condition: Bool, _ what: StaticString) {
        // A violated invariant must stop the fuzzer even in an optimised build.
        if !condition { fatalError("invariant broken: \(what)") }
    }

    static func transport(_ proto: IPProtocol, _ body: UnsafeMutableRawBufferPointer) {
        switch proto {
        case .tcp:
            guard let tcp = try? TCPSegment(validating: body) else { return }
            check(tcp.headerLength <= tcp.bytes.count, "TCP header length")
            _ = (tcp.sourcePort, tcp.destinationPort, tcp.sequenceNumber, tcp.acknowledgmentNumber, tcp.flags)
            _ = (tcp.maximumSegmentSize, tcp.windowScale, tcp.isSACKPermitted, tcp.timestamps, tcp.options.isWellFormed)
            for slot in tcp.options { check(slot.offset + slot.length <= tcp.optionBytes.count, "TCP option slot") }
            for i in 0..<tcp.sackBlockCount { _ = tcp.sackBlock(at: i) }
            _ = TCPOption.decode(UnsafeRawBufferPointer(tcp.optionBytes))
            _ = (TCPHeader(tcp), tcp.sequenceLength, tcp.payload.count)
        case .udp:
            guard let udp = try? UDPDatagram(validating: body) else { return }
            check(udp.length == udp.bytes.count, "UDP length")
            _ = (UDPHeader(udp), udp.payload.count)
        case .icmp:
            guard let icmp = try? ICMPv4Message(validating: body) else { return }
            _ = (icmp.type, icmp.code, icmp.nextHopMTU, icmp.isChecksumValid, icmp.identifier, ICMPv4Header(icmp))
            if let inner = try? icmp.quotedPacket() {
                _ = (inner.source, inner.destination, inner.protocol)
                transport(inner.protocol, inner.payload)
            }
        case .icmpv6:
            guard let icmp = try? ICMPv6Message(validating: body) else { return }
            _ = (icmp.type, icmp.code, icmp.mtu, icmp.pointer, ICMPv6Header(icmp))
            if let inner = try? icmp.quotedPacket(), let chain = try? inner.extensionChain(), !chain.isLaterFragment {
                transport(chain.upperLayerProtocol, inner.bytes.suffix(from: chain.upperLayerOffset))
            }
        default:
            break
        }
    }

    static func pcap(_ bytes: [UInt8]) {
        if PcapngReader.isPcapng(bytes) {
            // A pcapng file: its blocks walked by their lengths, every packet
            // on an interface the file described.
            guard let reader = try? PcapngReader(bytes: bytes) else { return }
            for packet in reader.packets.prefix(64) {
                check(packet.interface < reader.interfaces.count, "pcapng interface id")
                _ = PacketSummary.line(for: packet.record.data)
            }
            return
        }
        guard let reader = try? PcapReader(bytes: bytes) else { return }
        _ = (reader.linkType.description, reader.snapshotLength, reader.versionMajor, reader.isBigEndian)
        var iterator = reader.makeIterator()
        var records = 0
        while let record = iterator.next() {
            check(record.data.count <= PcapReader.maximumRecordLength, "pcap record length")
            // What `tunwall pcap` does with each record of a raw-IP capture.
            if records < 64 { _ = PacketSummary.line(for: record.data) }
            records += 1
        }
    }

    static func packet(_ bytes: [UInt8]) {
        _ = PacketSummary.line(for: bytes)
        guard let packet = try? Packet(parsing: bytes) else { return }
        let again = packet.encoded()
        check(again.count == packet.encodedLength, "Packet encoded length")
        check((try? Packet(parsing: again)) == packet, "Packet round trip")
    }

    static func text(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        // A parsed address prints as text that parses back to it (RFC 5952 for IPv6).
        if let address = IPAddress(text) { check(IPAddress(address.description) == address, "IPAddress text round trip") }
        if let address = IPv4Address(text) { check(IPv4Address(address.description) == address, "IPv4Address text round trip") }
        if let address = IPv6Address(text) { check(IPv6Address(address.description) == address, "IPv6Address text round trip") }
        if let prefix = IPPrefix(text) { check(IPPrefix(prefix.description) == prefix, "IPPrefix text round trip") }
        _ = InterfaceAddress(text)?.description
    }
}

// An FTP control connection through the engine, driven segment by segment:
// the client (10.0.1.2 or fd00:1::2 on lan0) talks to the server
// (203.0.113.10 or 2001:db8:1::10 on wan0, port 21), each side numbering its
// bytes as it sent them, with a ruleset that attaches the FTP helper (and,
// per test, masquerade or port forwarding).

@testable import Conntrack
@testable import Engine
import FTP
import Rules
import Testing
import Wire

/// Rulesets for the scenarios.
enum FTPRules {
    static let helperOnly = """
        table inet filter {
            ct helper ftp-standard { type "ftp" protocol tcp; }
            chain pre { type filter hook prerouting priority filter; tcp dport 21 ct helper set "ftp-standard"; }
            chain forward {
                type filter hook forward priority filter; policy drop;
                ct state established,related accept
                iifname "lan0" ct state new accept
            }
        }
        """
    static let masquerade = helperOnly + """

        table inet nat {
            chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
        }
        """
    /// The server 10.0.1.2 (on lan0, as a DMZ) published as 203.0.113.1:21 to the client 203.0.113.10 on wan0.
    static let portForward = """
        table inet filter {
            ct helper ftp-standard { type "ftp" protocol tcp; }
            chain pre { type filter hook prerouting priority filter; tcp dport 21 ct helper set "ftp-standard"; }
            chain forward {
                type filter hook forward priority filter; policy drop;
                ct state established,related accept
                iifname "wan0" tcp dport 21 ct state new accept
            }
        }
        table inet nat {
            chain prerouting {
                type nat hook prerouting priority dstnat;
                iifname "wan0" tcp dport 21 dnat ip to 10.0.1.2
                iifname "wan0" tcp dport 21 dnat ip6 to fd00:1::2
            }
        }
        """
    /// Like helperOnly, without the helper.
    static let noHelper = """
        table inet filter {
            chain forward {
                type filter hook forward priority filter; policy drop;
                ct state established,related accept
                iifname "lan0" ct state new accept
            }
        }
        table inet nat {
            chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
        }
        """
}

final class FTPScenario {
    let h: Harness
    /// The initiator of the control connection and its peer, as each addresses the other.
    let client: IPAddress
    let server: IPAddress
    /// The interfaces the client's and the server's packets arrive on.
    let clientSide: InterfaceID
    let serverSide: InterfaceID
    let clientPort: UInt16 = 40000
    /// Next sequence number of each side, in its own numbering.
    var clientSeq: UInt32 = 1000
    var serverSeq: UInt32 = 5000

    /// `reversed`: the client is on wan0 and the server on lan0 (port forwarding).
    init(_ rules: String, ipv6: Bool = false, reversed: Bool = false, policy: FTPPolicy = .default) throws {
        var configuration = EngineConfiguration(
            interfaces: [
                InterfaceConfiguration(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!, InterfaceAddress("fd00:1::1/64")!]),
                InterfaceConfiguration(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!, InterfaceAddress("2001:db8:1::1/64")!]),
            ],
            conntrackCapacity: 1024)
        configuration.ftp = policy
        h = try Harness(configuration: configuration)
        h.engine.replaceRuleset(try Ruleset.parse(rules, file: "ftp.nft"))
        let lanHost: IPAddress = ipv6 ? .v6(client6) : .v4(client4)
        let wanHost: IPAddress = ipv6 ? .v6(server6) : .v4(server4)
        let publicAddress: IPAddress = ipv6 ? .v6(IPv6Address("2001:db8:1::1")!) : .v4(IPv4Address(203, 0, 113, 1))
        if reversed {
            client = wanHost
            server = publicAddress
            clientSide = h.wan
            serverSide = h.lan
        } else {
            client = lanHost
            server = wanHost
            clientSide = h.lan
            serverSide = h.wan
        }
    }

    /// What the server sees as the client (its own address and port after NAT)
    /// and where the server's packets go: found from the connection's reply tuple.
    var replyTuple: ConnTuple? {
        h.entry(ConnTuple(source: client, destination: server, sourcePort: clientPort, destinationPort: 21, protocol: .tcp))?.reply
    }

    func clientPacket(_ flags: TCPFlags, _ text: String = "", seq: UInt32? = nil) -> Packet {
        clientPacket(flags, Array(text.utf8), seq: seq)
    }

    func clientPacket(_ flags: TCPFlags, _ payload: [UInt8], seq: UInt32? = nil) -> Packet {
        Packet.tcp(client, clientPort, server, 21, flags: flags, sequenceNumber: SeqNumber(seq ?? clientSeq),
                   acknowledgmentNumber: SeqNumber(serverSeq), payload: payload)
    }

    func serverPacket(_ flags: TCPFlags, _ text: String = "", seq: UInt32? = nil) -> Packet {
        serverPacket(flags, Array(text.utf8), seq: seq)
    }

    func serverPacket(_ flags: TCPFlags, _ payload: [UInt8], seq: UInt32? = nil) -> Packet {
        let reply = replyTuple!
        return Packet.tcp(reply.sourceAddress, reply.sourcePort, reply.destinationAddress, reply.destinationPort,
                          flags: flags, sequenceNumber: SeqNumber(seq ?? serverSeq),
                          acknowledgmentNumber: SeqNumber(clientSeq), payload: payload)
    }

    /// The three-way handshake; returns the verdict of the SYN.
    @discardableResult
    func connect() -> Verdict {
        let syn = h.send(clientPacket(.syn), on: clientSide).verdict
        clientSeq += 1
        h.send(serverPacket([.syn, .ack]), on: serverSide)
        serverSeq += 1
        h.send(clientPacket(.ack), on: clientSide)
        return syn
    }

    /// The client sends `text` (one segment); returns the verdict and the packet as it left.
    @discardableResult
    func clientSends(_ text: String) -> (verdict: Verdict, bytes: [UInt8]) {
        let out = h.send(clientPacket([.ack, .psh], text), on: clientSide)
        clientSeq += UInt32(text.utf8.count)
        return out
    }

    @discardableResult
    func serverSends(_ text: String) -> (verdict: Verdict, bytes: [UInt8]) {
        let out = h.send(serverPacket([.ack, .psh], text), on: serverSide)
        serverSeq += UInt32(text.utf8.count)
        return out
    }

    /// The payload of a packet that left, as text.
    static func text(_ bytes: [UInt8]) -> String {
        guard let packet = try? Packet(parsing: bytes) else { return "<unparsable>" }
        return String(decoding: packet.payload, as: UTF8.self)
    }

    static func seq(_ bytes: [UInt8]) -> UInt32? {
        guard let packet = try? Packet(parsing: bytes), case .tcp(let tcp) = packet.transport else { return nil }
        return tcp.sequenceNumber.rawValue
    }

    /// Checksums and lengths are right: re-encoding from the parsed value gives the same bytes.
    static func isWellFormed(_ bytes: [UInt8]) -> Bool {
        guard let packet = try? Packet(parsing: bytes) else { return false }
        return packet.encoded() == bytes
    }

    var expectations: [String] { h.engine.conntrack.expectationListing(now: h.now) }
    var log: [String] { h.engine.takeLog() }
}

extension Packet {
    /// A TCP segment between two addresses of either family.
    static func tcp(_ source: IPAddress, _ sourcePort: UInt16, _ destination: IPAddress, _ destinationPort: UInt16,
                    flags: TCPFlags, sequenceNumber: SeqNumber = SeqNumber(0),
                    acknowledgmentNumber: SeqNumber = SeqNumber(0), payload: [UInt8] = []) -> Packet {
        switch (source, destination) {
        case (.v4(let s), .v4(let d)):
            return .tcp(s, sourcePort, d, destinationPort, flags: flags, sequenceNumber: sequenceNumber,
                        acknowledgmentNumber: acknowledgmentNumber, payload: payload)
        case (.v6(let s), .v6(let d)):
            return .tcp(s, sourcePort, d, destinationPort, flags: flags, sequenceNumber: sequenceNumber,
                        acknowledgmentNumber: acknowledgmentNumber, payload: payload)
        default:
            preconditionFailure("mixed address families")
        }
    }
}

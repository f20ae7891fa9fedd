// Reading and writing the lines that announce data connections: PORT, EPRT
// (both families, any delimiter), 227 scanned from the first digit, 229,
// reply codes, and the argument text a NAT rewrite puts in.

import Conntrack
@testable import FTP
import Testing
import Wire

@Suite struct FTPLineTests {
    func line(_ text: String) -> ArraySlice<UInt8> { Array(text.utf8)[...] }

    func announcement(_ command: FTPCommand) -> FTPAnnouncement? {
        switch command {
        case .port(.success(let a)), .eprt(.success(let a)): return a
        default: return nil
        }
    }

    @Test func port() throws {
        let a = try #require(announcement(FTPLine.command(line("PORT 10,0,1,2,195,80"))))
        #expect(a.kind == .port)
        #expect(a.address == ConnTuple.wide(IPv4Address(10, 0, 1, 2)))
        #expect(a.port == 50000)
        #expect(a.argument == 5..<20)
        #expect(announcement(FTPLine.command(line("port   010,000,001,002,000,255  "))) != nil, "leading zeros, spaces")
        #expect(FTPLine.command(line("PORT 10,0,1,2,256,80")) == .port(.failure(.numberOutOfRange)))
        #expect(FTPLine.command(line("PORT 10,0,1,2,1000,80")) == .port(.failure(.numberOutOfRange)))
        #expect(FTPLine.command(line("PORT 10,0,1,2,195")) == .port(.failure(.malformed)))
        #expect(FTPLine.command(line("PORT 10,0,1,2,195,80,7")) == .port(.failure(.malformed)))
        #expect(FTPLine.command(line("PORT 10,0,1,2,195,80x")) == .port(.failure(.malformed)))
        #expect(FTPLine.command(line("PORT")) == .port(.failure(.malformed)))
        #expect(FTPLine.command(line("PORTS 10,0,1,2,195,80")) == .other)
    }

    @Test func eprt() throws {
        let v4 = try #require(announcement(FTPLine.command(line("EPRT |1|132.235.1.2|6275|"))))
        #expect(v4.family == .ipv4 && v4.port == 6275 && v4.address == ConnTuple.wide(IPv4Address(132, 235, 1, 2)))
        #expect(v4.argument == 5..<25)
        let v6 = try #require(announcement(FTPLine.command(line("eprt #2#1080::8:800:200C:417A#5282#"))))
        #expect(v6.family == .ipv6 && v6.port == 5282 && v6.delimiter == UInt8(ascii: "#"))
        #expect(v6.address == IPv6Address("1080::8:800:200c:417a"))
        for bad in ["EPRT |1|132.235.1.2|6275", "EPRT |3|1.2.3.4|5|", "EPRT |1|1.2.3.4|5|6|", "EPRT  1 1.2.3.4 5 ",
                    "EPRT |1|1.2.3|5|", "EPRT |2|1.2.3.4|5|", "EPRT |1|1.2.3.4||", "EPRT \u{7f}1\u{7f}1.2.3.4\u{7f}5\u{7f}"] {
            if case .eprt(.success) = FTPLine.command(line(bad)) { Issue.record("\(bad) accepted") }
        }
        #expect(FTPLine.command(line("EPRT |1|1.2.3.4|65536|")) == .eprt(.failure(.numberOutOfRange)))
    }

    @Test func otherCommands() {
        #expect(FTPLine.command(line("PASV")) == .pasv)
        #expect(FTPLine.command(line("epsv")) == .epsv)
        #expect(FTPLine.command(line("EPSV 2")) == .epsv)
        #expect(FTPLine.command(line("EPSV all")) == .epsvAll)
        #expect(FTPLine.command(line("AUTH TLS")) == .auth)
        #expect(FTPLine.command(line("ccc")) == .ccc)
        #expect(FTPLine.command(line("RETR PORT 1,2,3,4,5,6")) == .other)
        #expect(FTPLine.command(line("")) == .other)
    }

    @Test func replies() throws {
        #expect(FTPLine.reply(line("200 OK")) == FTPReply(code: 200, isLast: true))
        #expect(FTPLine.reply(line("230-Welcome")) == FTPReply(code: 230, isLast: false))
        #expect(FTPLine.reply(line("226")) == FTPReply(code: 226, isLast: true))
        #expect(FTPLine.reply(line("22 short")) == nil)
        #expect(FTPLine.reply(line("099 low")) == nil)
        #expect(FTPLine.reply(line("2000 long")) == nil)
        let pasv = try FTPLine.passive(line("227 Entering Passive Mode (192,168,1,7,19,137).")).get()
        #expect(pasv.address == ConnTuple.wide(IPv4Address(192, 168, 1, 7)) && pasv.port == 5001)
        // RFC 1123: scan for the first digit; the text around the numbers varies.
        let bare = try FTPLine.passive(line("227 =192,168,1,7,19,137")).get()
        #expect(bare.port == 5001 && bare.argument == 5..<23)
        #expect(FTPLine.passive(line("227 Logout.")) == .failure(.malformed))
        #expect(FTPLine.passive(line("227 (1,2,3,4,5)")) == .failure(.malformed))
        #expect(FTPLine.passive(line("227 (1,2,3,4,5,666)")) == .failure(.numberOutOfRange))
        let epsv = try FTPLine.extendedPassive(line("229 Entering Extended Passive Mode (|||6446|)")).get()
        #expect(epsv.port == 6446 && epsv.address == nil)
        #expect(FTPLine.extendedPassive(line("229 (!!!6446!)")).map(\.port) == .success(6446))
        for bad in ["229 (||6446|)", "229 (|||6446)", "229 (|!|6446|)", "229 |||6446|", "229 (|||99999|)", "229 (||||)"] {
            if case .success = FTPLine.extendedPassive(line(bad)) { Issue.record("\(bad) accepted") }
        }
    }

    @Test func rewrittenArguments() throws {
        let public4 = ConnTuple.wide(IPv4Address(203, 0, 113, 1))
        let port = try #require(announcement(FTPLine.command(line("PORT 10,0,1,2,195,80"))))
        #expect(port.argumentText(address: public4, port: 50001) == "203,0,113,1,195,81")
        let eprt = try #require(announcement(FTPLine.command(line("EPRT !1!10.0.1.2!50000!"))))
        #expect(eprt.argumentText(address: public4, port: 50000) == "!1!203.0.113.1!50000!")
        let eprt6 = try #require(announcement(FTPLine.command(line("EPRT |2|fd00:1:0:0::2|50000|"))))
        #expect(eprt6.argumentText(address: IPv6Address("2001:db8:1:0:0:0:0:1")!, port: 50000) == "|2|2001:db8:1::1|50000|",
                "RFC 5952 text")
        let epsv = try FTPLine.extendedPassive(line("229 (|||6446|)")).get()
        #expect(epsv.argumentText(address: public4, port: 6447) == "|||6447|")
    }

    @Test func couldStart() {
        #expect(FTPLine.couldStart(line("po"), "PORT"))
        #expect(FTPLine.couldStart(line("PORT 1,2"), "PORT"))
        #expect(!FTPLine.couldStart(line("POST"), "PORT"))
        #expect(FTPLine.couldStart(line(""), "227"))
    }
}

// The lab's FTP server and client without root: how they read and write the
// control channel's lines (PORT, 227, EPRT, 229, replies), the server's path
// safety, and both talking to each other over loopback in every mode, plus
// the refusals a firewall test relies on (bounce, low ports, EPSV ALL, login,
// timeouts). The same peers across real namespaces and against curl and
// pyftpdlib: Tests/EndToEndTests/FTPPeerLabTests.swift.

import Dispatch
import Foundation
import Testing
import Wire
@testable import FTPPeers
import TestSeeds
import TestSupport

@Suite struct FTPPeerTextTests {
    func endpoint(_ text: String) -> FTPEndpoint? { FTPEndpoint.parse(text, defaultPort: 21) }

    @Test func endpointsAsTheCommandLineWritesThem() {
        #expect(endpoint("203.0.113.10") == FTPEndpoint(address: IPAddress("203.0.113.10")!, port: 21))
        #expect(endpoint("203.0.113.10:2121")?.port == 2121)
        #expect(endpoint("[2001:db8:1::10]:2121") == FTPEndpoint(address: IPAddress("2001:db8:1::10")!, port: 2121))
        #expect(endpoint("[::]")?.port == 21)
        #expect(endpoint("2001:db8:1::10") == FTPEndpoint(address: IPAddress("2001:db8:1::10")!, port: 21))
        for bad in ["", "server", "server:21", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:+1", "1.2.3.4:0x15",
                    "[::1", "[::1]x", "[1.2.3.4]:21", "[::1]:", "1.2.3.4:21:22"] {
            #expect(endpoint(bad) == nil, "\(bad)")
        }
        #expect(FTPEndpoint(address: IPAddress("203.0.113.10")!, port: 21).description == "203.0.113.10:21")
        #expect(FTPEndpoint(address: IPAddress("fd00:1::2")!, port: 50000).description == "[fd00:1::2]:50000")
    }

    @Test func ipv4MappedAddressesAreIPv4() {
        let mapped = FTPEndpoint(address: IPAddress("::ffff:10.0.1.2")!, port: 50000)
        #expect(mapped.address == IPAddress("10.0.1.2"))
        #expect(mapped.portArgument == "10,0,1,2,195,80")
    }

    @Test func portArguments() {
        let client = FTPEndpoint(address: IPAddress("10.0.1.2")!, port: 50000)
        #expect(client.portArgument == "10,0,1,2,195,80")
        #expect(FTPEndpoint.parsePortArgument("10,0,1,2,195,80") == client)
        #expect(FTPEndpoint.parsePortArgument("010,000,001,002,195,080") == client)
        #expect(FTPEndpoint(address: IPAddress("fd00:1::2")!, port: 1).portArgument == nil)
        for bad in ["", "10,0,1,2,195", "10,0,1,2,195,80,1", "256,0,1,2,195,80", "10,0,1,2,195, 80", "10,0,1,2,195,80 ",
                    "a,b,c,d,e,f", "10,0,1,2,195,0080", "10,0,1,2,195,-1", "10,,1,2,195,80"] {
            #expect(FTPEndpoint.parsePortArgument(bad) == nil, "\(bad)")
        }
    }

    /// RFC 1123 §4.1.2.6: the numbers start at the first digit, parentheses or not.
    @Test func passiveReplies() {
        let server = FTPEndpoint(address: IPAddress("203.0.113.10")!, port: 50000)
        #expect(FTPEndpoint.parsePassiveReply("Entering Passive Mode (203,0,113,10,195,80).") == server)
        #expect(FTPEndpoint.parsePassiveReply("Entering Passive Mode 203,0,113,10,195,80") == server)
        #expect(FTPEndpoint.parsePassiveReply("=203,0,113,10,195,80") == server)
        #expect(FTPEndpoint.parsePassiveReply("Entering Passive Mode") == nil)
        #expect(FTPEndpoint.parsePassiveReply("Entering Passive Mode (1,2,3)") == nil)
        #expect(FTPEndpoint.parsePassiveReply("Entering Passive Mode (300,0,113,10,195,80)") == nil)
    }

    @Test func eprtArguments() {
        let v4 = FTPEndpoint(address: IPAddress("132.235.1.2")!, port: 6275)
        let v6 = FTPEndpoint(address: IPAddress("1080::8:800:200c:417a")!, port: 5282)
        #expect(v4.eprtArgument == "|1|132.235.1.2|6275|")
        #expect(v6.eprtArgument == "|2|1080::8:800:200c:417a|5282|")
        // RFC 2428 §2's own examples, and another delimiter.
        #expect(FTPEndpoint.parseEPRTArgument("|1|132.235.1.2|6275|") == .success(v4))
        #expect(FTPEndpoint.parseEPRTArgument("|2|1080::8:800:200C:417A|5282|") == .success(v6))
        #expect(FTPEndpoint.parseEPRTArgument("!1!132.235.1.2!6275!") == .success(v4))
        #expect(FTPEndpoint.parseEPRTArgument("|3|132.235.1.2|6275|") == .failure(.unsupportedProtocol))
        for bad in ["", "|1|132.235.1.2|6275", "|1|132.235.1.2|6275||", "|1|::1|6275|", "|2|132.235.1.2|6275|",
                    "|1|132.235.1.2|70000|", "|1|132.235.1.2||", "1|132.235.1.2|6275|", " |1|132.235.1.2|6275|",
                    "1132.235.1.216275", "|1|132.235.1.2|-1|"] {
            #expect(FTPEndpoint.parseEPRTArgument(bad) == .failure(.syntax), "\(bad)")
        }
    }

    @Test func extendedPassiveReplies() {
        #expect(FTPEndpoint.parseExtendedPassiveReply("Entering Extended Passive Mode (|||6446|)") == 6446)
        #expect(FTPEndpoint.parseExtendedPassiveReply("Entering Extended Passive Mode (!!!6446!).") == 6446)
        for bad in ["Entering Extended Passive Mode", "(||6446|)", "(|||6446|", "(|||99999|)", "(|||6446!)",
                    "(|1|1.2.3.4|6446|)", "(||||)"] {
            #expect(FTPEndpoint.parseExtendedPassiveReply(bad) == nil, "\(bad)")
        }
    }

    @Test func commandLines() {
        let retr = FTPCommandLine("retr pub/a b.bin")
        #expect(retr.verb == "RETR" && retr.argument == "pub/a b.bin")
        let quit = FTPCommandLine("QUIT")
        #expect(quit.verb == "QUIT" && quit.argument == "")
        let empty = FTPCommandLine("")
        #expect(empty.verb == "" && empty.argument == "")
    }

    /// RFC 959 §4.2: multi-line replies end at "CODE " on a line of its own.
    @Test func replies() throws {
        var assembler = FTPReplyAssembler()
        #expect(try assembler.add("220 ready") == FTPPeerReply(code: 220, lines: ["220 ready"]))
        #expect(try assembler.add("226") == FTPPeerReply(code: 226, lines: ["226"]))
        #expect(try assembler.add("211-Features:") == nil)
        #expect(try assembler.add(" EPSV") == nil)
        #expect(try assembler.add("200 not the end: another code") == nil)
        #expect(try assembler.add("211-still going") == nil)
        let feat = try assembler.add("211 End")
        #expect(feat?.code == 211 && feat?.lines.count == 5 && feat?.text == "End")
        let reply = try #require(try assembler.add("227 Entering Passive Mode (1,2,3,4,5,6)."))
        #expect(reply.text == "Entering Passive Mode (1,2,3,4,5,6).")
        #expect(!reply.isPreliminary && reply.isCompletion)
        #expect(FTPPeerReply(code: 150, lines: []).isPreliminary)
        for bad in ["hello", "22 short", "2200 four digits", "700 no such class", "099 nor this", "220x"] {
            var fresh = FTPReplyAssembler()
            #expect(throws: FTPReplyAssembler.Failure.notAReply(bad)) { try fresh.add(bad) }
        }
    }

    @Test func pwdQuotesQuotes() {
        #expect(quotedPathname("/pub") == "\"/pub\"")
        #expect(quotedPathname("/a \"b\"") == "\"/a \"\"b\"\"\"")
    }

    @Test func locations() throws {
        let url = try FTPLocation.parse("ftp://203.0.113.10/pub/file.bin")
        #expect(url == FTPLocation(server: FTPEndpoint(address: IPAddress("203.0.113.10")!, port: 21), path: "pub/file.bin"))
        let six = try FTPLocation.parse("FTP://[2001:db8:1::10]:2121/pub/a%20b")
        #expect(six.server == FTPEndpoint(address: IPAddress("2001:db8:1::10")!, port: 2121) && six.path == "pub/a b")
        #expect(try FTPLocation.parse("ftp://203.0.113.10").path == "")
        #expect(try FTPLocation.parse("203.0.113.10:2121", path: "pub").path == "pub")
        #expect(try FTPLocation.parse("fd00:1::2").server.port == 21)
        for bad in ["http://203.0.113.10/x", "ftp://user@203.0.113.10/x", "ftp://ftp.example.org/x", "ftp://[::1/x",
                    "ftp://1.2.3.4/a%zz"] {
            #expect(throws: FTPPeerError.self, "\(bad)") { try FTPLocation.parse(bad) }
        }
        #expect(throws: FTPPeerError.self) { try FTPLocation.parse("ftp://1.2.3.4/x", path: "y") }
    }

    @Test func asciiTranslation() {
        var out = ASCIITranslation()
        #expect(out.toNetwork(Array("a\nb\r\nc\n".utf8)) == Array("a\r\nb\r\nc\r\n".utf8))
        var split = ASCIITranslation()
        #expect(split.toNetwork(Array("a\r".utf8)) + split.toNetwork(Array("\nb".utf8)) == Array("a\r\nb".utf8))
        var back = ASCIITranslation()
        let received = back.fromNetwork(Array("a\r".utf8)) + back.fromNetwork(Array("\nb\r".utf8))
            + back.fromNetwork(Array("x\r".utf8)) + back.fromNetwork([], end: true)
        #expect(received == Array("a\nb\rx\r".utf8))
    }

    @Test func listingLines() {
        #expect(FTPListing.mode(S_IFDIR | 0o755) == "drwxr-xr-x")
        #expect(FTPListing.mode(S_IFREG | 0o640) == "-rw-r-----")
        #expect(FTPListing.mode(S_IFLNK | 0o777) == "lrwxrwxrwx")
        let noon: time_t = 1_700_000_000  // 2023-11-14 22:13:20 UTC
        #expect(FTPListing.date(noon, now: noon + 3600) == "Nov 14 22:13")
        #expect(FTPListing.date(noon, now: noon + 365 * 86_400) == "Nov 14  2023")
        var info = stat()
        info.st_mode = S_IFREG | 0o644
        info.st_size = 2_000_000
        info.st_nlink = 1
        info.st_mtim.tv_sec = noon
        #expect(FTPListing.longLine(.init(name: "file.bin", info: info), now: noon)
                == "-rw-r--r--    1 ftp      ftp       2000000 Nov 14 22:13 file.bin")
    }
}

// MARK: - Path safety

@Suite struct FTPRootTests {
    @Test func virtualPathsNeverClimbAboveTheRoot() {
        #expect(FTPRoot.virtualPath("../../etc/passwd", cwd: "/") == "/etc/passwd")
        #expect(FTPRoot.virtualPath("..", cwd: "/pub") == "/")
        #expect(FTPRoot.virtualPath("../..", cwd: "/pub") == "/")
        #expect(FTPRoot.virtualPath("a/./b/../c", cwd: "/pub") == "/pub/a/c")
        #expect(FTPRoot.virtualPath("/x//y/", cwd: "/pub") == "/x/y")
        #expect(FTPRoot.virtualPath("", cwd: "/pub") == "/pub")
        #expect(FTPRoot.virtualPath("/pub/../../../..", cwd: "/") == "/")
        #expect(FTPRoot.virtualPath("...", cwd: "/") == "/...")
    }

    @Test func symbolicLinksOutOfTheTreeLeadNowhere() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-ftproot-\(getpid())")
        try? FileManager.default.removeItem(at: scratch)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let root = scratch.appendingPathComponent("root")
        let outside = scratch.appendingPathComponent("outside")
        for directory in [root.appendingPathComponent("pub"), outside] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        try Data("secret".utf8).write(to: outside.appendingPathComponent("secret"))
        try Data("public".utf8).write(to: root.appendingPathComponent("pub/file"))
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("escape").path, withDestinationPath: outside.path)
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("pub/secret").path,
                                                   withDestinationPath: outside.appendingPathComponent("secret").path)
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("inside").path, withDestinationPath: "pub")

        let tree = try FTPRoot(root.path)
        #expect(tree.existing("/pub/file") != nil)
        #expect(tree.existing("/inside/file") != nil)
        #expect(tree.existing("/") != nil)
        #expect(tree.existing("/escape") == nil)
        #expect(tree.existing("/escape/secret") == nil)
        #expect(tree.existing("/pub/secret") == nil)
        #expect(tree.existing("/missing") == nil)
        #expect(tree.existing("/pub/file\0x") == nil)
        #expect(tree.creatable("/pub/new") == tree.path + "/pub/new")
        #expect(tree.creatable("/new") == tree.path + "/new")
        #expect(tree.creatable("/escape/new") == nil)
        #expect(tree.creatable("/missing/new") == nil)
        #expect(tree.creatable("/") == nil)
        #expect(tree.virtual(tree.path + "/pub/file") == "/pub/file")

        #expect(throws: FTPPeerError.self) { try FTPRoot(scratch.appendingPathComponent("nope").path) }
        #expect(throws: FTPPeerError.self) { try FTPRoot(root.appendingPathComponent("pub/file").path) }
    }
}

// MARK: - Server and client over loopback

/// Log lines collected from the sessions' threads.
final class FTPPeerLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}

/// An FTPServer on a loopback address, port chosen by the kernel, serving a
/// scratch tree: pub/file.bin (random bytes), upload/ (empty).
final class LoopbackFTP {
    let server: FTPServer
    let directory: URL
    let content: [UInt8]
    let log = FTPPeerLog()
    private let finished = DispatchSemaphore(value: 0)

    init(_ address: String = "127.0.0.1", timeout: Double = 5, sessionLimit: Int? = nil, activeFromPort20: Bool = false,
         publicAddress: IPAddress? = nil, name: String = #function) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tunwall-ftppeer-\(getpid())-\(name.prefix { $0.isLetter || $0.isNumber })-\(address.filter(\.isNumber))")
        try? FileManager.default.removeItem(at: directory)
        for sub in ["root/pub", "root/upload"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        var random = SeededGenerator(seed: testSeed(0x6674_7070, name))
        content = random.bytes(300_000)
        try Data(content).write(to: directory.appendingPathComponent("root/pub/file.bin"))
        let log = self.log
        server = try FTPServer(FTPServerConfiguration(
            listen: FTPEndpoint(address: IPAddress(address)!, port: 0), root: directory.appendingPathComponent("root").path,
            publicAddress: publicAddress, activeFromPort20: activeFromPort20, sessionLimit: sessionLimit, timeout: timeout,
            log: .handler { log.append($0) }))
        let (server, finished) = (self.server, self.finished)
        Thread {
            server.run()
            finished.signal()
        }.start()
    }

    /// Stops accepting and waits (5 s at most) for run() to return.
    @discardableResult
    func stop() -> Bool {
        server.stop()
        defer { try? FileManager.default.removeItem(at: directory) }
        return finished.wait(timeout: .now() + 5) == .success
    }

    /// Waits for run() to return by itself (a session limit).
    func waitForEnd(seconds: Double = 5) -> Bool {
        finished.wait(timeout: .now() + seconds) == .success
    }

    func client(_ mode: FTPDataMode, timeout: Double = 5) -> FTPClient {
        FTPClient(server: server.endpoint, mode: mode, timeout: timeout)
    }

    var upload: URL { directory.appendingPathComponent("root/upload") }
}

/// A control connection typed by hand, for what our client would never send.
final class RawFTPControl {
    let socket: FTPSocket
    let reader: FTPLineReader
    private var assembler = FTPReplyAssembler()

    init(_ endpoint: FTPEndpoint, login: Bool = true) throws {
        socket = try FTPSocket.connect(to: endpoint, timeout: 5)
        reader = FTPLineReader(socket)
        let greeting = try reply()
        guard greeting.code == 220 else { throw FTPIOError("greeting \(greeting)") }
        if login {
            _ = try command("USER anonymous")
            _ = try command("PASS guest@")
        }
    }

    func reply() throws -> FTPPeerReply {
        while true {
            guard let line = try reader.readLine(timeout: 5) else { throw FTPIOError("closed") }
            if let reply = try assembler.add(line) { return reply }
        }
    }

    func command(_ line: String) throws -> FTPPeerReply {
        try reader.send(line, timeout: 5)
        return try reply()
    }

    /// The reply's code and first line.
    func code(_ line: String) throws -> Int { try command(line).code }
}

let loopbackIPv6 = (try? FTPSocket.listen(on: FTPEndpoint(address: .v6(.loopback), port: 0))) != nil

@Suite(.serialized, .timeLimit(.minutes(5))) struct FTPPeerLoopbackTests {
    @Test(arguments: FTPDataMode.allCases)
    func getPutAndListOverIPv4(mode: FTPDataMode) throws {
        let ftp = try LoopbackFTP(name: "v4\(mode)")
        defer { #expect(ftp.stop(), "run() returns after stop()") }
        let client = ftp.client(mode)

        let got = try client.transfer(.get(remote: "pub/file.bin", localFile: nil))
        #expect(got.data == ftp.content)
        #expect(got.byteCount == ftp.content.count)
        #expect(got.finalReply.code == 226)
        #expect(got.transcript.first?.hasPrefix("<- 220 ") == true)
        #expect(got.transcript.contains("-> TYPE I"))
        #expect(got.transcript.contains { $0.hasPrefix("-> \(mode.command)") })
        #expect(got.transcript.last == "<- 221 Goodbye.")
        #expect(got.dataRemote.address == IPAddress("127.0.0.1"))

        let file = ftp.directory.appendingPathComponent("download.bin")
        _ = try client.transfer(.get(remote: "/pub/file.bin", localFile: file.path))
        #expect(try [UInt8](Data(contentsOf: file)) == ftp.content)

        let upload = Array(ftp.content.reversed())
        let put = try client.transfer(.putBytes(remote: "upload/\(mode).bin", bytes: upload))
        #expect(put.byteCount == upload.count)
        #expect(try [UInt8](Data(contentsOf: ftp.upload.appendingPathComponent("\(mode).bin"))) == upload)
        _ = try client.transfer(.put(remote: "upload/copy.bin", localFile: file.path))
        #expect(try [UInt8](Data(contentsOf: ftp.upload.appendingPathComponent("copy.bin"))) == ftp.content)

        let list = String(decoding: try client.transfer(.list(remote: "pub", namesOnly: false)).data, as: UTF8.self)
        #expect(list.hasPrefix("-rw-r--r--    1 ftp      ftp        300000 "), "\(list)")
        #expect(list.hasSuffix(" file.bin\r\n"))
        #expect(try client.transfer(.list(remote: "upload", namesOnly: true)).data == Array("\(mode).bin\r\ncopy.bin\r\n".utf8)
                || String(decoding: try client.transfer(.list(remote: "upload", namesOnly: true)).data, as: UTF8.self)
                == "copy.bin\r\n\(mode).bin\r\n")
        #expect(try client.transfer(.list(remote: nil, namesOnly: true)).data == Array("pub\r\nupload\r\n".utf8))

        // The log: one line per command and reply, and where each data connection went.
        let log = ftp.log.all
        #expect(log.first?.hasPrefix("listening on 127.0.0.1:") == true)
        #expect(log.contains { $0.hasSuffix("] <- RETR pub/file.bin") })
        #expect(log.contains { $0.hasSuffix("] -> 226 Transfer complete.") })
        #expect(log.contains { $0.contains("] <- PASS <hidden>") })
        #expect(log.contains { $0.contains("data connection from") && $0.hasSuffix(mode.isActive ? "(active)" : "(passive)") })
    }

    @Test(.enabled(if: loopbackIPv6, "no IPv6 loopback"), arguments: [FTPDataMode.epsv, .eprt])
    func getAndPutOverIPv6(mode: FTPDataMode) throws {
        let ftp = try LoopbackFTP("::1", name: "v6\(mode)")
        defer { ftp.stop() }
        let got = try ftp.client(mode).transfer(.get(remote: "pub/file.bin", localFile: nil))
        #expect(got.data == ftp.content)
        #expect(got.dataRemote.address == IPAddress("::1"))
        #expect(got.transcript.contains { $0.hasPrefix(mode == .eprt ? "-> EPRT |2|::1|" : "<- 229 Entering Extended Passive Mode (|||") })
        _ = try ftp.client(mode).transfer(.putBytes(remote: "upload/six", bytes: [1, 2, 3]))
        #expect(try Data(contentsOf: ftp.upload.appendingPathComponent("six")) == Data([1, 2, 3]))
    }

    /// PASV and PORT name IPv4 addresses: over IPv6 the client says so before connecting.
    @Test func pasvAndPortAreRefusedOverIPv6() {
        for mode in [FTPDataMode.passive, .active] {
            let client = FTPClient(server: FTPEndpoint(address: .v6(.loopback), port: 21), mode: mode, timeout: 1)
            #expect {
                try client.transfer(.get(remote: "x", localFile: nil))
            } throws: { error in
                let failure = error as? FTPClientError
                return failure?.message == "\(mode.command) cannot work over IPv6 (it names an IPv4 address); use \(mode == .passive ? "epsv" : "eprt")"
                    && failure?.transcript.isEmpty == true
            }
        }
    }

    /// A 227 naming another address is followed: nothing papers over a firewall that forgets to rewrite it.
    @Test func publicAddressIsWhatPASVAnnounces() throws {
        let ftp = try LoopbackFTP(timeout: 2, publicAddress: IPAddress("127.0.0.2"))
        defer { ftp.stop() }
        let control = try RawFTPControl(ftp.server.endpoint)
        let reply = try control.command("PASV")
        #expect(reply.code == 227)
        #expect(FTPEndpoint.parsePassiveReply(reply.text)?.address == IPAddress("127.0.0.2"))
    }

    @Test func failuresAreOneLineWithTheTranscript() throws {
        let ftp = try LoopbackFTP()
        defer { ftp.stop() }
        #expect {
            try ftp.client(.epsv).transfer(.get(remote: "pub/nothing", localFile: nil))
        } throws: { error in
            let failure = error as? FTPClientError
            return failure?.message == "RETR pub/nothing: 550 Failed to open file."
                && failure?.transcript.suffix(2) == ["-> RETR pub/nothing", "<- 550 Failed to open file."]
        }
        #expect {
            try ftp.client(.epsv).transfer(.get(remote: "../../etc/passwd", localFile: nil))
        } throws: { error in
            (error as? FTPClientError)?.message == "RETR ../../etc/passwd: 550 Failed to open file."
        }
        #expect {
            try ftp.client(.epsv).transfer(.get(remote: "pub\r\nDELE x", localFile: nil))
        } throws: { error in
            (error as? FTPClientError)?.message.hasPrefix("a path with CR or LF would end the command early") == true
        }
        #expect {
            try ftp.client(.epsv).transfer(.put(remote: "upload/x", localFile: "/nonexistent/file"))
        } throws: { error in
            (error as? FTPClientError)?.message == "/nonexistent/file: No such file or directory"
        }
        var other = ftp.client(.epsv)
        other.user = "root"
        #expect {
            try other.transfer(.list(remote: nil, namesOnly: false))
        } throws: { error in
            (error as? FTPClientError)?.message == "USER root: 530 This FTP server is anonymous only."
        }
        // Nobody listens on the port: connection refused, said in one line.
        let closed = try FTPSocket.listen(on: FTPEndpoint(address: IPAddress("127.0.0.1")!, port: 0))
        let port = closed.localEndpoint!.port
        closed.close()
        #expect {
            try FTPClient(server: FTPEndpoint(address: IPAddress("127.0.0.1")!, port: port), mode: .epsv, timeout: 1)
                .transfer(.list(remote: nil, namesOnly: false))
        } throws: { error in
            (error as? FTPClientError)?.message == "connect to 127.0.0.1:\(port): Connection refused"
        }
    }

    /// RFC 2577 §3: PORT and EPRT only to the control connection's client, and not to privileged ports.
    @Test func bounceAndLowPortsAreRefused() throws {
        let ftp = try LoopbackFTP()
        defer { ftp.stop() }
        let control = try RawFTPControl(ftp.server.endpoint)
        #expect(try control.code("PORT 127,0,0,2,195,80") == 500)
        #expect(try control.code("PORT 127,0,0,1,0,80") == 500)
        #expect(try control.code("EPRT |1|127.0.0.2|50000|") == 500)
        #expect(try control.code("EPRT |1|127.0.0.1|21|") == 500)
        #expect(try control.code("EPRT |2|::1|50000|") == 500)
        #expect(try control.code("EPRT |9|127.0.0.1|50000|") == 522)
        #expect(try control.code("EPRT 127.0.0.1 50000") == 501)
        #expect(try control.code("PORT 127,0,0,1") == 501)
        #expect(try control.code("RETR pub/file.bin") == 425)  // nothing was set up
        #expect(try control.code("PORT 127,0,0,1,195,80") == 200)
        #expect(try control.code("EPRT |1|127.0.0.1|50000|") == 200)
        let log = ftp.log.all
        #expect(log.contains { $0.hasSuffix("refused PORT to 127.0.0.2:50000: not the control connection's client 127.0.0.1") })
        #expect(log.contains { $0.hasSuffix("refused PORT to 127.0.0.1:80: port below 1024") })
    }

    /// RFC 2428 §4: after EPSV ALL, only EPSV.
    @Test func epsvAllRefusesTheOthers() throws {
        let ftp = try LoopbackFTP()
        defer { ftp.stop() }
        let control = try RawFTPControl(ftp.server.endpoint)
        #expect(try control.code("EPSV 2") == 522)
        #expect(try control.code("EPSV x") == 501)
        #expect(try control.code("EPSV ALL") == 200)
        #expect(try control.code("PASV") == 501)
        #expect(try control.code("PORT 127,0,0,1,195,80") == 501)
        #expect(try control.code("EPRT |1|127.0.0.1|50000|") == 501)
        let reply = try control.command("EPSV 1")
        #expect(reply.code == 229 && FTPEndpoint.parseExtendedPassiveReply(reply.text) != nil)
    }

    @Test func theRestOfTheDialogue() throws {
        let ftp = try LoopbackFTP()
        defer { ftp.stop() }
        let control = try RawFTPControl(ftp.server.endpoint, login: false)
        #expect(try control.code("PWD") == 530)
        #expect(try control.code("PASS x") == 503)
        #expect(try control.code("SYST") == 215)
        let feat = try control.command("FEAT")
        #expect(feat.lines == ["211-Features:", " EPRT", " EPSV", " PASV", " SIZE", "211 End"])
        #expect(try control.code("user ANONYMOUS") == 331)
        #expect(try control.code("pass x") == 230)
        #expect(try control.command("PWD").lines == ["257 \"/\" is the current directory"])
        #expect(try control.code("CWD pub") == 250)
        #expect(try control.command("PWD").lines == ["257 \"/pub\" is the current directory"])
        #expect(try control.code("CWD ../../..") == 250)
        #expect(try control.command("PWD").lines == ["257 \"/\" is the current directory"])
        #expect(try control.code("CWD nowhere") == 550)
        #expect(try control.code("CWD pub/file.bin") == 550)
        #expect(try control.command("SIZE pub/file.bin").lines == ["213 300000"])
        #expect(try control.code("SIZE pub") == 550)
        #expect(try control.code("TYPE A") == 200)
        #expect(try control.code("TYPE L 8") == 200)
        #expect(try control.code("TYPE E") == 504)
        #expect(try control.code("MODE S") == 200)
        #expect(try control.code("MODE B") == 504)
        #expect(try control.code("STRU F") == 200)
        #expect(try control.code("NOOP") == 200)
        #expect(try control.code("DELE pub/file.bin") == 502)
        #expect(try control.code("FROB") == 500)
        #expect(try control.code("QUIT") == 221)
        #expect(try control.reader.readLine(timeout: 2) == nil, "the server closes after QUIT")
    }

    /// TYPE A: LF lines go out as CRLF (RFC 959 §3.1.1.1) and come back as LF.
    @Test func asciiTransfers() throws {
        let ftp = try LoopbackFTP()
        defer { ftp.stop() }
        try Data("one\ntwo\n".utf8).write(to: ftp.directory.appendingPathComponent("root/pub/text"))
        let control = try RawFTPControl(ftp.server.endpoint)
        #expect(try control.code("TYPE A") == 200)
        let reply = try control.command("EPSV")
        let port = try #require(FTPEndpoint.parseExtendedPassiveReply(reply.text))
        let data = try FTPSocket.connect(to: FTPEndpoint(address: IPAddress("127.0.0.1")!, port: port), timeout: 5)
        #expect(try control.code("RETR pub/text") == 125)
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 100)
        while case let n = try data.receive(into: &chunk, timeout: 5), n > 0 { received += chunk[..<n] }
        #expect(received == Array("one\r\ntwo\r\n".utf8))
        #expect(try control.code("NOOP") == 226)
        #expect(try control.code("NOOP") == 200)
    }

    /// A line without end is not buffered without end: 500, and the session closes.
    @Test func endlessLinesAreRefused() throws {
        let ftp = try LoopbackFTP()
        defer { ftp.stop() }
        let control = try RawFTPControl(ftp.server.endpoint, login: false)
        try control.socket.send([UInt8](repeating: UInt8(ascii: "A"), count: FTPLineReader.maximumLineLength + 100), timeout: 5)
        #expect(try control.reply().lines == ["500 Command line too long."])
        #expect(try control.reader.readLine(timeout: 2) == nil)
    }

    /// A silent client gets "421 Timeout." and the connection closes.
    @Test func idleSessionsTimeOut() throws {
        let ftp = try LoopbackFTP(timeout: 0.3)
        defer { ftp.stop() }
        let control = try RawFTPControl(ftp.server.endpoint, login: false)
        #expect(try control.reply().lines == ["421 Timeout."])
        #expect(try control.reader.readLine(timeout: 2) == nil)
    }

    /// A data connection that never comes: 425 after the 150, within the timeout.
    @Test func aMissingDataConnectionIs425() throws {
        let ftp = try LoopbackFTP(timeout: 0.5)
        defer { ftp.stop() }
        let control = try RawFTPControl(ftp.server.endpoint)
        #expect(try control.code("PASV") == 227)
        #expect(try control.code("RETR pub/file.bin") == 150)
        #expect(try control.code("NOOP") == 425)
    }

    /// Our client against a scripted server: a 425 after the 150 (the
    /// server could not connect) ends the transfer with that reply, at once.
    @Test func theClientReportsA425AfterA150() throws {
        let script = try ScriptedFTPServer(["220-Welcome\r\n220 ready", "331 pw", "230 in", "200 type", "200 port",
                                            "150 opening\r\n425 Failed to establish connection."])
        let started = Date()
        #expect {
            try FTPClient(server: script.endpoint, mode: .active, timeout: 5).transfer(.get(remote: "x", localFile: nil))
        } throws: { error in
            let failure = error as? FTPClientError
            return failure?.message == "RETR x: 425 Failed to establish connection."
                && failure?.transcript.prefix(2) == ["<- 220-Welcome", "<- 220 ready"]
        }
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(script.received.prefix(5).map { $0.prefix(4) } == ["USER", "PASS", "TYPE", "PORT", "RETR"])
    }

    /// The server's 226 overtakes its data connection (two connections' packets
    /// keep no order through a firewall with several workers): the client
    /// waits for the connection the completion promises and gets the data.
    @Test func aCompletionBeforeTheDataConnectionStillDelivers() throws {
        let script = try ScriptedFTPServer(["220 ready", "230 in", "200 type", "200 port", "150 opening\r\n226 done"],
                                           lateData: (delay: 0.3, bytes: Array("late but whole".utf8)))
        let started = Date()
        let result = try FTPClient(server: script.endpoint, mode: .active, timeout: 5).transfer(.get(remote: "x", localFile: nil))
        #expect(result.data == Array("late but whole".utf8))
        #expect(Date().timeIntervalSince(started) < 3)
    }

    @Test func theClientRefusesA227WithoutAnAddress() throws {
        let script = try ScriptedFTPServer(["220 ready", "230 no password needed", "200 type", "227 Entering Passive Mode"])
        #expect {
            try FTPClient(server: script.endpoint, mode: .passive, timeout: 5).transfer(.get(remote: "x", localFile: nil))
        } throws: { error in
            (error as? FTPClientError)?.message == "PASV: no address and port in the reply: 227 Entering Passive Mode"
        }
        #expect(script.received.prefix(3) == ["USER anonymous", "TYPE I", "PASV"])
    }

    @Test func aSessionLimitEndsTheServer() throws {
        let ftp = try LoopbackFTP(sessionLimit: 2)
        defer { try? FileManager.default.removeItem(at: ftp.directory) }
        for _ in 0..<2 { _ = try ftp.client(.passive).transfer(.list(remote: nil, namesOnly: true)) }
        #expect(ftp.waitForEnd(), "run() returns after two sessions")
        #expect(ftp.log.all.last == "stopped after 2 sessions")
    }

    /// Active data from port 20 needs CAP_NET_BIND_SERVICE.
    @Test(.tags(.lab), .enabled(if: isRoot, "binding port 20 needs root"))
    func activeDataFromPort20() throws {
        let ftp = try LoopbackFTP(activeFromPort20: true)
        defer { ftp.stop() }
        for mode in [FTPDataMode.active, .eprt] {
            let got = try ftp.client(mode).transfer(.get(remote: "pub/file.bin", localFile: nil))
            #expect(got.data == ftp.content)
            #expect(got.dataRemote == FTPEndpoint(address: IPAddress("127.0.0.1")!, port: 20))
        }
    }

    @Test func badConfigurationsAreRefused() throws {
        let endpoint = FTPEndpoint(address: IPAddress("127.0.0.1")!, port: 0)
        #expect(throws: FTPPeerError("/nonexistent/root: No such file or directory")) {
            try FTPServer(FTPServerConfiguration(listen: endpoint, root: "/nonexistent/root"))
        }
        #expect(throws: FTPPeerError.self) {
            try FTPServer(FTPServerConfiguration(listen: FTPEndpoint(address: IPAddress("192.0.2.1")!, port: 0), root: "/tmp"))
        }
        #expect(throws: FTPPeerError("the session limit must be at least 1")) {
            try FTPServer(FTPServerConfiguration(listen: endpoint, root: "/tmp", sessionLimit: 0))
        }
    }
}

/// A server that answers each command line with the next reply of its
/// script (the first is the greeting), then closes; it records what it got.
final class ScriptedFTPServer: @unchecked Sendable {
    let endpoint: FTPEndpoint
    private let lock = NSLock()
    private var lines: [String] = []

    /// `lateData`: after the last reply, connect to the client's PORT
    /// address that much later and send those bytes (a data connection
    /// overtaken by the 226).
    init(_ replies: [String], lateData: (delay: Double, bytes: [UInt8])? = nil) throws {
        let listener = try FTPSocket.listen(on: FTPEndpoint(address: IPAddress("127.0.0.1")!, port: 0))
        endpoint = listener.localEndpoint!
        let fd = listener.detach()
        Thread { [self] in
            let listener = FTPSocket.adopt(fd)
            guard let control = try? listener.accept(timeout: 5, what: "client") else { return }
            let reader = FTPLineReader(control)
            for (index, reply) in replies.enumerated() {
                if index > 0 {
                    guard let line = try? reader.readLine(timeout: 5) else { return }
                    lock.lock()
                    lines.append(line)
                    lock.unlock()
                }
                guard (try? reader.send(reply, timeout: 5)) != nil else { return }
            }
            if let lateData, let port = received.last(where: { $0.hasPrefix("PORT ") }),
               let target = FTPEndpoint.parsePortArgument(String(port.dropFirst(5))) {
                Thread.sleep(forTimeInterval: lateData.delay)
                if let data = try? FTPSocket.connect(to: target, timeout: 5) {
                    _ = try? data.send(lateData.bytes, timeout: 5)
                    data.close()
                }
            }
            _ = try? reader.readLine(timeout: 2)
        }.start()
    }

    var received: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}

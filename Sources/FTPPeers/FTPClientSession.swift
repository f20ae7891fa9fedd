// One FTPClient session: log in, set the type, set up the data connection,
// one transfer, QUIT. Every reply is checked against what RFC 959 §5.4 lets
// the command answer; anything else ends the session with a one-line error
// that names the command and quotes the reply.
//
// The order of things on the data connection follows common clients: in
// passive modes we connect right after 227/229, before the transfer command
// (as curl, lftp and ftplib do; the server may then answer 125 instead of
// 150). In active modes the server may connect before or after its 150, and
// may fail with 425 after the 150, so we wait for both at once.

#if canImport(Glibc)
import Glibc
#endif
import SystemIO

final class FTPClientSession {
    let client: FTPClient
    private(set) var transcript: [String] = []
    private var reader: FTPLineReader?
    private var assembler = FTPReplyAssembler()

    init(client: FTPClient) {
        self.client = client
    }

    private var timeout: Double { client.timeout }

    private func record(_ line: String) {
        transcript.append(line)
        client.onTranscriptLine?(line)
    }

    func run(_ operation: FTPClientOperation) throws(FTPIOError) -> FTPTransferResult {
        let (verb, remote, binary) = Self.command(operation)
        if let remote, remote.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) {
            throw FTPIOError("a path with CR or LF would end the command early: \(remote.debugDescription)")
        }
        if client.server.address.isV6 && !(client.mode == .epsv || client.mode == .eprt) {
            throw FTPIOError("\(client.mode.command) cannot work over IPv6 (it names an IPv4 address); use "
                             + (client.mode.isActive ? "eprt" : "epsv"))
        }
        // A file to send is opened before anything is said: a missing one is our error, not the server's.
        var upload: Int32 = -1
        if case .put(_, let file) = operation {
            upload = open(file, O_RDONLY | O_CLOEXEC)
            guard upload >= 0 else { throw FTPIOError.system(file, errno) }
        }
        defer { if upload >= 0 { close(upload) } }

        let control = try FTPSocket.connect(to: client.server, timeout: timeout)
        defer { control.close() }
        let reader = FTPLineReader(control)
        self.reader = reader

        var greeting = try readReply(after: "connecting")
        if greeting.code == 120 { greeting = try readReply(after: "connecting") }  // "Service ready in nnn minutes"
        guard greeting.code == 220 else { throw refused("the server's greeting", greeting) }
        try logIn()
        try expect(send(binary ? "TYPE I" : "TYPE A"), [200])

        guard let local = control.localEndpoint, let peer = control.peerEndpoint else {
            throw FTPIOError("cannot read the control connection's addresses")
        }
        var listener: FTPSocket?
        var data: FTPSocket?
        switch client.mode {
        case .passive:
            let reply = try expect(send("PASV"), [227])
            guard let target = FTPEndpoint.parsePassiveReply(reply.text) else {
                throw FTPIOError("PASV: no address and port in the reply: \(reply)")
            }
            data = try connectData(to: target)
        case .epsv:
            let reply = try expect(send("EPSV"), [229])
            guard let port = FTPEndpoint.parseExtendedPassiveReply(reply.text) else {
                throw FTPIOError("EPSV: no port in the reply: \(reply)")
            }
            data = try connectData(to: FTPEndpoint(address: peer.address, port: port))
        case .active, .eprt:
            // On our end of the control connection: the address the server
            // (or a firewall's helper on the way) can route back to.
            let socket = try FTPSocket.listen(on: FTPEndpoint(address: local.address, port: 0), backlog: 1)
            guard let mine = socket.localEndpoint else { throw FTPIOError("cannot read the data listener's address") }
            listener = socket
            let argument = client.mode == .active ? "PORT " + (mine.portArgument ?? "") : "EPRT " + mine.eprtArgument
            try expect(send(argument), [200])
        }

        let command = remote.map { "\(verb) \($0)" } ?? verb
        try send(command)
        var finalReply: FTPPeerReply?
        if let listener {
            (data, finalReply) = try awaitServerConnection(listener, after: command)
        } else {
            let reply = try readReply(after: command)
            guard reply.isPreliminary else { throw refused(command, reply) }
        }
        guard let data, let dataLocal = data.localEndpoint, let dataRemote = data.peerEndpoint else {
            throw FTPIOError("the data connection closed at once")
        }
        listener?.close()

        var received: [UInt8] = []
        var count = 0
        do {
            switch operation {
            case .get(_, let file?):
                count = try receive(from: data, toFile: file)
            case .get(_, nil), .list:
                count = try receive(from: data, into: &received)
            case .put:
                count = try sendFile(upload, over: data)
            case .putBytes(_, let bytes):
                try data.send(bytes, timeout: timeout)
                count = bytes.count
                data.shutdownWrite()
            }
        } catch {
            throw FTPIOError("\(command): data connection \(dataRemote): \(error)", timedOut: error.timedOut)
        }
        data.close()

        let final: FTPPeerReply
        if let finalReply { final = finalReply } else { final = try readReply(after: command) }
        guard final.isCompletion else { throw refused(command, final) }
        // The transfer is done; a server that leaves without answering QUIT changes nothing.
        if (try? send("QUIT")) != nil { _ = try? readReply(after: "QUIT") }
        return FTPTransferResult(transcript: transcript, byteCount: count, data: received, dataLocal: dataLocal,
                                 dataRemote: dataRemote, finalReply: final)
    }

    /// The command's verb, its argument, and whether it goes in TYPE I.
    static func command(_ operation: FTPClientOperation) -> (verb: String, remote: String?, binary: Bool) {
        switch operation {
        case .get(let remote, _): ("RETR", remote, true)
        case .put(let remote, _), .putBytes(let remote, _): ("STOR", remote, true)
        case .list(let remote, let namesOnly): (namesOnly ? "NLST" : "LIST", remote.flatMap { $0.isEmpty ? nil : $0 }, false)
        }
    }

    // MARK: - The control connection

    /// Sends a command line; returns it as messages name it (a password hidden).
    @discardableResult
    private func send(_ line: String) throws(FTPIOError) -> String {
        let shown = line.hasPrefix("PASS ") ? "PASS <hidden>" : line
        record("-> " + shown)
        try reader!.send(line, timeout: timeout)
        return shown
    }

    /// Reads the reply to `command` and checks its code.
    @discardableResult
    private func expect(_ command: String, _ codes: [Int]) throws(FTPIOError) -> FTPPeerReply {
        let reply = try readReply(after: command)
        guard codes.contains(reply.code) else { throw refused(command, reply) }
        return reply
    }

    private func logIn() throws(FTPIOError) {
        let reply = try readReply(after: send("USER \(client.user)"))
        switch reply.code {
        case 230: return  // no password needed
        case 331, 332: try expect(send("PASS \(client.password)"), [230, 202])
        default: throw refused("USER \(client.user)", reply)
        }
    }

    /// The next whole reply, each line within the timeout.
    private func readReply(after command: String) throws(FTPIOError) -> FTPPeerReply {
        while true {
            let line: String?
            do {
                line = try reader!.readLine(timeout: timeout)
            } catch where error.timedOut {
                throw FTPIOError("no reply to \(command) within \(seconds(timeout))", timedOut: true)
            }
            guard let line else { throw FTPIOError("the server closed the control connection (after \(command))") }
            record("<- " + line)
            do {
                if let reply = try assembler.add(line) { return reply }
            } catch {
                throw FTPIOError("not an FTP reply: \(line.debugDescription)")
            }
        }
    }

    private func refused(_ command: String, _ reply: FTPPeerReply) -> FTPIOError {
        FTPIOError("\(command): \(reply)")
    }

    // MARK: - The data connection

    private func connectData(to target: FTPEndpoint) throws(FTPIOError) -> FTPSocket {
        do {
            return try FTPSocket.connect(to: target, timeout: timeout)
        } catch {
            throw FTPIOError("data connection: \(error)", timedOut: error.timedOut)
        }
    }

    /// Active modes: waits for the server's connection and its 1xx, in
    /// whichever order they come. A final reply before the connection is a
    /// refusal (425 after 150 included), unless it is a completion (226)
    /// and the connection is waiting or arrives within two seconds: an empty
    /// file may be announced, sent and finished at once, and packets of two
    /// connections keep no order between them (a firewall's several workers,
    /// the kernel's RPS), so the 226 may overtake the data connection's
    /// handshake. curl fails there ("Ctrl conn has data while waiting for
    /// data conn"); the server has said the data went out, so we wait for it.
    private func awaitServerConnection(_ listener: FTPSocket, after command: String) throws(FTPIOError)
        -> (FTPSocket, FTPPeerReply?) {
        let deadline = Deadline(after: timeout)
        var connection: FTPSocket?
        var preliminary: FTPPeerReply?
        while connection == nil || preliminary == nil {
            if connection == nil && listener.hasPendingConnection {
                connection = try listener.accept(timeout: timeout, what: "data connection")
                continue
            }
            if !reader!.hasLine {
                var descriptors = [(reader!.socket.fd, readable)]
                if connection == nil { descriptors.append((listener.fd, readable)) }
                let ready = pollReady(descriptors, until: deadline)
                if ready.isEmpty {
                    let missing = connection == nil ? "no data connection from the server" : "no reply to \(command)"
                    throw FTPIOError("\(missing) within \(seconds(timeout))", timedOut: true)
                }
                if !ready.contains(0) { continue }
            }
            let reply = try readReply(after: command)
            if preliminary == nil && reply.isPreliminary {
                preliminary = reply
                continue
            }
            if reply.isCompletion, preliminary != nil {
                if connection == nil, !pollReady([(listener.fd, readable)], until: Deadline(after: min(timeout, 2))).isEmpty {
                    connection = try listener.accept(timeout: timeout, what: "data connection")
                }
                if let connection { return (connection, reply) }
            }
            throw refused(command, reply)
        }
        return (connection!, nil)
    }

    private func receive(from data: FTPSocket, into bytes: inout [UInt8]) throws(FTPIOError) -> Int {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try data.receive(into: &chunk, timeout: timeout)
            if n == 0 { return bytes.count }
            bytes.append(contentsOf: chunk[..<n])
        }
    }

    private func receive(from data: FTPSocket, toFile path: String) throws(FTPIOError) -> Int {
        let file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw FTPIOError.system(path, errno) }
        defer { close(file) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var count = 0
        while true {
            let n = try data.receive(into: &chunk, timeout: timeout)
            if n == 0 { return count }
            do {
                try FileIO.writeAll(file, chunk[..<n], name: path)
            } catch {
                throw FTPIOError.system(path, error.errno)
            }
            count += n
        }
    }

    private func sendFile(_ file: Int32, over data: FTPSocket) throws(FTPIOError) -> Int {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var count = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw FTPIOError.system("read", errno) }
            if n == 0 { break }
            try data.send(chunk[..<n], timeout: timeout)
            count += n
        }
        data.shutdownWrite()
        return count
    }
}

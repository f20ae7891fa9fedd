// FTPServer: a small FTP server for the lab (`tunwall ftp serve`), so that a
// demonstration of the FTP helper needs nothing but this binary and iproute2.
// RFC 959's minimum implementation (§5.1) and what the helper cares about:
// PASV, PORT, and RFC 2428's EPSV and EPRT over IPv4 and IPv6, anonymous
// login, files under one root. Each accepted connection is a session on a
// thread of its own (FTPServerSession.swift); every command and reply is
// logged, one line each, so a demo can show what crossed the firewall.
//
//   let server = try FTPServer(FTPServerConfiguration(
//       listen: FTPEndpoint(address: IPAddress("203.0.113.10")!, port: 21), root: "/srv/ftp"))
//   server.run()   // until server.stop(), or sessionLimit sessions have ended

import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SystemIO
import Wire

/// Where the server's log lines go.
public enum FTPServerLog: Sendable {
    case standardError
    /// Appended to this file (created if missing).
    case file(String)
    /// Handed to a function, one line at a time, from the sessions' threads.
    case handler(@Sendable (String) -> Void)
}

public struct FTPServerConfiguration: Sendable {
    /// Where to listen. Port 0 lets the kernel choose (see `FTPServer.endpoint`);
    /// `::` takes IPv4 too.
    public var listen: FTPEndpoint
    /// The directory served; clients see it as "/" and nothing outside it.
    public var root: String
    /// The address a 227 (PASV) names instead of the control connection's
    /// own, for a server behind port forwarding that knows its public address.
    public var publicAddress: IPAddress?
    /// Active-mode data connections leave from port 20 (RFC 959 §3.2: the
    /// server's data port is L-1), as vsftpd's connect_from_port_20 does.
    /// Needs root (CAP_NET_BIND_SERVICE); otherwise the kernel picks the port.
    public var activeFromPort20: Bool
    /// Stop after this many sessions, once they have all ended (nil: never).
    public var sessionLimit: Int?
    /// Seconds a session may stay silent before "421 Timeout.", and the
    /// longest wait for a data connection or for data on it.
    public var timeout: Double
    public var log: FTPServerLog

    public init(listen: FTPEndpoint, root: String, publicAddress: IPAddress? = nil, activeFromPort20: Bool = false,
                sessionLimit: Int? = nil, timeout: Double = 60, log: FTPServerLog = .standardError) {
        self.listen = listen
        self.root = root
        self.publicAddress = publicAddress
        self.activeFromPort20 = activeFromPort20
        self.sessionLimit = sessionLimit
        self.timeout = timeout
        self.log = log
    }
}

public final class FTPServer: Sendable {
    public let configuration: FTPServerConfiguration
    /// Where it listens, with the port the kernel chose if the configuration said 0.
    public let endpoint: FTPEndpoint
    let root: FTPRoot
    let log: FTPLogWriter
    private let listener: Int32
    /// stop() writes a byte here to wake run()'s poll.
    private let wake: (read: Int32, write: Int32)

    /// Checks the root, opens the log and starts listening; `run()` accepts.
    public init(_ configuration: FTPServerConfiguration) throws(FTPPeerError) {
        self.configuration = configuration
        guard configuration.timeout > 0 else { throw FTPPeerError("the timeout must be more than 0 seconds") }
        if let limit = configuration.sessionLimit, limit < 1 {
            throw FTPPeerError("the session limit must be at least 1")
        }
        root = try FTPRoot(configuration.root)
        log = try FTPLogWriter(configuration.log)
        let socket: FTPSocket
        do {
            socket = try FTPSocket.listen(on: configuration.listen)
        } catch {
            throw FTPPeerError("cannot listen: \(error)")
        }
        guard let bound = socket.localEndpoint else { throw FTPPeerError("cannot listen: getsockname failed") }
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw FTPPeerError("pipe: \(String(cString: strerror(errno)))") }
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        endpoint = bound
        wake = (pipeEnds[0], pipeEnds[1])
        listener = socket.detach()
    }

    deinit {
        Syscall.close(listener)
        Syscall.close(wake.read)
        Syscall.close(wake.write)
    }

    /// Accepts sessions, each on a thread of its own, until `stop()` or until
    /// `sessionLimit` sessions have been accepted; then waits for the
    /// sessions still running and returns.
    public func run() {
        log.line("listening on \(endpoint), root \(root.path.isEmpty ? "/" : root.path)"
                 + (configuration.publicAddress.map { ", PASV announces \($0)" } ?? "")
                 + (configuration.sessionLimit.map { ", \($0) session\($0 == 1 ? "" : "s") then exit" } ?? ""))
        let sessions = DispatchGroup()
        var count = 0
        accepting: while configuration.sessionLimit.map({ count < $0 }) ?? true {
            let ready = pollReady([(listener, readable), (wake.read, readable)], until: Deadline(after: 3600))
            if ready.contains(1) { break }
            guard ready.contains(0) else { continue }
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                let code = errno
                switch code {
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors or memory: the connection stays queued; try again shortly.
                    log.line("accept: \(String(cString: strerror(code))); waiting a moment")
                    usleep(100_000)
                    continue
                case EBADF, EINVAL, ENOTSOCK, EFAULT:
                    // The listener itself is broken: accepting again would only spin.
                    log.line("accept: \(String(cString: strerror(code))); no longer accepting")
                    break accepting
                default:
                    // accept(2): "Linux passes already-pending network errors on the new socket
                    // as an error code from accept()"; treat those like EAGAIN, as it advises.
                    continue
                }
            }
            count += 1
            let id = count
            let (configuration, root, log) = (self.configuration, self.root, self.log)
            sessions.enter()
            let thread = Thread {
                FTPServerSession(id: id, control: FTPSocket.adopt(fd), configuration: configuration, root: root, log: log).run()
                sessions.leave()
            }
            thread.start()
        }
        sessions.wait()
        log.line("stopped after \(count) session\(count == 1 ? "" : "s")")
    }

    /// Makes `run()` stop accepting (from any thread); sessions still running end on their own.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }
}

/// One line per write(2), so that lines from concurrent sessions never mix
/// (a single write of a line to a pipe or an O_APPEND file is not interleaved).
final class FTPLogWriter: Sendable {
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let handler: (@Sendable (String) -> Void)?

    init(_ target: FTPServerLog) throws(FTPPeerError) {
        switch target {
        case .standardError:
            (descriptor, ownsDescriptor, handler) = (STDERR_FILENO, false, nil)
        case .file(let path):
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FTPPeerError("\(path): \(String(cString: strerror(errno)))") }
            (descriptor, ownsDescriptor, handler) = (fd, true, nil)
        case .handler(let function):
            (descriptor, ownsDescriptor, handler) = (-1, false, function)
        }
    }

    deinit {
        if ownsDescriptor { Syscall.close(descriptor) }
    }

    func line(_ text: String) {
        if let handler {
            handler(text)
            return
        }
        FileIO.writeAllOrGiveUp(descriptor, Array((text + "\n").utf8))
    }
}

// The Lab API as another project's test would use it (public API only, no
// @testable): bring Topologies/basic.json up from Swift, serve a file with
// the built-in FTP server in one host, fetch it with the built-in client in
// the other, read what the commands printed, and take the lab down. Needs root.

import Foundation
import Lab
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: isRoot, "labs need root"), .serialized, labTimeLimit)
struct LabSessionExampleTests {
    @Test func aTopologyFromSwift() throws {
        let name = "les\(getpid() % 100_000)"
        let lab = try LabSession(topology: repository.appendingPathComponent("Topologies/basic.json").path,
                                 name: name, tunwall: Tool.binary.path)
        defer { lab.down() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-les-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("hello through the firewall\n".utf8).write(to: directory.appendingPathComponent("hello.txt"))

        // The server host serves one session, then exits.
        let served = Handoff<LabSession.CommandResult?>()
        let server = Thread {
            served.set(try? lab.run("server", [Tool.binary.path, "ftp", "serve", "--listen", "203.0.113.10",
                                               "--root", directory.path, "--once", "1"], timeout: 30))
        }
        server.start()
        // Seen listening from its own namespace before the client starts: the
        // one download below gets no second chance, so a dropped first packet fails it.
        var listening = false
        let deadline = Date().addingTimeInterval(15)
        while !listening, Date() < deadline {
            listening = try lab.run("server", ["ss", "-H", "-ltn", "sport = :21"]).output.contains("203.0.113.10:21 ")
            if !listening { usleep(50_000) }
        }
        try #require(listening, "the FTP server did not listen on 203.0.113.10:21 within 15 s")
        let fetched = try lab.run("client", [Tool.binary.path, "ftp", "get", "ftp://203.0.113.10/hello.txt", "--out", "-",
                                             "--mode", "active", "--timeout", "10"])
        #expect(fetched.status == .exited(0), "\(fetched.output)")
        #expect(fetched.output.contains("hello through the firewall"), "\(fetched.output)")
        let serverResult = served.wait(seconds: 40) ?? nil
        #expect(serverResult?.status == .exited(0), "the server served its one session: \(serverResult?.output ?? "")")

        let ping = try lab.run("client", ["ping", "-c", "1", "-W", "2", "203.0.113.10"])
        #expect(ping.status == .exited(0) && ping.output.contains("1 received"), "\(ping.output)")
        let report = lab.down()
        #expect(report != nil)
        #expect(LabChecks.namespaces(of: name).isEmpty)
    }
}

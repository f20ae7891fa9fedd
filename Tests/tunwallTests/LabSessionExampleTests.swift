// The Lab API as another project's test would use it (public API only, no
// @testable): bring Topologies/basic.json up from Swift, serve a file with
// the built-in FTP server in one host, fetch it with the built-in client in
// the other, read what the commands printed, and take the lab down. Needs root.

import Foundation
import Lab
import Testing

@Suite(.enabled(if: isRoot, "labs need root"), .serialized)
struct LabSessionExampleTests {
    @Test func aTopologyFromSwift() throws {
        let lab = try LabSession(topology: repository.appendingPathComponent("Topologies/basic.json").path,
                                 name: "les\(getpid() % 100_000)", tunwall: Tool.binary.path)
        defer { lab.down() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-les-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("hello through the firewall\n".utf8).write(to: directory.appendingPathComponent("hello.txt"))

        // The server host serves one session, then exits.
        let server = Thread { _ = try? lab.run("server", [Tool.binary.path, "ftp", "serve", "--listen", "203.0.113.10",
                                                          "--root", directory.path, "--once", "1"], timeout: 30) }
        server.start()
        var fetched: LabSession.CommandResult? = nil
        for _ in 0..<20 {
            fetched = try lab.run("client", [Tool.binary.path, "ftp", "get", "ftp://203.0.113.10/hello.txt", "--out", "-",
                                             "--mode", "active", "--timeout", "5"])
            if fetched?.status == .exited(0) { break }
            usleep(200_000)
        }
        #expect(fetched?.status == .exited(0))
        #expect(fetched?.output.contains("hello through the firewall") == true, "\(fetched?.output ?? "")")

        let ping = try lab.run("client", ["ping", "-c", "1", "-W", "2", "203.0.113.10"])
        #expect(ping.status == .exited(0) && ping.output.contains("1 received"), "\(ping.output)")
        let report = lab.down()
        #expect(report != nil)
        #expect(try Tool.run(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "list"]).stdout.contains("les\(getpid() % 100_000)") == false)
    }
}

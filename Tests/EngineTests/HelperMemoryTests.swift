// Memory per helped connection is small and bounded (issue 12, item 6): what
// the FTP helper keeps to rewrite a retransmission is freed once the
// receiver acknowledges it, a long line's buffer is given back, the copy of
// a held packet goes once nothing is held or owed, and `tunwall stats` says
// what the table and the helpers hold.

@testable import Conntrack
@testable import Engine
@testable import FTP
import Rules
import Testing
import Wire

@Suite struct HelperMemoryTests {
    static func serverAck(_ s: FTPScenario, _ ack: UInt32) -> Packet {
        HelperDesyncTests.serverAck(s, ack)
    }

    static func session(_ s: FTPScenario) -> FTPSession? {
        s.h.engine.helpers.values.first?.helper as? FTPSession
    }

    @Test func acknowledgedRewritesAreForgotten() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let idle = try #require(Self.session(s)).memoryFootprint
        var shift: UInt32 = 0
        for port in 0..<100 {
            let line = "PORT 10,0,1,2,195,\(port % 100 + 100)\r\n"
            let out = s.clientSends(line)
            shift += UInt32(FTPScenario.text(out.bytes).utf8.count - line.utf8.count)
            // The server acknowledges the rewritten line, in its own numbering.
            s.h.send(Self.serverAck(s, s.clientSeq + shift), on: s.h.wan)
            s.serverSends("200 PORT command successful.\r\n")
        }
        let session = try #require(Self.session(s))
        #expect(session.streams[0].records.isEmpty, "every rewritten line was acknowledged")
        #expect(session.memoryFootprint <= idle + 512, "\(session.memoryFootprint) bytes after 100 rewrites (idle: \(idle))")
    }

    @Test func unacknowledgedRewritesAreBounded() throws {
        let s = try FTPScenario(FTPRules.masquerade, policy: FTPPolicy(holdBytes: 4096))
        s.connect()
        // The server acknowledges nothing.
        for port in 0..<50 { s.clientSends("PORT 10,0,1,2,195,\(port + 100)\r\n") }
        let session = try #require(Self.session(s))
        #expect(session.streams[0].records.count == ControlStream.recordCapacity)
        #expect(session.memoryFootprint < 4096, "\(session.memoryFootprint) bytes")
    }

    @Test func longLineBufferIsGivenBack() throws {
        let s = try FTPScenario(FTPRules.masquerade, policy: FTPPolicy(holdBytes: 4096))
        s.connect()
        // A long EPRT line held over several segments, then completed.
        let host = String(repeating: "a", count: 3000)
        s.clientSends("EPRT |1|" + host)
        s.clientSends("|1|\r\n")
        s.clientSends("NOOP\r\n")
        let session = try #require(Self.session(s))
        #expect(session.streams[0].line.capacity <= ControlStream.keptLineCapacity)
        #expect(s.h.engine.helpers.values.first?.heldTemplate[0] == nil, "nothing held or owed: the packet copy is gone")
    }

    @Test func statsShowTableAndHelperMemory() throws {
        let s = try FTPScenario(FTPRules.masquerade)
        s.connect()
        let report = s.h.engine.statisticsReport(now: s.h.now)
        let expected = "bytes an entry), "
        #expect(report.contains("conntrack memory"))
        #expect(report.contains("(\(FlowTable.entryBytes) \(expected)"))
        #expect(report.contains("in 1 helper sessions"))
        // The table grows with use: what its live entries need, not the harness's 1,024 at once.
        let table = s.h.engine.conntrack.table
        #expect(table.memoryBytes >= table.count * FlowTable.entryBytes)
        #expect(table.memoryBytes >= table.allocatedEntries * FlowTable.entryBytes)
    }
}

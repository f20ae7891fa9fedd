// A file served by python3's http.server in a lab's server host (port
// 8080, every address) and downloaded by curl in its client, once per URL,
// one attempt each (the server is seen listening first), compared byte for
// byte. Shared by the lab suites that download through the firewall.

import Foundation
import Testing
import TestSeeds

enum HTTPDownload {
    /// `size` bytes from `seed`, fetched from each of `urls` (paths ending in /file.bin).
    static func serveAndFetch(lab: String, seed: UInt64, size: Int, urls: [String]) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunwall-http-\(lab)-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SeededGenerator(seed: seed)
        let content = Data(random.bytes(size))
        try content.write(to: directory.appendingPathComponent("file.bin"))
        let server = try Tool.labBackground(lab, "server", ["python3", "-m", "http.server", "8080",
                                                             "--bind", "::", "--directory", directory.path])
        defer { server.terminate() }
        try LabChecks.waitUntilListening(lab: lab, host: "server", port: 8080)
        for url in urls {
            let output = directory.appendingPathComponent("download")
            // The server listens: one attempt, no retry.
            let curl = try Tool.labExec(lab, "client", ["curl", "--silent", "--show-error", "--fail", "--max-time", "60",
                                                        "-o", output.path, url])
            #expect(curl.status == 0, "curl \(url): \(curl.stderr)")
            #expect(try Data(contentsOf: output) == content, "\(url): the file arrived changed")
            try? FileManager.default.removeItem(at: output)
        }
    }
}

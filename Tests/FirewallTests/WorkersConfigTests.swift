// `"workers": N` in a firewall config (issue 17): read, written back, and
// refused outside 1…255 with the key's place; several engines answer the
// control socket as one (counts added, one `cpu=` line per worker).

import Conntrack
import Engine
@testable import Firewall
import Foundation
import Glibc
import Testing
import Wire

@Suite struct WorkersConfigTests {
    static func config(_ workers: String) -> String {
        """
        {"interfaces": [{"name": "lan0", "addresses": ["10.0.1.1/24"]},
                        {"name": "wan0", "addresses": ["203.0.113.1/24"]}],
         "workers": \(workers)}
        """
    }

    @Test func workersAreReadAndWrittenBack() throws {
        let config = try FirewallConfig.parse(data: Array(Self.config("4").utf8), file: "fw.json")
        #expect(config.workers == 4)
        #expect(try FirewallConfig.parse(data: config.jsonData(), file: "fw.json") == config)
        let plain = try FirewallConfig.parse(data: Array(Self.config("1").utf8), file: "fw.json")
        #expect(plain.workers == 1)
    }

    @Test func workersOutOfRangeAreRefused() {
        for bad in ["0", "256", "\"two\"", "-1"] {
            #expect(throws: ConfigError.self) { try FirewallConfig.parse(data: Array(Self.config(bad).utf8), file: "fw.json") }
        }
    }

    @Test func severalEnginesAnswerAsOne() throws {
        let config = try FirewallConfig.parse(data: Array(Self.config("2").utf8), file: "fw.json")
        let directory = SteeringDirectory(entries: 1024)
        let engines = try (0..<2).map { worker -> Engine in
            let engine = try Engine(config.engineConfiguration)
            engine.joinSteering(SteeringMembership(directory: directory, worker: worker, workers: 2))
            return engine
        }
        var buffer = PacketBuffer.allocate()
        defer { buffer.deallocate() }
        // The control socket's answers use CLOCK_MONOTONIC, as the runner does.
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let now = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        for (worker, engine) in engines.enumerated() {
            buffer.load(Packet.udp(IPv4Address(10, 0, 1, 2), UInt16(5000 + worker), IPv4Address(203, 0, 113, 10), 53).encoded())
            #expect(engine.process(&buffer, from: 0, now: now) == .forward(1))
        }
        let reloader = Reloader(engines: engines, path: nil)
        func ask(_ line: String) -> String {
            guard case .text(let text) = ControlResponder.respond(to: line, engines: engines, reloader: reloader) else { return "" }
            return text
        }
        #expect(ask("conntrack -C") == "2\n")
        #expect(ask("conntrack -L").split(separator: "\n").count == 2)
        let cpus = ask("conntrack -S").split(separator: "\n")
        #expect(cpus.count == 2 && cpus[0].hasPrefix("cpu=0") && cpus[1].hasPrefix("cpu=1"))
        #expect(ask("stats").contains("forwarded          2"))
        #expect(ask("stats").contains("workers            2"))
        #expect(ask("stats --json").contains("\"forwarded\":2"))
        #expect(ask("conntrack -F").split(separator: "\n").count == 2)
        #expect(directory.count == 0, "flushing every shard emptied the directory")
    }
}

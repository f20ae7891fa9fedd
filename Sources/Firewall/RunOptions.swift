// What `tunwall run` was asked to do (its command line, parsed by the tunwall
// executable): the config file, the control socket, and what to observe.

import Engine
import TunIO

public struct RunOptions: Sendable {
    public static let defaultControlPath = "/run/tunwall/tunwall.sock"

    public var configPath: String
    public var controlPath: String
    /// `--trace`: narrate every decision on stderr.
    public var narrate: Bool
    /// `--trace-json FILE`: the same as JSON lines (docs/trace-schema.md).
    public var traceJSONPath: String?
    /// `--pcap DIR`: DIR/capture.pcapng, or with `--pcap-format pcap`
    /// IF-in.pcap and IF-out.pcap for every interface.
    public var pcapDirectory: String?
    public var pcapFormat: CaptureFormat = .pcapng
    /// `--hosts lan0=client,wan0=server`: what `lab up` tells the trace about the hosts.
    public var hosts: [String: String]
    /// `--segments lan0=client1/MAC/ADDR,...`: the hosts on each segment, for the trace.
    public var segments: [String: [TraceSegmentHost]] = [:]
    /// `--workers N`, else the environment's TUNWALL_WORKERS (how the lab
    /// suite runs every lab with N workers), else the config's "workers",
    /// else one per CPU the process may use.
    public var workers: Int?

    public init(configPath: String, controlPath: String = RunOptions.defaultControlPath, narrate: Bool = false,
                traceJSONPath: String? = nil, pcapDirectory: String? = nil, hosts: [String: String] = [:]) {
        self.configPath = configPath
        self.controlPath = controlPath
        self.narrate = narrate
        self.traceJSONPath = traceJSONPath
        self.pcapDirectory = pcapDirectory
        self.hosts = hosts
    }
}

// Lab: the names a lab leaves on the machine, all derived from the lab's name
// (by default the topology file's base name, "basic" for Topologies/basic.json):
//
//   tw-basic-fw          the firewall's network namespace (its TUN devices start here)
//   tw-basic-client      one namespace per host: tw-LAB-HOST
//   tw-lan-lan           one per segment (a bridge and its ports): tw-LAB-SEGMENT
//   /run/tunwall/labs/basic/
//       topology.json    a copy of the topology file; `source` holds its absolute path
//       firewall.json    the config `tunwall run` reads, each interface's namespace filled in
//       control.sock     the firewall's control socket
//       pid              the firewall's process id
//       log              the firewall's standard output and error
//
// Lab names may contain "-", host names may not, so a namespace name splits
// one way only ("tw-a-b-c" is host "c" of lab "a-b") and `tunwall lab down a`
// never touches lab "a-b". A lab name has at most 15 characters and a host
// name at most 12, so no namespace name is longer than 31.

#if canImport(Glibc)
import Glibc
#endif
import Firewall
import SystemIO

public enum Lab {
    public static let defaultStateRoot = "/run/tunwall/labs"
    public static let maximumNameLength = 15
    public static let maximumHostNameLength = 12
    public static let namespacePrefix = "tw-"
    /// The host part of the firewall's namespace name.
    public static let firewallHost = "fw"

    public static func namespaceName(lab: String, host: String) -> String {
        "\(namespacePrefix)\(lab)-\(host)"
    }

    public static func firewallNamespace(lab: String) -> String {
        namespaceName(lab: lab, host: firewallHost)
    }

    /// The lab and host a namespace name stands for; nil for a name no lab would make.
    public static func parseNamespace(_ namespace: String) -> (lab: String, host: String)? {
        guard namespace.hasPrefix(namespacePrefix) else { return nil }
        let rest = namespace.dropFirst(namespacePrefix.count)
        guard let dash = rest.lastIndex(of: "-") else { return nil }
        let lab = String(rest[..<dash]), host = String(rest[rest.index(after: dash)...])
        guard ConfigValue.labName(lab) == nil, host == firewallHost || ConfigValue.hostName(host) == nil else { return nil }
        return (lab, host)
    }

    public static func stateDirectory(_ name: String, root: String = defaultStateRoot) -> String {
        "\(root)/\(name)"
    }

    public static func controlSocketPath(_ name: String, root: String = defaultStateRoot) -> String {
        "\(stateDirectory(name, root: root))/control.sock"
    }

    /// The topology file's base name without ".json": "basic" for Topologies/basic.json.
    public static func defaultName(topologyPath: String) -> String {
        var base = topologyPath.split(separator: "/").last.map(String.init) ?? topologyPath
        if base.hasSuffix(".json") { base.removeLast(5) }
        return base
    }

    /// "SIGINT", "SIGTERM", ... or "signal N".
    public static func signalName(_ signal: Int32) -> String {
        signalDisplayName(signal)
    }

    public static func validateName(_ name: String) throws(LabError) {
        if let problem = ConfigValue.labName(name) { throw LabError(problem) }
    }

    /// The config `tunwall run` gets for the lab: each interface moved into its
    /// host's namespace (or its segment's, where the lab puts it on the
    /// bridge), and the ruleset path made absolute (the file is read
    /// from the state directory, not from where the topology lives).
    public static func firewallConfig(for topology: Topology, lab: String) -> FirewallConfig {
        var config = topology.firewall
        for index in config.interfaces.indices {
            if let place = config.interfaces[index].host ?? config.interfaces[index].segment {
                config.interfaces[index].namespace = namespaceName(lab: lab, host: place)
            }
            config.interfaces[index].host = nil
            config.interfaces[index].segment = nil
        }
        config.rulesetPath = config.rulesetPath.map(absolutePath)
        return config
    }
}

/// Where the lab's files are (see `Lab`).
public struct LabPaths: Sendable {
    public let directory: String

    public init(lab name: String, root: String = Lab.defaultStateRoot) {
        directory = Lab.stateDirectory(name, root: root)
    }

    public var topology: String { directory + "/topology.json" }
    public var source: String { directory + "/source" }
    public var firewallConfig: String { directory + "/firewall.json" }
    public var controlSocket: String { directory + "/control.sock" }
    public var pid: String { directory + "/pid" }
    public var log: String { directory + "/log" }
    /// Present when the lab's firewall is the Linux kernel (`lab up --kernel`).
    public var kernelMarker: String { directory + "/kernel" }
}

// swift-tools-version: 6.0
// tunwall: a stateful firewall and NAT router in userspace on Linux TUN devices.
// No package dependencies: only the toolchain (Foundation, Glibc, Swift Testing)
// and our own C shim target for what Swift cannot import.
//
// Targets, lowest first; dependencies point down this list only
// (docs/ARCHITECTURE.md, "Targets, lowest first").
import PackageDescription

let package = Package(
    name: "tunwall",
    products: [
        .library(name: "Wire", targets: ["Wire"]),
        .library(name: "Conntrack", targets: ["Conntrack"]),
        .library(name: "FTP", targets: ["FTP"]),
        .library(name: "Rules", targets: ["Rules"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "EngineTesting", targets: ["EngineTesting"]),
        // Labs from Swift for other projects' tests (LabSession, LabProcess): Examples/EchoLab uses it.
        .library(name: "Lab", targets: ["Lab"]),
        .executable(name: "tunwall", targets: ["tunwall"]),
    ],
    targets: [
        // C constants and helpers for what Swift cannot import (TUN _IOW macros, ifreq).
        .target(name: "CTunwall"),
        // Views over packet bytes, value types, checksums, addresses, pcap.
        .target(name: "Wire"),
        // The trace file's schema (docs/trace-schema.md) as Swift values, read and written as JSON; Foundation only.
        .target(name: "TraceFormat"),
        // Tuples, the flow table, TCP/UDP/ICMP state and timeouts, RELATED ICMP errors.
        .target(name: "Conntrack", dependencies: ["Wire"]),
        // The FTP helper: control streams, PORT/EPRT/227/229, expectations, rewriting under NAT.
        .target(name: "FTP", dependencies: ["Wire", "Conntrack"]),
        // The TFTP helper (RFC 1350): a request expects the server's answer from a new port.
        .target(name: "TFTP", dependencies: ["Wire", "Conntrack"]),
        // The nftables-subset language: parser with line:column errors, compiled rules, evaluation, listing.
        .target(name: "Rules", dependencies: ["Wire", "Conntrack"]),
        // The pipeline: interfaces, routes, hooks, ICMP generation, drop reasons. No syscalls.
        .target(name: "Engine", dependencies: ["Wire", "Conntrack", "FTP", "TFTP", "Rules"]),
        // For other projects' tests: the engine with virtual devices, a manual clock, checkers.
        .target(name: "EngineTesting", dependencies: ["Wire", "Conntrack", "FTP", "Rules", "Engine"]),
        // System calls as Swift: errno as SystemError, EINTR retried, whole-file and whole-write I/O;
        // child processes (posix_spawn) and iproute2's `ip` (CommandError).
        .target(name: "SystemIO"),
        // Linux TUN devices, the event loop, signals, the control socket.
        .target(name: "TunIO", dependencies: ["Engine", "CTunwall", "SystemIO"]),
        // The lab's own FTP server and client (`tunwall ftp`): plain sockets, RFC 959/2428; they must
        // not know the FTP helper they are used to test, so they do not depend on it (or on Engine).
        .target(name: "FTPPeers", dependencies: ["Wire", "SystemIO"]),
        // What `tunwall run` is: the firewall config and its JSON reader (ConfigError), the bootstrap
        // (TUN devices, namespaces, control socket, the runner), the reloader, the control protocol.
        .target(name: "Firewall", dependencies: ["Wire", "Conntrack", "FTP", "Rules", "Engine", "SystemIO", "TunIO"]),
        // Topology files, namespaces through `ip`, the lab's life cycle.
        .target(name: "Lab", dependencies: ["Wire", "Conntrack", "FTP", "Engine", "TunIO", "SystemIO", "Firewall"]),
        // Ladder diagrams (SVG, HTML) of a trace file, read with TraceFormat; Foundation only.
        .target(name: "Diagram", dependencies: ["TraceFormat"]),
        // Replayable random test input (testSeed, SeededGenerator; TUNWALL_TEST_SEED), for every test target.
        .target(name: "TestSeeds"),
        // What test targets share about the repository and the machine: its root, root privileges, the .lab tag.
        .target(name: "TestSupport"),
        .executableTarget(name: "tunwall", dependencies: ["Wire", "Conntrack", "FTP", "Rules", "Engine", "SystemIO", "TunIO", "Firewall", "FTPPeers", "Lab", "CTunwall", "TraceFormat", "Diagram"]),
        // Fuzz targets (README, "Fuzzing"): libFuzzer under Scripts/fuzz.sh (-DFUZZING), otherwise
        // executables that replay a corpus. `Extern` declares libFuzzer's C entry point.
        .target(name: "FuzzSupport", swiftSettings: [.enableExperimentalFeature("Extern")]),
        .executableTarget(name: "FuzzWire", dependencies: ["FuzzSupport", "Wire"]),
        .executableTarget(name: "FuzzEngine", dependencies: ["FuzzSupport", "Wire", "Conntrack", "FTP", "Rules", "Engine"]),
        .executableTarget(name: "FuzzRules", dependencies: ["FuzzSupport", "Wire", "Conntrack", "Rules"]),
        .testTarget(name: "FuzzReplayTests", dependencies: ["FuzzWire", "FuzzEngine", "FuzzRules", "FuzzSupport"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "TestSeeds"], exclude: ["Fixtures"]),
        .testTarget(name: "ConntrackTests", dependencies: ["Conntrack", "Wire"]),
        .testTarget(name: "FTPTests", dependencies: ["FTP", "Conntrack", "Wire"]),
        .testTarget(name: "TFTPTests", dependencies: ["TFTP", "Conntrack", "Wire", "TestSeeds"]),
        .testTarget(name: "RulesTests", dependencies: ["Rules", "Conntrack", "Wire", "TestSupport"], exclude: ["Invalid"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "EngineTesting", "FTP", "TFTP", "Rules", "Conntrack", "Wire", "TraceFormat", "TestSeeds"]),
        .testTarget(name: "EngineTestingExample", dependencies: ["EngineTesting", "Wire"]),
        .testTarget(name: "SystemIOTests", dependencies: ["SystemIO"]),
        .testTarget(name: "TunIOTests", dependencies: ["TunIO", "Conntrack", "Wire", "CTunwall", "SystemIO", "TestSupport"]),
        .testTarget(name: "FirewallTests", dependencies: ["Firewall", "Conntrack", "Engine", "Wire"]),
        .testTarget(name: "LabTests", dependencies: ["Lab", "Firewall", "FTPPeers", "Engine", "FTP", "Wire", "SystemIO", "TestSeeds", "TestSupport"]),
        // Tiers 3 and 4, end to end: the built `tunwall` and programs nobody here wrote, most of them through
        // real namespaces (those need root and are tagged .lab).
        .testTarget(name: "EndToEndTests", dependencies: ["Wire", "Diagram", "Lab", "TestSeeds", "TestSupport"]),
        .testTarget(name: "DiagramTests", dependencies: ["Diagram", "TraceFormat", "TestSeeds"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)

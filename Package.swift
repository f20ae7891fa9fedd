// swift-tools-version: 6.0
// tunwall: a stateful firewall and NAT router in userspace on Linux TUN devices.
// No package dependencies: only the toolchain (Foundation, Glibc, Swift Testing)
// and our own C shim target for what Swift cannot import.
import PackageDescription

let package = Package(
    name: "tunwall",
    products: [
        .library(name: "Wire", targets: ["Wire"]),
        .executable(name: "tunwall", targets: ["tunwall"]),
    ],
    targets: [
        // C constants and helpers for what Swift cannot import (TUN _IOW macros, ifreq).
        .target(name: "CTunwall"),
        // Views over packet bytes, value types, checksums, addresses, pcap.
        .target(name: "Wire"),
        .executableTarget(name: "tunwall", dependencies: ["Wire", "CTunwall"]),
        .testTarget(
            name: "WireTests",
            dependencies: ["Wire"],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "tunwallTests", dependencies: ["Wire"]),
    ],
    swiftLanguageModes: [.v6]
)

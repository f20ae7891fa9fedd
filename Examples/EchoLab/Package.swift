// swift-tools-version:6.0
// An example of testing one's own networked program with tunwall's Lab
// library: a small line-echo server and client (Sources/), and a test that
// runs them in a lab's namespaces on either side of a masquerading firewall
// (Tests/EchoLabTests). It depends on tunwall by path, as a project of yours
// would by URL: .package(url: "https://…/tunwall.git", branch: "main").
//
//   swift build && sudo swift test      (needs root: namespaces and TUN devices)
import PackageDescription

let package = Package(
    name: "EchoLab",
    dependencies: [.package(name: "tunwall", path: "../..")],
    targets: [
        .executableTarget(name: "echo-server"),
        .executableTarget(name: "echo-client"),
        .testTarget(name: "EchoLabTests", dependencies: [.product(name: "Lab", package: "tunwall")]),
    ]
)

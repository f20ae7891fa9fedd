// Real namespaces (root only): each test makes a lab with a name of its own
// ("t<pid><letter>"), a state directory under /tmp, and always takes it down.
// The firewall is a shell script standing in for `tunwall run`: like the real
// one it runs in tw-LAB-fw, creates the lab's devices there (a veth pair, as
// TUN devices need the real firewall) and moves them into the hosts'
// namespaces before it prints "tunwall: ready". Traffic flows only between
// namespaces the test created.

import Foundation
import Testing
import Wire
import Firewall
import SystemIO
import TestSupport
@testable import Lab

/// Two hosts on one subnet, so that the veth pair between them carries pings
/// without a firewall in between.
let vethTopologyText = """
{
  "description": "client and server on a veth pair",
  "firewall": {
    "interfaces": [
      {"name": "lan0", "host": "client", "addresses": ["10.0.1.1/24", "fd00:1::1/64"], "mtu": 1400},
      {"name": "wan0", "host": "server", "addresses": ["10.0.1.254/24", "fd00:1::fe/64"]}
    ]
  },
  "hosts": [
    {"name": "client", "interfaces": [{"device": "lan0", "addresses": ["10.0.1.2/24", "fd00:1::2/64"]}],
     "routes": [{"to": "default", "via": "10.0.1.1"}, {"to": "default", "via": "fd00:1::1"},
                {"to": "198.51.100.0/24", "device": "lan0"}]},
    {"name": "server", "interfaces": [{"device": "wan0", "addresses": ["10.0.1.3/24", "fd00:1::3/64"]}],
     "routes": [{"to": "default", "via": "10.0.1.254"}]}
  ]
}
"""

/// One test's lab: its name, its own state root and scratch directory.
struct TestLab {
    let name: String
    let scratch: String
    var controller: LabController
    let topologyPath: String
    let topology: Topology

    init(_ letter: String) throws {
        name = "t\(getpid())\(letter)"
        scratch = "/tmp/tunwall-labtests-\(getpid())-\(letter)"
        try makeDirectories(scratch)
        topologyPath = scratch + "/veth.json"
        try writeFile(topologyPath, Data(vethTopologyText.utf8))
        topology = try Topology.load(path: topologyPath)
        controller = LabController(stateRoot: scratch + "/state", firewallExecutable: "/bin/false")
        controller.stopGracePeriod = 1
        controller.foregroundLogDescriptor = nil
    }

    var ip: IPCommand { controller.ip }
    var firewallNamespace: String { Lab.firewallNamespace(lab: name) }
    func namespace(_ host: String) -> String { Lab.namespaceName(lab: name, host: host) }
    var paths: LabPaths { controller.paths(name) }

    /// Writes a stand-in for `tunwall run` and makes it the firewall: it gets
    /// `run FIREWALL.json --control SOCKET [extra...]` like the real one.
    mutating func useFakeFirewall(_ body: String) throws {
        let ipPath = try ip.executablePath()
        let script = """
        #!/bin/sh
        echo "fake firewall: $*" >&2
        \(ipPath) link add lan0 type veth peer name wan0 || exit 1
        \(ipPath) link set lan0 netns \(namespace("client")) || exit 1
        \(ipPath) link set wan0 netns \(namespace("server")) || exit 1
        \(body)
        """
        let path = scratch + "/fake-firewall.sh"
        try writeFile(path, Data(script.utf8))
        chmod(path, 0o755)
        controller.firewallExecutable = path
    }

    static let readyAndWait = """
        echo "tunwall: ready" >&2
        trap 'echo "fake firewall: stopping" >&2; exit 0' TERM
        while :; do sleep 0.05; done
        """

    /// Takes the lab down and removes the scratch directory, whatever state the test left.
    func cleanUp() {
        _ = try? controller.down(name)
        _ = try? removeTree(scratch)
    }

    func ping(from host: String, _ address: String) -> Bool {
        (try? ip.netnsExec(namespace(host), ["ping", "-c", "1", "-W", "3", address])) != nil
    }
}

@Suite(.tags(.lab), .enabled(if: isRoot && ipInstalled), .timeLimit(.minutes(10))) struct LabLifecycleTests {
    @Test func namespacesAndHostsWithoutAFirewall() throws {
        let lab = try TestLab("a")
        defer { lab.cleanUp() }
        try lab.controller.createNamespaces(lab.topology, lab: lab.name)
        #expect(try lab.controller.namespaces(ofLab: lab.name) == [lab.firewallNamespace, lab.namespace("client"), lab.namespace("server")])
        #expect(try lab.ip.run(["-n", lab.namespace("client"), "link", "show", "lo"]).contains("UP"))
        // What the firewall does with its TUN devices, done with a veth pair.
        try lab.ip.run(["-n", lab.firewallNamespace, "link", "add", "lan0", "type", "veth", "peer", "name", "wan0"])
        try lab.ip.run(["-n", lab.firewallNamespace, "link", "set", "lan0", "netns", lab.namespace("client")])
        try lab.ip.run(["-n", lab.firewallNamespace, "link", "set", "wan0", "netns", lab.namespace("server")])
        for host in lab.topology.hosts {
            try lab.controller.configureHost(host, topology: lab.topology, lab: lab.name)
        }

        let client = lab.namespace("client")
        let link = try lab.ip.run(["-n", client, "link", "show", "dev", "lan0"])
        #expect(link.contains("mtu 1400"))
        #expect(link.contains(",UP"))
        let addresses = try lab.ip.run(["-n", client, "-br", "addr", "show", "dev", "lan0"])
        #expect(addresses.contains("10.0.1.2/24"))
        #expect(addresses.contains("fd00:1::2/64"))
        let routes = try lab.ip.run(["-n", client, "-4", "route", "show"])
        #expect(routes.contains("default via 10.0.1.1 dev lan0"))
        #expect(routes.contains("198.51.100.0/24 dev lan0"))
        #expect(try lab.ip.run(["-n", client, "-6", "route", "show"]).contains("default via fd00:1::1 dev lan0"))
        // nodad: usable at once (the link-local address the kernel adds to a veth may still be tentative).
        let v6 = try lab.ip.run(["-n", client, "-6", "-o", "addr", "show", "dev", "lan0"])
        let line = try #require(v6.split(separator: "\n").first { $0.contains("fd00:1::2/64") })
        #expect(!line.contains("tentative"))
        #expect(try lab.ip.run(["-n", lab.namespace("server"), "link", "show", "dev", "wan0"]).contains("mtu 1500"))

        #expect(lab.ping(from: "client", "10.0.1.3"))
        #expect(lab.ping(from: "server", "fd00:1::2"))

        let report = try lab.controller.down(lab.name)
        #expect(report.stoppedFirewall == nil)
        #expect(report.deletedNamespaces.count == 3)
        #expect(try lab.controller.namespaces(ofLab: lab.name).isEmpty)
        #expect(try lab.controller.down(lab.name).didNothing)
    }

    @Test func daemonUpExecAndDown() throws {
        var lab = try TestLab("b")
        defer { lab.cleanUp() }
        try lab.useFakeFirewall(TestLab.readyAndWait)
        var summary: LabStatus?
        let ending = try lab.controller.up(lab.topology, source: lab.topologyPath, name: lab.name, daemon: true,
                                           extraRunArguments: ["--trace", "x y"]) { summary = $0 }
        guard case .detached(let pid) = ending else {
            Issue.record("expected a detached lab, got \(ending)")
            return
        }
        #expect(summary?.firewallPID == pid)
        #expect(summary?.hosts == ["client", "server"])
        #expect(try lab.controller.runningFirewall(lab.name) == pid)

        // The state directory.
        let paths = lab.paths
        let config = try FirewallConfig.load(path: paths.firewallConfig)
        #expect(config.interfaces.map(\.namespace) == [lab.namespace("client"), lab.namespace("server")])
        #expect(try readFile(paths.topology) == Data(vethTopologyText.utf8))
        #expect(String(decoding: try readFile(paths.source), as: UTF8.self) == lab.topologyPath + "\n")
        let log = String(decoding: try readFile(paths.log), as: UTF8.self)
        #expect(log.contains("fake firewall: run \(paths.firewallConfig) --control \(paths.controlSocket) --trace x y\n"))
        #expect(log.contains("tunwall: ready"))

        // The hosts are configured and talk over the devices the firewall moved.
        #expect(lab.ping(from: "client", "10.0.1.3"))
        #expect(lab.ping(from: "client", "fd00:1::3"))

        // A second `up` is refused.
        let refusal = LabError("lab \(lab.name) is already up; run 'tunwall lab down \(lab.name)'")
        #expect(throws: refusal) {
            try lab.controller.up(lab.topology, source: lab.topologyPath, name: lab.name, daemon: true)
        }
        #expect(try lab.controller.list().contains { $0.name == lab.name && $0.firewallPID == pid })

        // exec: the command's exit status; an unknown host is named.
        #expect(try lab.controller.exec(lab: lab.name, host: "client", argv: ["sh", "-c", "exit 3"]) == 3)
        #expect(try lab.controller.exec(lab: lab.name, host: "fw", argv: ["true"]) == 0)
        #expect(throws: LabError("lab \(lab.name) has no host \"clinet\" (did you mean \"client\"?); its hosts: fw, client, server")) {
            try lab.controller.exec(lab: lab.name, host: "clinet", argv: ["true"])
        }

        let report = try lab.controller.down(lab.name)
        #expect(report.stoppedFirewall == pid)
        #expect(report.deletedNamespaces == [lab.firewallNamespace, lab.namespace("client"), lab.namespace("server")])
        #expect(report.removedStateDirectory)
        #expect(!isAlive(pid))
        #expect(!fileExists(paths.directory))
        #expect(try lab.controller.down(lab.name).didNothing)
    }

    @Test func firewallExitingBeforeReadyIsReportedAndEverythingRemoved() throws {
        var lab = try TestLab("c")
        defer { lab.cleanUp() }
        try lab.useFakeFirewall(#"echo "tunwall: lan0: cannot open /dev/net/tun: No such device" >&2; exit 1"#)
        let expected = LabError("""
            lab \(lab.name): the firewall exited with status 1 before it was ready; the end of its log:
              fake firewall: run \(lab.paths.firewallConfig) --control \(lab.paths.controlSocket)
              tunwall: lan0: cannot open /dev/net/tun: No such device
            """)
        #expect(throws: expected) {
            try lab.controller.up(lab.topology, source: lab.topologyPath, name: lab.name, daemon: true)
        }
        #expect(try lab.controller.namespaces(ofLab: lab.name).isEmpty)
        #expect(!fileExists(lab.paths.directory))
    }

    @Test func firewallThatNeverGetsReadyTimesOut() throws {
        var lab = try TestLab("d")
        defer { lab.cleanUp() }
        lab.controller.readyTimeout = 1
        try lab.useFakeFirewall("exec sleep 30")
        let error = #expect(throws: LabError.self) {
            try lab.controller.up(lab.topology, source: lab.topologyPath, name: lab.name, daemon: false)
        }
        #expect(error?.message.hasPrefix("lab \(lab.name): the firewall did not print \"tunwall: ready\" within 1 s;"
                                         + " the end of its log:\n  fake firewall: run ") == true)
        #expect(try lab.controller.namespaces(ofLab: lab.name).isEmpty)
        #expect(!fileExists(lab.paths.directory))
    }

    @Test func foregroundEndsWhenTheFirewallExitsAndCopiesItsLog() throws {
        var lab = try TestLab("e")
        defer { lab.cleanUp() }
        let copy = lab.scratch + "/copied-log"
        let descriptor = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        lab.controller.foregroundLogDescriptor = descriptor
        try lab.useFakeFirewall("""
            echo "tunwall: ready" >&2
            sleep 0.5
            echo "fake firewall: done" >&2
            exit 3
            """)
        var readyCalls = 0
        let ending = try lab.controller.up(lab.topology, source: lab.topologyPath, name: lab.name, daemon: false) { _ in
            readyCalls += 1
        }
        #expect(ending == .firewallExited(.exited(3)))
        #expect(readyCalls == 1)
        let copied = String(decoding: try readFile(copy), as: UTF8.self)
        #expect(copied.contains("tunwall: ready\n"))
        #expect(copied.hasSuffix("fake firewall: done\n"))
        #expect(try lab.controller.namespaces(ofLab: lab.name).isEmpty)
        #expect(!fileExists(lab.paths.directory))
    }

    @Test func foregroundStopsTheFirewallOnSIGTERM() throws {
        var lab = try TestLab("f")
        defer { lab.cleanUp() }
        try lab.useFakeFirewall(TestLab.readyAndWait)
        var firewall: pid_t?
        let ending = try lab.controller.up(lab.topology, source: lab.topologyPath, name: lab.name, daemon: false) { status in
            firewall = status.firewallPID
            // `up` blocks SIGTERM on this thread, so it waits there to be collected.
            pthread_kill(pthread_self(), SIGTERM)
        }
        #expect(ending == .stopped(signal: SIGTERM))
        #expect(firewall.map(isAlive) == false)
        #expect(try lab.controller.namespaces(ofLab: lab.name).isEmpty)
        #expect(!fileExists(lab.paths.directory))
    }

    @Test func downKillsAFirewallThatIgnoresSIGTERM() throws {
        var lab = try TestLab("g")
        defer { lab.cleanUp() }
        lab.controller.stopGracePeriod = 0.3
        try lab.useFakeFirewall("""
            trap '' TERM
            echo "tunwall: ready" >&2
            while :; do sleep 0.05; done
            """)
        let ending = try lab.controller.up(lab.topology, source: lab.topologyPath, name: lab.name, daemon: true)
        guard case .detached(let pid) = ending else {
            Issue.record("expected a detached lab, got \(ending)")
            return
        }
        let report = try lab.controller.down(lab.name)
        #expect(report.stoppedFirewall == pid)
        #expect(!isAlive(pid))
        #expect(try lab.controller.namespaces(ofLab: lab.name).isEmpty)
    }

    @Test func downCleansUpAfterACrash() throws {
        let lab = try TestLab("h")
        defer { lab.cleanUp() }
        try lab.controller.createNamespaces(lab.topology, lab: lab.name)
        // A crashed lab: a pid file naming a process that is not its firewall
        // (this test process: it must not be signalled), and a process left
        // running in a host's namespace.
        try lab.controller.writeState(lab.topology, source: lab.topologyPath, lab: lab.name)
        try writeFile(lab.paths.pid, Data("\(getpid())\n".utf8))
        #expect(try lab.controller.runningFirewall(lab.name) == nil)
        let ipPath = try lab.ip.executablePath()
        let leftover = try ChildProcess.spawn(ipPath, ["netns", "exec", lab.namespace("server"), "sleep", "30"],
                                              output: .appendingTo("/dev/null"), placement: .newGroup)
        // Wait until `ip netns exec` has entered the namespace.
        for _ in 0..<100 where !(try lab.ip.run(["netns", "pids", lab.namespace("server")])).contains("\(leftover.pid)") {
            usleep(20_000)
        }
        #expect(throws: LabError("lab \(lab.name) is already up; run 'tunwall lab down \(lab.name)'")) {
            try lab.controller.ensureNotUp(lab.name)
        }
        let report = try lab.controller.down(lab.name)
        #expect(report.stoppedFirewall == nil)
        #expect(report.stoppedProcesses == [leftover.pid])
        #expect(report.deletedNamespaces.count == 3)
        #expect(report.removedStateDirectory)
        #expect(!isAlive(leftover.pid))
        // Namespaces alone, no state directory.
        try lab.controller.createNamespaces(lab.topology, lab: lab.name)
        let second = try lab.controller.down(lab.name)
        #expect(second.deletedNamespaces.count == 3)
        #expect(!second.removedStateDirectory)
    }

    @Test func staleStateDirectoryAloneDoesNotBlockUp() throws {
        let lab = try TestLab("i")
        defer { lab.cleanUp() }
        try lab.controller.writeState(lab.topology, source: lab.topologyPath, lab: lab.name)
        try lab.controller.ensureNotUp(lab.name)
        #expect(!fileExists(lab.paths.directory))
    }

    @Test func execNeedsALabThatIsUp() throws {
        let lab = try TestLab("j")
        defer { lab.cleanUp() }
        #expect(throws: LabError("lab \(lab.name) is not up (no namespace tw-\(lab.name)-*)")) {
            try lab.controller.exec(lab: lab.name, host: "client", argv: ["true"])
        }
    }
}

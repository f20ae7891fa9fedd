// Lab names, namespace names and state paths; finding and running `ip`.

import Foundation
import Testing
@testable import Lab
@testable import SystemIO

@Suite struct NameTests {
    @Test func namespaceNames() {
        #expect(Lab.namespaceName(lab: "basic", host: "client") == "tw-basic-client")
        #expect(Lab.firewallNamespace(lab: "basic") == "tw-basic-fw")
        // The longest names allowed still fit in 31 characters.
        let longest = Lab.namespaceName(lab: String(repeating: "l", count: Lab.maximumNameLength),
                                        host: String(repeating: "h", count: Lab.maximumHostNameLength))
        #expect(longest.count == 31)
    }

    @Test func namespaceNamesSplitOneWayOnly() {
        #expect(Lab.parseNamespace("tw-basic-client")! == ("basic", "client"))
        #expect(Lab.parseNamespace("tw-ftp-nat-fw")! == ("ftp-nat", "fw"))
        #expect(Lab.parseNamespace("tw-a-b-c")! == ("a-b", "c"))
        #expect(Lab.parseNamespace("tw-basic") == nil)
        #expect(Lab.parseNamespace("netns1") == nil)
        #expect(Lab.parseNamespace("tw--client") == nil)
    }

    @Test func statePaths() {
        #expect(Lab.stateDirectory("basic") == "/run/tunwall/labs/basic")
        #expect(Lab.controlSocketPath("basic") == "/run/tunwall/labs/basic/control.sock")
        let paths = LabPaths(lab: "basic", root: "/tmp/x")
        #expect(paths.firewallConfig == "/tmp/x/basic/firewall.json")
        #expect(paths.pid == "/tmp/x/basic/pid")
        #expect(paths.log == "/tmp/x/basic/log")
    }

    @Test func defaultNameIsTheFilesBaseName() {
        #expect(Lab.defaultName(topologyPath: "Topologies/basic.json") == "basic")
        #expect(Lab.defaultName(topologyPath: "/srv/labs/ftp-nat.json") == "ftp-nat")
        #expect(Lab.defaultName(topologyPath: "plain") == "plain")
    }

    @Test func labNames() throws {
        try Lab.validateName("basic")
        try Lab.validateName("t12345a")
        let rule = "(1 to 15 characters of A-Z a-z 0-9 _ . -, not starting with \"-\" or \".\")"
        #expect(throws: LabError("lab name \"a very long lab name\" is not valid \(rule)")) {
            try Lab.validateName("a very long lab name")
        }
        #expect(throws: LabError("lab name \"-x\" is not valid \(rule)")) { try Lab.validateName("-x") }
        #expect(throws: LabError("lab name \"\" is not valid \(rule)")) { try Lab.validateName("") }
        #expect(throws: LabError("lab name \"a/b\" is not valid \(rule)")) { try Lab.validateName("a/b") }
    }

    @Test func exitStatuses() {
        #expect(ExitStatus(waitStatus: 3 << 8) == .exited(3))
        #expect(ExitStatus(waitStatus: 15) == .killed(signal: 15))
        #expect(ExitStatus.killed(signal: 9).shellStatus == 137)
        #expect(ExitStatus.killed(signal: 15).description == "was killed by SIGTERM")
        #expect(ExitStatus.exited(1).description == "exited with status 1")
    }
}

let ipInstalled = (try? IPCommand().executablePath()) != nil

@Suite struct IPCommandTests {
    @Test func missingIPSaysWhichPackageToInstall() {
        let nowhere = IPCommand(searchPath: "", fallbackDirectories: [])
        #expect(throws: CommandError("the 'ip' program was not found (install the Debian package iproute2)")) {
            try nowhere.run(["link", "show"])
        }
        let elsewhere = IPCommand(searchPath: "/nonexistent/bin:relative/bin", fallbackDirectories: ["/nonexistent/sbin"])
        #expect(throws: CommandError(IPCommand.notFoundMessage)) { try elsewhere.executablePath() }
        #expect(throws: CommandError(IPCommand.notFoundMessage)) { try elsewhere.netnsExec("tw-x-client", ["true"]) }
    }

    @Test(.enabled(if: ipInstalled)) func fallbackDirectoriesAreSearchedAfterPath() throws {
        let path = try IPCommand().executablePath()
        let directory = String(path[..<path.lastIndex(of: "/")!])
        #expect(try IPCommand(searchPath: "", fallbackDirectories: ["/nonexistent", directory]).executablePath() == path)
        #expect(try IPCommand(searchPath: directory, fallbackDirectories: []).executablePath() == path)
    }

    @Test(.enabled(if: ipInstalled)) func failureRepeatsTheCommandAndWhatItSaid() throws {
        // Read-only: asks about a device that does not exist.
        let error = #expect(throws: CommandError.self) { try IPCommand().run(["link", "show", "dev", "tw-nosuchdev0"]) }
        let message = try #require(error?.message)
        #expect(message.hasPrefix("ip link show dev tw-nosuchdev0: "))
        #expect(message.contains("tw-nosuchdev0\" does not exist"))
        #expect(!message.contains("\n"))
    }

    @Test(.enabled(if: ipInstalled)) func outputIsReturned() throws {
        #expect(try IPCommand().run(["-V"]).contains("iproute2"))
    }

    @Test func commandLinesAreQuotedForMessages() {
        #expect(commandLine(["netns", "add", "tw-basic-fw"]) == "netns add tw-basic-fw")
        #expect(commandLine(["sh", "-c", "echo it's"]) == #"sh -c 'echo it'\''s'"#)
        #expect(commandLine(["addr", "add", "fd00:1::2/64", ""]) == "addr add fd00:1::2/64 ''")
    }
}

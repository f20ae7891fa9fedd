// tunwall and the real nft agree about what is a ruleset: every valid file
// here and every .nft file under Topologies/ is loaded by `nft -f` (a real
// load, so the kernel's commit checks run too: loops, NAT hooks) and listed
// by `nft list ruleset` exactly as tunwall lists it; every file in Invalid/
// gets from nft exactly the text recorded next to it (Invalid/NAME.nft-says,
// Scripts/record-nft-errors.sh): refused, except those marked `# nft-accepts`,
// which nft must accept. All of it inside a network namespace the test
// creates and deletes; reported as skipped without root or without nft (and
// Scripts/test.sh fails under CI=true when it is). NFTRecordTests compares
// tunwall's errors with the recorded text, with or without nft.

import Foundation
import Rules
import Testing
import TestSupport

@Suite(.tags(.lab), .enabled(if: NFTNamespace.available, "needs root, ip and nft"), .serialized)
struct NFTAgreementTests {
    @Test func gatewayIsLoadedAndListedAlikeByNFT() throws {
        let namespace = try NFTNamespace()
        let path = try temporaryFile(gateway, name: "gateway.nft")
        defer { removeTemporaryFile(path) }
        let load = namespace.load(path)
        #expect(load.status == 0, "\(load.output)")
        let ours = try parse(gateway).listing()
        #expect(namespace.listRuleset() == ours)
        #expect(ours == gatewayListing)
    }

    @Test func topologyRulesetsAreValidForBoth() throws {
        let files = Paths.files(in: Paths.repository.appendingPathComponent("Topologies"), extension: "nft")
        try #require(!files.isEmpty, "no .nft file under Topologies/: the test would prove nothing")
        let namespace = try NFTNamespace()
        for file in files {
            let load = namespace.load(file.path)
            #expect(load.status == 0, "nft refuses \(file.path): \(load.output)")
            do {
                let ours = try Ruleset.load(path: file.path)
                #expect(namespace.listRuleset() == ours.listing(), "listing of \(file.path)")
            } catch {
                Issue.record("tunwall refuses \(file.path): \(error)")
            }
        }
    }

    /// nft says today what Invalid/NAME.nft-says recorded (Scripts/record-nft-errors.sh), byte for
    /// byte: a new nft that words an error differently shows here, and NFTRecordTests then
    /// compares tunwall's text with the new wording.
    @Test func nftStillSaysWhatWasRecorded() throws {
        let namespace = try NFTNamespace()
        let files = InvalidFile.all()
        try #require(files.count >= 30, "Invalid/ has \(files.count) files")
        for file in files {
            let load = namespace.load(file.path)
            let said = load.output.replacingOccurrences(of: file.path, with: file.testDescription)
            #expect(said == (try file.nftSays()), "\(file.testDescription): nft now says\n\(said)")
            if file.nftAccepts {
                #expect(load.status == 0, "\(file.testDescription) is marked nft-accepts but nft says: \(load.output)")
            } else {
                #expect(load.status != 0, "nft accepts \(file.testDescription): mark it # nft-accepts or fix it")
            }
        }
    }

    /// The listing forms ListingTests pins are nft's own.
    @Test func canonicalFormsAreNFTs() throws {
        let namespace = try NFTNamespace()
        for (written, printed) in canonicalCases {
            let path = try temporaryFile(oneRule(written), name: "rule.nft")
            defer { removeTemporaryFile(path) }
            let load = namespace.load(path)
            #expect(load.status == 0, "\(written): \(load.output)")
            #expect(ruleLine(namespace.listRuleset()) == printed, "\(written)")
        }
    }

    /// Small rulesets from the other tests: what we accept, nft accepts.
    @Test(arguments: [evaluationPriorities, evaluationJumps, evaluationSets, evaluationRejects,
                      natPostrouting, natPrerouting, natInet, natPolicyDrop, natPriorities, natJumps, natIP6, natLog,
                      natBesideFilter, wikiVerdictMaps, wikiLimits, nftraceRules])
    func evaluationRulesetsAreValidForNFT(_ text: String) throws {
        let namespace = try NFTNamespace()
        let path = try temporaryFile(text, name: "evaluation.nft")
        defer { removeTemporaryFile(path) }
        let load = namespace.load(path)
        #expect(load.status == 0, "\(load.output)")
        #expect(namespace.listRuleset() == (try parse(text).listing()))
    }

    /// `include` finds the same files for both: nft run from the main file's directory (where
    /// it looks for `./` paths), tunwall from the including file's; the listing is the same.
    @Test func includedFilesAreReadAlike() throws {
        let namespace = try NFTNamespace()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nft-include-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("rules.d"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "define WEB = { 80, 443 }\n".write(to: directory.appendingPathComponent("defines.nft"), atomically: true, encoding: .utf8)
        try "table inet filter {\n\tchain forward {\n\t\ttcp dport $WEB accept\n\t}\n}\n"
            .write(to: directory.appendingPathComponent("rules.d/10-web.nft"), atomically: true, encoding: .utf8)
        try "table inet filter {\n\tchain forward {\n\t\tudp dport 53 limit rate 5/second accept\n\t}\n}\n"
            .write(to: directory.appendingPathComponent("rules.d/20-dns.nft"), atomically: true, encoding: .utf8)
        let main = directory.appendingPathComponent("main.nft")
        try "include \"./defines.nft\"\ntable inet filter {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\ninclude \"./rules.d/*.nft\"\n"
            .write(to: main, atomically: true, encoding: .utf8)
        _ = NFTNamespace.run(["ip", "netns", "exec", namespace.name, "nft", "flush", "ruleset"])
        let load = NFTNamespace.run(["ip", "netns", "exec", namespace.name, "sh", "-c", "cd '\(directory.path)' && nft -f main.nft"])
        #expect(load.status == 0, "\(load.output)")
        let ours = try Ruleset.load(path: main.path)
        #expect(namespace.listRuleset() == ours.listing())
    }

    /// Script commands and handles: a fresh namespace (table handles count from 1 in each) loads
    /// `scriptCommands` as tunwall reads it, then takes live commands one by one as
    /// `Ruleset.applying` does; `nft -a list ruleset` and tunwall's listing with handles agree
    /// after each, and a refused command gets the same error from both.
    @Test func scriptCommandsAndHandlesAgree() throws {
        let namespace = try NFTNamespace()
        let path = try temporaryFile(scriptCommands, name: "commands.nft")
        defer { removeTemporaryFile(path) }
        let load = NFTNamespace.run(["ip", "netns", "exec", namespace.name, "nft", "-f", path])
        #expect(load.status == 0, "\(load.output)")
        func nftHandles() -> String {
            NFTNamespace.run(["ip", "netns", "exec", namespace.name, "nft", "-a", "list", "ruleset"]).output
        }
        var ours = try parse(scriptCommands)
        #expect(nftHandles() == ours.listing(handles: true))
        #expect(nftHandles() == scriptCommandsListing)
        for command in ["delete rule inet filter forward handle 16", "add element inet filter allowed { 10.0.1.9 }",
                        "insert rule inet filter forward position 5 tcp dport 443 accept",
                        "add rule inet filter forward position 12 ip saddr 10.0.0.0/8 counter drop",
                        "delete element inet filter allowed { 10.0.1.6 }", "flush chain inet filter web2",
                        "add rule inet filter web tcp dport vmap { 1 : accept, 2 : drop }"] {
            let nft = NFTNamespace.run(["ip", "netns", "exec", namespace.name, "sh", "-c", "nft " + command])
            #expect(nft.status == 0, "\(command): \(nft.output)")
            ours = try ours.applying(command)
            #expect(nftHandles() == ours.listing(handles: true), "after \(command)")
        }
        for command in ["delete rule inet filter forward handle 999", "add rule inet filter nochain accept",
                        "delete element inet filter allowed { 10.9.9.9 }"] {
            let nft = NFTNamespace.run(["ip", "netns", "exec", namespace.name, "sh", "-c", "nft " + command])
            #expect(nft.status != 0)
            do {
                _ = try ours.applying(command)
                Issue.record("tunwall accepts \(command)")
            } catch {
                #expect(nft.output == error.description + "\n", "\(command)")
            }
        }
    }

    /// `nft -j list ruleset` and tunwall's JSON listing agree, byte for byte, each fixture in a
    /// fresh namespace (table handles count from 1 in each).
    @Test(arguments: [wikiVerdictMaps, wikiLimits, jsonForms, scriptCommands, nftraceRules])
    func jsonListingIsNFTs(_ text: String) throws {
        let namespace = try NFTNamespace()
        let path = try temporaryFile(text, name: "json.nft")
        defer { removeTemporaryFile(path) }
        let load = NFTNamespace.run(["ip", "netns", "exec", namespace.name, "nft", "-f", path])
        #expect(load.status == 0, "\(load.output)")
        let nft = NFTNamespace.run(["ip", "netns", "exec", namespace.name, "nft", "-j", "list", "ruleset"]).output
        #expect(nft == (try parse(text).jsonListing()))
    }
}

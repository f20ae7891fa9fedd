// tunwall and the real nft agree about what is a ruleset: every valid file
// here and every .nft file under Topologies/ is loaded by `nft -f` (a real
// load, so the kernel's commit checks run too: loops, NAT hooks) and listed
// by `nft list ruleset` exactly as tunwall lists it; every file in Invalid/
// is refused by nft as well, except those marked `# nft-accepts`, which nft
// must accept. All of it inside a network namespace the test creates and
// deletes; skipped without root or without nft.

import Foundation
import Rules
import Testing

@Suite(.enabled(if: NFTNamespace.available, "needs root, ip and nft"), .serialized)
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
        guard !files.isEmpty else { return }
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

    /// Where nft reports the same error at the same place, the three printed lines are nft's,
    /// byte for byte (the `~` under a related place included).
    @Test func invalidFilesAreInvalidForNFTToo() throws {
        let namespace = try NFTNamespace()
        var identical = 0
        for file in InvalidFile.all() {
            let load = namespace.load(file.path)
            if file.nftAccepts {
                #expect(load.status == 0, "\(file.testDescription) is marked nft-accepts but nft says: \(load.output)")
                continue
            }
            #expect(load.status != 0, "nft accepts \(file.testDescription): mark it # nft-accepts or fix it")
            do {
                _ = try Ruleset.load(path: file.path)
            } catch {
                let ours = error.errors[0].description
                let nftLines = load.output.split(separator: "\n", omittingEmptySubsequences: false)
                if let first = nftLines.first, ours.hasPrefix(first + "\n") {
                    #expect(nftLines.prefix(3).joined(separator: "\n") == ours, "\(file.testDescription)")
                    identical += 1
                }
            }
        }
        #expect(identical >= 20, "errors printed exactly as nft prints them: \(identical)")
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
                      natBesideFilter])
    func evaluationRulesetsAreValidForNFT(_ text: String) throws {
        let namespace = try NFTNamespace()
        let path = try temporaryFile(text, name: "evaluation.nft")
        defer { removeTemporaryFile(path) }
        let load = namespace.load(path)
        #expect(load.status == 0, "\(load.output)")
        #expect(namespace.listRuleset() == (try parse(text).listing()))
    }
}

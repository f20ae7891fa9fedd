// tunwall's error text beside nft's, by name. Invalid/NAME.nft-says holds what
// the real nft printed for Invalid/NAME.nft (Scripts/record-nft-errors.sh;
// NFTAgreementTests checks, as root, that nft still prints exactly that).
// Here, with or without nft: every file has its record, and the files whose
// first error tunwall prints exactly as nft does (all three lines, carets
// included) are named below, all of them. A change on either side moves a
// file in or out of the list, and the test says which.

import Foundation
import Rules
import Testing

extension InvalidFile {
    var recordPath: String { path + "-says" }

    /// What nft printed for this file when it was recorded.
    func nftSays() throws -> String {
        try String(contentsOfFile: recordPath, encoding: .utf8)
    }

    /// tunwall's first error, printed as nft prints it, with the file named as nft's record names it.
    func ourFirstError() -> String? {
        do {
            _ = try Ruleset.load(path: path)
            return nil
        } catch {
            return error.errors.first?.description.replacingOccurrences(of: path, with: testDescription)
        }
    }
}

@Suite struct NFTRecordTests {
    /// The files whose first error tunwall prints byte for byte as nft does
    /// (38 of them with nftables v1.0.6). The others differ on purpose or
    /// for now: nft accepts them, or words the error otherwise; their records
    /// show how.
    static let identicalToNFT: Set<String> = [
        "backwards-range.nft", "bad-prefix-length.nft", "bitmask-list-on-port.nft", "conflicting-families.nft",
        "conflicting-protocol-set.nft", "conflicting-protocols.nft", "ct-state-typo.nft", "define-bad-value.nft",
        "dnat-inet-without-family.nft", "icmp-type-typo.nft", "icmpx-in-ip-table.nft", "ifname-too-long.nft",
        "mark-too-big.nft", "nftrace-out-of-range.nft", "meta-nfproto-in-ip-table.nft", "missing-include.nft", "nat-port-without-protocol.nft", "port-out-of-range.nft",
        "priority-name-wrong-hook.nft", "redefinition.nft", "set-interval-without-flag.nft",
        "set-overlapping-intervals.nft", "set-range-without-flag.nft", "set-type-mismatch.nft",
        "set-unknown-type.nft", "set-without-type.nft", "several-errors.nft", "statement-after-terminal.nft",
        "syntax-junk.nft", "syntax-missing-brace.nft", "syntax-missing-priority.nft", "syntax-missing-separator.nft",
        "syntax-policy-value.nft", "syntax-reserved-chain-name.nft", "syntax-rule-before-brace.nft",
        "syntax-set-missing-comma.nft", "tcp-reset-for-icmp.nft", "undefined-variable.nft", "unknown-hook.nft",
    ]

    @Test func everyInvalidFileHasNFTsRecord() throws {
        let files = InvalidFile.all()
        try #require(files.count >= 30, "Invalid/ has \(files.count) files")
        for file in files {
            guard FileManager.default.fileExists(atPath: file.recordPath) else {
                Issue.record("\(file.testDescription) has no \(file.testDescription)-says: run sudo Scripts/record-nft-errors.sh")
                continue
            }
            let says = try file.nftSays()
            if file.nftAccepts {
                #expect(says.isEmpty, "\(file.testDescription) is marked nft-accepts, but nft said: \(says)")
            } else {
                #expect(says.hasPrefix(file.testDescription + ":"), "\(file.testDescription): nft said \(says)")
            }
        }
        let version = try String(contentsOf: Paths.invalid.appendingPathComponent("nft-version.txt"), encoding: .utf8)
        #expect(version.hasPrefix("nftables v"))
    }

    @Test func identicalErrorsArePinnedByName() throws {
        var identical: Set<String> = []
        var report: [String] = []
        for file in InvalidFile.all() where !file.nftAccepts {
            guard let ours = ourFirstError(file), let says = try? file.nftSays() else { continue }
            let theirs = says.split(separator: "\n", omittingEmptySubsequences: false).prefix(3).joined(separator: "\n")
            if ours == theirs {
                identical.insert(file.testDescription)
            } else if Self.identicalToNFT.contains(file.testDescription) {
                report.append("\(file.testDescription) no longer matches nft:\n  ours:\n\(ours)\n  nft's:\n\(theirs)")
            }
        }
        for name in identical.subtracting(Self.identicalToNFT).sorted() {
            report.append("\(name) now matches nft: add it to identicalToNFT")
        }
        #expect(report.isEmpty, "\(report.joined(separator: "\n"))")
        #expect(identical == Self.identicalToNFT)
    }

    func ourFirstError(_ file: InvalidFile) -> String? { file.ourFirstError() }
}

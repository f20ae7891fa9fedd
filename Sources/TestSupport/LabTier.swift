// The lab tier: tests that need root because they make network namespaces,
// TUN devices or nft tables, or bind a privileged port (README, "Run the
// tests"; docs/ARCHITECTURE.md, "Testing tiers"). Each such suite or test
// carries the `.lab` tag and asks for root with `.enabled(if: ...)`, so
// without root it is reported as skipped rather than failed.
//
// This toolchain's `swift test` selects by test ID only: `--filter` and
// `--skip` take regular expressions matched against IDs such as
// "EndToEndTests.LabNATTests/clientBehindMasquerade()", and accept no tag.
// So Tests/lab-tier.regex lists the tagged suites and tests as IDs, and
// EndToEndTests' TierSelectionTests checks that it selects exactly what is
// tagged.

import Foundation
import Testing

/// Whether this process may make namespaces, TUN devices and nft tables.
public let isRoot = getuid() == 0

extension Tag {
    /// Needs root: makes namespaces, TUN devices or nft tables, or binds a privileged port (the lab tier).
    @Tag public static var lab: Self
}

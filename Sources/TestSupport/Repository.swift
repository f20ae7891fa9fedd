// Where the test targets find the repository's files (Topologies/, docs/,
// Scripts/, fixtures): from this file's own path at build time, so it holds
// wherever the checkout is and whichever test target asks. This file is
// Sources/TestSupport/Repository.swift: three levels below the root.

import Foundation

/// The repository's root directory.
public let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

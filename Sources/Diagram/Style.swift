// Sizes and colours of the diagram, in one place. Colours are chosen to read
// on white and in grey print: connections in dark hues, FTP text in brown on
// cream, rewrites on amber, expectations purple, drops red, holds orange.

enum Style {
    static let fontFamily = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"

    // Font sizes (px) and the line heights that go with them.
    static let titleSize = 15.0
    static let headSize = 12.0
    static let detailSize = 10.0
    static let ftpSize = 11.5
    static let noteSize = 11.0
    static let headLine = 15.0
    static let detailLine = 12.5
    static let ftpLine = 17.0
    static let noteLine = 16.0

    // Geometry (px).
    static let margin = 16.0
    static let numberColumn = 92.0
    static let minimumGap = 372.0
    static let maximumGap = 470.0
    static let firewallColumn = 14.0
    static let trackSpacing = 9.0
    static let rowPadding = 7.0
    static let arrowHead = 8.0

    // Colours.
    static let ink = "#263238"
    static let muted = "#607d8b"
    static let lifeline = "#b0bec5"
    static let firewallFill = "#eceff1"
    static let stripe = "#f6f8fa"
    static let ftpBand = "#fff9ec"
    static let ftpStripe = "#fdf1da"
    static let ftpInk = "#7a3e00"
    static let ftpFill = "#fdebc8"
    static let rewriteFill = "#ffd54f"
    static let rewriteInk = "#3e2700"
    static let expectation = "#7b1fa2"
    static let drop = "#d32f2f"
    static let held = "#ef6c00"
    static let consumed = "#455a64"

    /// One colour per connection, in order of first appearance, cycled.
    static let connectionColours = ["#1565c0", "#2e7d32", "#00838f", "#6d4c41", "#827717", "#3949ab", "#ad1457", "#546e7a"]

    static func connectionColour(_ id: Int) -> String { connectionColours[id % connectionColours.count] }
}

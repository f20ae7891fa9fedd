// A trace that cannot be drawn: the file, the line, and what is wrong with it,
// printed as `FILE:LINE: message`.

public struct TraceError: Error, Sendable, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file):\(line): \(message)" }
}

// Why an FTP peer (`tunwall ftp serve|get|put|ls`) could not start or do its
// job, as one line: "ftp://10.0.1.2:x/: not an IP address with an optional
// port (names are not looked up)", "/srv/ftp: not a directory".

public struct FTPPeerError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

// echo-server PORT: answers every line a TCP client sends with the same line
// in capitals, IPv4 and IPv6 on one socket, one client at a time.
#if canImport(Glibc)
import Glibc
#endif

/// Writes `text` to a descriptor (1: standard output, 2: standard error) at once, unbuffered.
func say(_ text: String, to descriptor: Int32 = 1) {
    _ = text.utf8CString.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count - 1) }
}

guard CommandLine.arguments.count == 2, let port = UInt16(CommandLine.arguments[1]) else {
    say("usage: echo-server PORT\n", to: 2)
    exit(2)
}
let listener = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
var off: Int32 = 0, on: Int32 = 1
setsockopt(listener, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size))
setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
var address = sockaddr_in6()
address.sin6_family = sa_family_t(AF_INET6)
address.sin6_port = port.bigEndian
let bound = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
}
guard bound == 0, listen(listener, 16) == 0 else {
    perror("echo-server: bind/listen")
    exit(1)
}
say("echo-server: listening on port \(port)\n")
while true {
    let client = accept(listener, nil, nil)
    guard client >= 0 else { continue }
    var line: [UInt8] = []
    var byte: UInt8 = 0
    while read(client, &byte, 1) == 1 {
        line.append(byte)
        guard byte == UInt8(ascii: "\n") else { continue }
        let answer = String(decoding: line, as: UTF8.self).uppercased()
        say(answer, to: client)
        line.removeAll()
    }
    close(client)
}

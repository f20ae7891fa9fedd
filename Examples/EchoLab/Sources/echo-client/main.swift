// echo-client HOST PORT TEXT: sends TEXT as one line to an echo-server and
// prints the answer; exits 1 when it cannot connect or gets no answer.
#if canImport(Glibc)
import Glibc
#endif

/// Writes `text` to a descriptor (1: standard output, 2: standard error) at once, unbuffered.
func say(_ text: String, to descriptor: Int32 = 1) {
    _ = text.utf8CString.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count - 1) }
}

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    say("usage: echo-client HOST PORT TEXT\n", to: 2)
    exit(2)
}
var hints = addrinfo()
hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
var result: UnsafeMutablePointer<addrinfo>?
guard getaddrinfo(arguments[1], arguments[2], &hints, &result) == 0, let info = result else {
    say("echo-client: cannot resolve \(arguments[1])\n", to: 2)
    exit(1)
}
let connection = socket(info.pointee.ai_family, info.pointee.ai_socktype, 0)
var timeout = timeval(tv_sec: 3, tv_usec: 0)
// Both: on Linux SO_SNDTIMEO bounds connect() too.
setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
guard connect(connection, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
    perror("echo-client: connect")
    exit(1)
}
let line = arguments[3] + "\n"
say(line, to: connection)
var answer: [UInt8] = []
var byte: UInt8 = 0
while read(connection, &byte, 1) == 1 {
    if byte == UInt8(ascii: "\n") { break }
    answer.append(byte)
}
guard !answer.isEmpty else {
    say("echo-client: no answer\n", to: 2)
    exit(1)
}
say(String(decoding: answer, as: UTF8.self) + "\n")

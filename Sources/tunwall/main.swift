// tunwall: the command-line tool. Arguments are parsed by hand (no package
// dependencies); every command returns an exit status:
// 0 success, 1 the command failed (bad input file, ...), 2 usage error.

#if canImport(Glibc)
import Glibc
#endif

// A control client that hangs up early must not kill the firewall: write()
// then fails with EPIPE instead of raising SIGPIPE.
signal(SIGPIPE, SIG_IGN)
let arguments = Array(CommandLine.arguments.dropFirst())
let status = Commands.run(arguments)
exit(status)

// SignalReceiver: SIGINT, SIGTERM, SIGHUP as a readable fd (signalfd(2),
// pthread_sigmask(3), via CTunwall because Swift's Glibc module does not
// export <sys/signalfd.h>).
//
// The signals are blocked, so they stay pending instead of running a handler
// (no async-signal-safety to worry about, no global flag), and the event loop
// reads them like packets: SIGHUP = reload the ruleset, SIGINT/SIGTERM = stop.
//
// A blocked signal only waits for the signalfd if *every* thread blocks it:
// a process-directed signal (kill, systemctl stop) goes to any thread that
// does not, and there its default action ends the process. So create the
// receiver at the top of main, before anything starts a thread (Dispatch,
// Foundation, Swift concurrency): threads inherit the creator's mask.
import CTunwall
import Glibc
import SystemIO

/// signalfd(2) for a set of signals, blocked with pthread_sigmask in the
/// creating thread (see the file comment: create it before other threads).
/// Not Sendable: one thread reads it.
public final class SignalReceiver {
    /// The signalfd (non-blocking, close-on-exec); -1 after `close()`.
    public private(set) var fileDescriptor: Int32
    /// The signals this receiver blocked that were not blocked before, so
    /// that `close()` unblocks exactly those.
    private var newlyBlocked: sigset_t

    /// Blocks `signals` (default SIGINT, SIGTERM, SIGHUP) in the calling thread
    /// and opens a signalfd for them. A number outside 1...64, or SIGKILL and
    /// SIGSTOP (which cannot be blocked), gives EINVAL.
    public init(signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals {
            if signal == SIGKILL || signal == SIGSTOP || sigaddset(&set, signal) != 0 {
                throw SystemError(call: "sigaddset(\(signal))", errno: EINVAL)
            }
        }
        var previous = sigset_t()
        let status = pthread_sigmask(SIG_BLOCK, &set, &previous)
        if status != 0 { throw SystemError(call: "pthread_sigmask(SIG_BLOCK)", errno: status) }
        var fresh = sigset_t()
        sigemptyset(&fresh)
        for signal in signals where sigismember(&previous, signal) == 0 { sigaddset(&fresh, signal) }
        newlyBlocked = fresh

        let fd = signalfd(-1, &set, ctw_SFD_NONBLOCK | ctw_SFD_CLOEXEC)
        if fd < 0 {
            let code = Glibc.errno
            pthread_sigmask(SIG_UNBLOCK, &fresh, nil)
            throw SystemError(call: "signalfd", errno: code)
        }
        fileDescriptor = fd
    }

    deinit { close() }

    /// Drains pending signals; returns their numbers in arrival order, as the
    /// kernel queues them (standard signals coalesce: two SIGHUPs before a
    /// read are one). Empty when none is pending or after `close()`.
    public func receive() -> [Int32] {
        var received: [Int32] = []
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        while fileDescriptor >= 0 {
            let fd = fileDescriptor
            guard let count = try? Syscall.call("read(signalfd)", { Glibc.read(fd, &info, size) }),
                  count == size
            else { break }
            received.append(Int32(bitPattern: info.ssi_signo))
        }
        return received
    }

    /// Closes the fd, discards signals still pending, and unblocks the signals
    /// this receiver blocked, in the calling thread: call it from the thread
    /// that created the receiver. Idempotent; deinit calls it too.
    public func close() {
        guard fileDescriptor >= 0 else { return }
        _ = receive()
        Syscall.close(fileDescriptor)
        fileDescriptor = -1
        pthread_sigmask(SIG_UNBLOCK, &newlyBlocked, nil)
    }
}

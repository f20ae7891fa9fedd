// StopSignals: what a lab operation does with SIGINT, SIGTERM and SIGHUP
// while it builds or tears down namespaces (sigprocmask(2), sigtimedwait(2)).

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT, SIGTERM and SIGHUP blocked on the calling thread (and on threads it
/// starts from now on), so that they wait to be collected with `wait` instead
/// of ending the process in the middle of building or tearing down a lab.
/// `restore()` drops any still pending and unblocks them; call it on the same thread.
final class StopSignals {
    private var blocked = sigset_t()
    private var previous = sigset_t()

    init() {
        sigemptyset(&blocked)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&blocked, signal) }
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
    }

    /// Waits up to `seconds` for one of them: its number, or nil after the time.
    func wait(seconds: Double) -> Int32? {
        var timeout = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        let signal = sigtimedwait(&blocked, nil, &timeout)
        return signal > 0 ? signal : nil
    }

    /// A signal already received, if any.
    func pending() -> Int32? {
        wait(seconds: 0)
    }

    func restore() {
        while pending() != nil {}
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
}

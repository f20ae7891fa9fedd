// EventLoop: epoll(7) over any number of file descriptors (epoll_create1,
// epoll_ctl EPOLL_CTL_ADD/DEL with EPOLLIN, epoll_wait; via CTunwall because
// Swift's Glibc module does not export <sys/epoll.h>).
//
// Each fd is registered with an Int token (say 0 = lan0, 1 = wan0,
// 2 = signals, 3 = control socket); `wait` hands back the tokens of the ready
// ones. Level-triggered: an fd that still has packets after the owner read a
// batch is reported again on the next wait, so a batch limit per wakeup keeps
// one busy device from starving the others without losing anything.
// The event buffer is allocated once, so a wait allocates nothing.
import CTunwall
import Glibc
import SystemIO

/// epoll(7) over fds registered with Int tokens. Not Sendable: the thread
/// that waits owns it.
public final class EventLoop {
    private var epollFD: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    private let maximumEvents: Int32

    /// epoll_create1(EPOLL_CLOEXEC); `maximumEvents` (clamped to 1...4096) is
    /// how many ready fds one wait reports; the rest come on the next wait.
    public init(maximumEvents: Int = 64) throws(SystemError) {
        let capacity = Int32(min(max(maximumEvents, 1), 4096))
        epollFD = Int32(try Syscall.require("epoll_create1") { Int(epoll_create1(ctw_EPOLL_CLOEXEC)) })
        self.maximumEvents = capacity
        events = .allocate(capacity: Int(capacity))
        events.initialize(repeating: epoll_event(), count: Int(capacity))
    }

    deinit {
        close()
        events.deallocate()
    }

    /// EPOLL_CTL_ADD with EPOLLIN, level-triggered; `token` comes back from `wait`.
    /// EEXIST if the fd is already registered, EBADF after `close()`.
    public func add(_ fd: Int32, token: Int) throws(SystemError) {
        var event = epoll_event()
        event.events = ctw_EPOLLIN
        event.data.u64 = UInt64(UInt(bitPattern: token))
        _ = try Syscall.require("epoll_ctl(EPOLL_CTL_ADD, \(fd))") { Int(epoll_ctl(epollFD, ctw_EPOLL_CTL_ADD, fd, &event)) }
    }

    /// EPOLL_CTL_DEL. (Closing an fd removes it too, unless it was dup'ed.)
    public func remove(_ fd: Int32) throws(SystemError) {
        var event = epoll_event()  // ignored, but kernels before 2.6.9 wanted non-NULL
        _ = try Syscall.require("epoll_ctl(EPOLL_CTL_DEL, \(fd))") { Int(epoll_ctl(epollFD, ctw_EPOLL_CTL_DEL, fd, &event)) }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever, 0: just poll) and calls
    /// `body(token)` for each ready fd, returning how many there were. EINTR
    /// returns 0 rather than restarting the full timeout, so the caller's loop
    /// gets to look at its clock and its signals. EPOLLHUP and EPOLLERR are
    /// reported as ready too: the owner's next read surfaces the error.
    public func wait(timeoutMilliseconds: Int32, _ body: (Int) -> Void) throws(SystemError) -> Int {
        let count = epoll_wait(epollFD, events, maximumEvents, timeoutMilliseconds)
        if count < 0 {
            let code = Glibc.errno
            if code == EINTR { return 0 }
            throw SystemError(call: "epoll_wait", errno: code)
        }
        for index in 0..<Int(count) {
            body(Int(bitPattern: UInt(truncatingIfNeeded: events[index].data.u64)))
        }
        return Int(count)
    }

    /// Closes the epoll fd (not the registered ones). Idempotent.
    public func close() {
        Syscall.close(epollFD)
        epollFD = -1
    }
}

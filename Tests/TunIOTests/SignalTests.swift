// Tests of SignalReceiver (signalfd(2)).
//
// Swift Testing runs tests on several threads, and the receiver blocks its
// signals only in the thread that creates it. So each test is synchronous
// (one thread from start to end) and sends with raise(3), which on Linux is
// tgkill to the calling thread: the signal stays pending on this thread, which
// reads it through the signalfd. kill(getpid()) would instead be taken by some
// other test thread that does not block it, and end the test process.
import Glibc
import Testing

@testable import TunIO
import SystemIO

@Suite(.serialized) struct SignalTests {
    @Test func raisedSignalIsReceived() throws {
        let receiver = try SignalReceiver()
        defer { receiver.close() }
        #expect(receiver.fileDescriptor >= 0)
        #expect(receiver.receive() == [])
        #expect(raise(SIGHUP) == 0)
        #expect(receiver.receive() == [SIGHUP])
        #expect(receiver.receive() == [])
    }

    @Test func severalSignalsDrainInOneCall() throws {
        let receiver = try SignalReceiver()
        defer { receiver.close() }
        #expect(raise(SIGTERM) == 0)
        #expect(raise(SIGINT) == 0)
        #expect(raise(SIGTERM) == 0)  // standard signals coalesce while pending
        // The kernel dequeues the lowest-numbered pending signal first.
        #expect(receiver.receive() == [SIGINT, SIGTERM])
    }

    @Test func signalfdWakesTheEventLoop() throws {
        let receiver = try SignalReceiver()
        defer { receiver.close() }
        let loop = try EventLoop()
        try loop.add(receiver.fileDescriptor, token: 3)
        #expect(try loop.wait(timeoutMilliseconds: 0) { _ in } == 0)
        #expect(raise(SIGHUP) == 0)
        var tokens: [Int] = []
        #expect(try loop.wait(timeoutMilliseconds: 1000) { tokens.append($0) } == 1)
        #expect(tokens == [3])
        #expect(receiver.receive() == [SIGHUP])
    }

    @Test func closeRestoresTheMaskItChanged() throws {
        // Start from a known mask on this thread: SIGUSR1 blocked, SIGHUP not.
        // (Test threads come from Dispatch, whose workers block SIGHUP, SIGINT,
        // SIGTERM and more already; restore that at the end.)
        var original = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &original)
        defer { pthread_sigmask(SIG_SETMASK, &original, nil) }
        setBlocked(SIGUSR1, true)
        setBlocked(SIGHUP, false)

        let receiver = try SignalReceiver(signals: [SIGUSR1, SIGHUP])
        #expect(isBlocked(SIGHUP) && isBlocked(SIGUSR1))
        #expect(raise(SIGHUP) == 0)  // left pending: close must discard it, not die of it
        receiver.close()
        receiver.close()  // idempotent
        #expect(!isBlocked(SIGHUP))
        #expect(isBlocked(SIGUSR1))
        #expect(receiver.receive() == [])
    }

    @Test func unblockableOrUnknownSignalsAreRefused() {
        var before = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &before)
        #expect(throws: SystemError.self) { try SignalReceiver(signals: [SIGKILL]) }
        #expect(throws: SystemError.self) { try SignalReceiver(signals: [0]) }
        #expect(throws: SystemError.self) { try SignalReceiver(signals: [1000]) }
        // Nothing was left blocked by the failed attempts.
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            #expect(isBlocked(signal) == (sigismember(&before, signal) == 1))
        }
    }

    private func setBlocked(_ signal: Int32, _ blocked: Bool) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nil)
    }

    private func isBlocked(_ signal: Int32) -> Bool {
        var current = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &current)
        return sigismember(&current, signal) == 1
    }
}

import Foundation
import Synchronization

/// A dedicated thread for blocking ALSA calls, which must never run on the
/// NIO event loops or the cooperative pool. `start` returns once the body
/// says whether its device opened; `join` waits for the body to return.
final class AudioThread: Sendable {
    private let opened = Mutex<CheckedContinuation<Void, any Error>?>(nil)
    private let exit = Mutex<(done: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    /// Runs `body` on a new thread. The body calls `reportOpened` once.
    func start(name: String, _ body: @escaping @Sendable (_ reportOpened: @escaping @Sendable ((any Error)?) -> Void) -> Void) async throws {
        try await withCheckedThrowingContinuation { continuation in
            opened.withLock { $0 = continuation }
            let thread = Thread { [self] in
                body { error in
                    guard let continuation = self.opened.withLock({ $0.take() }) else { return }
                    if let error { continuation.resume(throwing: error) } else { continuation.resume() }
                }
                let waiter = exit.withLock { state -> CheckedContinuation<Void, Never>? in
                    state.done = true
                    return state.waiter.take()
                }
                waiter?.resume()
            }
            thread.name = name
            thread.start()
        }
    }

    func join() async {
        await withCheckedContinuation { continuation in
            let done = exit.withLock { state -> Bool in
                if !state.done { state.waiter = continuation }
                return state.done
            }
            if done { continuation.resume() }
        }
    }
}

/// Counters and levels written by the audio threads, read by `status`.
final class SharedStatistics: Sendable {
    private let value = Mutex(AudioStatistics())

    func update(_ change: (inout AudioStatistics) -> Void) {
        value.withLock { change(&$0) }
    }

    var snapshot: AudioStatistics { value.withLock { $0 } }
}

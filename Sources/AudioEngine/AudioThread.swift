import Foundation
import Synchronization

/// A dedicated thread for blocking ALSA calls, which must never run on the
/// NIO event loops or the cooperative pool. `start` opens the device on the
/// thread, returns once it is open (or throws why not), and leaves the
/// thread running `body` with it; `join` waits for `body` to return.
final class AudioThread: Sendable {
    private let opened = Mutex<CheckedContinuation<Void, any Error>?>(nil)
    private let exit = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func start(
        name: String, open: @escaping @Sendable () throws -> PCMDevice, body: @escaping @Sendable (PCMDevice) -> Void
    ) async throws {
        try await withCheckedThrowingContinuation { continuation in
            opened.withLock { $0 = continuation }
            let thread = Thread { [self] in
                do {
                    let device = try open()
                    opened.withLock { $0.take() }?.resume()
                    body(device)
                } catch {
                    opened.withLock { $0.take() }?.resume(throwing: error)
                }
                let waiters = exit.withLock { state in
                    state.done = true
                    defer { state.waiters.removeAll() }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume() }
            }
            thread.name = name
            thread.start()
        }
    }

    /// Waits for `body` to return; any number of callers may wait.
    func join() async {
        await withCheckedContinuation { continuation in
            let done = exit.withLock { state -> Bool in
                if !state.done { state.waiters.append(continuation) }
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

import NIOConcurrencyHelpers

/// A dedicated thread for blocking ALSA calls, which must never run on the
/// NIO event loops or the cooperative pool. `start` asks for real-time
/// scheduling, opens the device on the thread, returns once it is open (or
/// throws why not), and leaves the thread running `body` with it; `join`
/// waits for `body` to return.
final class AudioThread: Sendable {
    private let opened = NIOLockedValueBox<CheckedContinuation<RealtimeScheduling.Outcome, any Error>?>(nil)
    private let exit = NIOLockedValueBox<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func start(
        name: String, realtimePriority: Int, open: @escaping @Sendable () throws -> PCMDevice,
        body: @escaping @Sendable (PCMDevice) -> Void
    ) async throws -> RealtimeScheduling.Outcome {
        try await withCheckedThrowingContinuation { continuation in
            opened.withLockedValue { $0 = continuation }
            do {
                try PosixThread.start(name: name) { [self] in
                    do {
                        let scheduling = RealtimeScheduling.apply(priority: realtimePriority)
                        let device = try open()
                        opened.withLockedValue { $0.take() }?.resume(returning: scheduling)
                        body(device)
                    } catch {
                        opened.withLockedValue { $0.take() }?.resume(throwing: error)
                    }
                    finished()
                }
            } catch {
                opened.withLockedValue { $0.take() }?.resume(throwing: error)
                finished()
            }
        }
    }

    private func finished() {
        let waiters = exit.withLockedValue { state in
            state.done = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits for `body` to return; any number of callers may wait.
    func join() async {
        await withCheckedContinuation { continuation in
            let done = exit.withLockedValue { state -> Bool in
                if !state.done { state.waiters.append(continuation) }
                return state.done
            }
            if done { continuation.resume() }
        }
    }
}

/// Counters and levels written by the audio threads, read by `status`.
final class SharedStatistics: Sendable {
    private let value = NIOLockedValueBox(AudioStatistics())

    func update<Result>(_ change: (inout AudioStatistics) -> Result) -> Result {
        value.withLockedValue { change(&$0) }
    }

    var snapshot: AudioStatistics { value.withLockedValue { $0 } }
}

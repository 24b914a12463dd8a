import Synchronization

/// Runs two operations and returns whichever finishes first, without waiting
/// for the loser (which is cancelled). A task group would wait for both.
enum FirstOutcome<Value: Sendable> {
    static func race(
        _ first: @escaping @Sendable () async -> Value,
        _ second: @escaping @Sendable () async -> Value
    ) async -> Value {
        let slot = Mutex<CheckedContinuation<Value, Never>?>(nil)
        let tasks = Mutex<[Task<Void, Never>]>([])
        let value = await withCheckedContinuation { continuation in
            slot.withLock { $0 = continuation }
            let resumeOnce: @Sendable (Value) -> Void = { value in
                slot.withLock { $0.take() }?.resume(returning: value)
            }
            tasks.withLock {
                $0 = [Task { resumeOnce(await first()) }, Task { resumeOnce(await second()) }]
            }
        }
        for task in tasks.withLock({ $0 }) { task.cancel() }
        return value
    }
}

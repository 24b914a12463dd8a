import NIOConcurrencyHelpers

/// Runs two operations and returns whichever finishes first, without waiting
/// for the loser (which is cancelled). A task group would wait for both.
enum FirstOutcome<Value: Sendable> {
    static func race(
        _ first: @escaping @Sendable () async -> Value,
        _ second: @escaping @Sendable () async -> Value
    ) async -> Value {
        let slot = NIOLockedValueBox<CheckedContinuation<Value, Never>?>(nil)
        let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
        let value = await withCheckedContinuation { continuation in
            slot.withLockedValue { $0 = continuation }
            let resumeOnce: @Sendable (Value) -> Void = { value in
                slot.withLockedValue { $0.take() }?.resume(returning: value)
            }
            tasks.withLockedValue {
                $0 = [Task { resumeOnce(await first()) }, Task { resumeOnce(await second()) }]
            }
        }
        for task in tasks.withLockedValue({ $0 }) { task.cancel() }
        return value
    }
}

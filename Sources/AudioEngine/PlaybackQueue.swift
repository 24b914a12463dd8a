import DequeModule
import NIOConcurrencyHelpers

/// The agent's speech waiting to be played, shared by the session
/// (producer) and the playback thread (consumer). It holds at most
/// `capacity` samples, but its memory follows what is queued: a fixed ring
/// of two minutes would keep 3.7 MB resident through every conversation.
///
/// `@unchecked Sendable`: every stored property is read and written only
/// while `condition` is locked. Its value says whether the consumer has
/// something to do, and wakes it when that becomes true.
final class PlaybackQueue: @unchecked Sendable {
    private let condition = ConditionLock(value: false)
    private let capacity: Int
    private var samples = Deque<Int16>()
    private var generation: UInt64 = 0
    /// The generation the consumer last saw.
    private var consumerGeneration: UInt64 = 0
    private var clearedAt = ContinuousClock.now
    private var ending = Ending.no

    /// Whether the consumer should stop, and when.
    enum Ending {
        case no
        /// Once what is queued has been taken.
        case afterDraining
        /// At once.
        case now
    }

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Appends samples; returns how many did not fit and were dropped.
    func append(_ newSamples: some Collection<Int16>) -> Int {
        condition.lock()
        let accepted = min(newSamples.count, capacity - samples.count)
        samples.append(contentsOf: newSamples.prefix(accepted))
        condition.unlock(withValue: consumerHasWork)
        return newSamples.count - accepted
    }

    /// Forgets everything queued and tells the consumer to silence the
    /// device. Returns how many samples were forgotten.
    func clear() -> Int {
        condition.lock()
        let forgotten = samples.count
        samples.removeAll()
        generation &+= 1
        clearedAt = .now
        condition.unlock(withValue: consumerHasWork)
        return forgotten
    }

    /// Tells the consumer to stop: at once, or once the queue is empty.
    func end(_ when: Ending) {
        condition.lock()
        if case .now = when { ending = .now } else if case .no = ending { ending = when }
        condition.unlock(withValue: consumerHasWork)
    }

    struct Take {
        var samples: Int
        /// Changes with every `clear`: the consumer drops the device's audio
        /// when it sees a new one.
        var generation: UInt64
        /// When the latest `clear` happened.
        var clearedAt: ContinuousClock.Instant
        /// Nothing more will come: the consumer should stop.
        var finished: Finish?
    }

    enum Finish {
        /// Let the device play what it holds, then close.
        case drain
        /// Drop what the device holds and close.
        case drop
    }

    /// Copies up to `buffer.count` samples, waiting until some are queued
    /// or the queue is cleared or ended. Between replies the playback
    /// thread sleeps here without waking.
    func take(into buffer: UnsafeMutableBufferPointer<Int16>) -> Take {
        condition.lock(whenValue: true)
        return takeLocked(into: buffer)
    }

    /// `take`, waiting at most `limit`: nil when nothing came meanwhile.
    func take(into buffer: UnsafeMutableBufferPointer<Int16>, waitingAtMost limit: Duration) -> Take? {
        guard condition.lock(whenValue: true, timeoutSeconds: Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18)
        else { return nil }
        return takeLocked(into: buffer)
    }

    /// The body of `take`, with the lock held; releases it.
    private func takeLocked(into buffer: UnsafeMutableBufferPointer<Int16>) -> Take {
        defer {
            consumerGeneration = generation
            condition.unlock(withValue: consumerHasWork)
        }
        let finished: Finish? =
            switch ending {
            case .now: .drop
            case .afterDraining where samples.isEmpty: .drain
            case .afterDraining, .no: nil
            }
        let taken = finished == nil ? min(samples.count, buffer.count) : 0
        _ = buffer.update(fromContentsOf: samples.prefix(taken))
        samples.removeFirst(taken)
        return Take(samples: taken, generation: generation, clearedAt: clearedAt, finished: finished)
    }

    /// Changes with every `clear`.
    var generationNow: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return generation
    }

    var queuedSamples: Int {
        condition.lock()
        defer { condition.unlock() }
        return samples.count
    }

    /// Samples to play, a clear not yet seen, or an end: called locked.
    private var consumerHasWork: Bool {
        if !samples.isEmpty || generation != consumerGeneration { return true }
        if case .no = ending { return false }
        return true
    }
}

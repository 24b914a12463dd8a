import DequeModule
import Foundation

/// The agent's speech waiting to be played, shared by the session
/// (producer) and the playback thread (consumer). It holds at most
/// `capacity` samples, but its memory follows what is queued: a fixed ring
/// of two minutes would keep 3.7 MB resident through every conversation.
///
/// `@unchecked Sendable`: every stored property is read and written only
/// while `condition` is locked; the condition also wakes the consumer.
final class PlaybackQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var samples = Deque<Int16>()
    private var generation: UInt64 = 0
    private var clearedAt = ContinuousClock.now
    private var closed = false
    private(set) var overflowedSamples = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Appends samples; what does not fit is dropped and counted.
    func append(_ newSamples: some Collection<Int16>) {
        condition.lock()
        defer { condition.unlock() }
        let accepted = min(newSamples.count, capacity - samples.count)
        samples.append(contentsOf: newSamples.prefix(accepted))
        overflowedSamples += newSamples.count - accepted
        condition.signal()
    }

    /// Forgets everything queued and tells the consumer to silence the device.
    func clear() {
        condition.lock()
        samples.removeAll()
        generation &+= 1
        clearedAt = .now
        condition.signal()
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        condition.signal()
        condition.unlock()
    }

    struct Take {
        var samples: Int
        /// Changes with every `clear`: the consumer drops the device's audio
        /// when it sees a new one.
        var generation: UInt64
        /// When the latest `clear` happened.
        var clearedAt: ContinuousClock.Instant
        var closed: Bool
    }

    /// Copies up to `buffer.count` samples, waiting until some are queued
    /// or the queue is cleared or closed. Between replies the playback
    /// thread sleeps here without waking.
    func take(into buffer: UnsafeMutableBufferPointer<Int16>, knownGeneration: UInt64) -> Take {
        condition.lock()
        defer { condition.unlock() }
        while samples.isEmpty, !closed, generation == knownGeneration {
            condition.wait()
        }
        let taken = min(samples.count, buffer.count)
        _ = buffer.update(fromContentsOf: samples.prefix(taken))
        samples.removeFirst(taken)
        return Take(samples: taken, generation: generation, clearedAt: clearedAt, closed: closed)
    }

    var queuedSamples: Int {
        condition.lock()
        defer { condition.unlock() }
        return samples.count
    }
}

import Foundation

/// The agent's speech waiting to be played: a fixed ring of samples shared
/// by the session (producer) and the playback thread (consumer).
///
/// `@unchecked Sendable`: every stored property is read and written only
/// while `condition` is locked; the condition also wakes the consumer.
final class PlaybackQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var ring: [Int16]
    private var head = 0
    private var count = 0
    private var generation: UInt64 = 0
    private var clearedAt = ContinuousClock.now
    private var closed = false
    private(set) var overflowedSamples = 0

    init(capacity: Int) {
        ring = [Int16](repeating: 0, count: capacity)
    }

    /// Appends samples; what does not fit is dropped and counted.
    func append(_ samples: some Collection<Int16>) {
        condition.lock()
        defer { condition.unlock() }
        var tail = (head + count) % ring.count
        for sample in samples {
            guard count < ring.count else {
                overflowedSamples += 1
                continue
            }
            ring[tail] = sample
            tail = tail + 1 == ring.count ? 0 : tail + 1
            count += 1
        }
        condition.signal()
    }

    /// Forgets everything queued and tells the consumer to silence the device.
    func clear() {
        condition.lock()
        count = 0
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
        while count == 0, !closed, generation == knownGeneration {
            condition.wait()
        }
        let taken = min(count, buffer.count)
        for index in 0..<taken {
            buffer[index] = ring[(head + index) % ring.count]
        }
        head = (head + taken) % ring.count
        count -= taken
        return Take(samples: taken, generation: generation, clearedAt: clearedAt, closed: closed)
    }

    var queuedSamples: Int {
        condition.lock()
        defer { condition.unlock() }
        return count
    }
}

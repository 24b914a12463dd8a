@testable import AudioEngine
import Testing

@Suite("The playback queue")
struct PlaybackQueueTests {
    private func take(_ count: Int, from queue: PlaybackQueue, generation: UInt64 = 0) -> ([Int16], PlaybackQueue.Take) {
        var buffer = [Int16](repeating: -1, count: count)
        let taken = buffer.withUnsafeMutableBufferPointer { queue.take(into: $0, knownGeneration: generation) }
        return (Array(buffer.prefix(taken.samples)), taken)
    }

    @Test func samplesComeOutInOrderAcrossPartialTakes() {
        let queue = PlaybackQueue(capacity: 100)
        queue.append([1, 2, 3])
        queue.append([4, 5])
        #expect(take(2, from: queue).0 == [1, 2])
        #expect(take(10, from: queue).0 == [3, 4, 5])
        #expect(queue.queuedSamples == 0)
    }

    @Test func audioBeyondTheCapacityIsDroppedAndCounted() {
        let queue = PlaybackQueue(capacity: 4)
        queue.append([1, 2, 3])
        queue.append([4, 5, 6])
        #expect(queue.overflowedSamples == 2)
        #expect(take(10, from: queue).0 == [1, 2, 3, 4])
        queue.append([7, 8, 9, 10, 11])
        #expect(queue.overflowedSamples == 3)
        #expect(take(10, from: queue).0 == [7, 8, 9, 10])
    }

    @Test func clearDropsTheQueuedReplyAndTellsTheConsumer() {
        let queue = PlaybackQueue(capacity: 100)
        queue.append([1, 2, 3])
        queue.clear()
        #expect(queue.queuedSamples == 0)
        let (samples, taken) = take(10, from: queue)
        #expect(samples.isEmpty)
        #expect(taken.generation == 1)
        queue.append([4])
        #expect(take(10, from: queue, generation: 1).0 == [4])
    }
}

@testable import AudioEngine
import Testing

@Suite("The playback queue")
struct PlaybackQueueTests {
    private func take(_ count: Int, from queue: PlaybackQueue) -> ([Int16], PlaybackQueue.Take) {
        var buffer = [Int16](repeating: -1, count: count)
        let taken = buffer.withUnsafeMutableBufferPointer { queue.take(into: $0) }
        return (Array(buffer.prefix(taken.samples)), taken)
    }

    @Test func samplesComeOutInOrderAcrossPartialTakes() {
        let queue = PlaybackQueue(capacity: 100)
        #expect(queue.append([1, 2, 3]) == 0)
        #expect(queue.append([4, 5]) == 0)
        #expect(take(2, from: queue).0 == [1, 2])
        #expect(take(10, from: queue).0 == [3, 4, 5])
        #expect(queue.queuedSamples == 0)
    }

    @Test func audioBeyondTheCapacityIsDroppedAndCounted() {
        let queue = PlaybackQueue(capacity: 4)
        #expect(queue.append([1, 2, 3]) == 0)
        #expect(queue.append([4, 5, 6]) == 2)
        #expect(take(10, from: queue).0 == [1, 2, 3, 4])
        #expect(queue.append([7, 8, 9, 10, 11]) == 1)
        #expect(take(10, from: queue).0 == [7, 8, 9, 10])
    }

    @Test func clearDropsTheQueuedReplyAndTellsTheConsumer() {
        let queue = PlaybackQueue(capacity: 100)
        _ = queue.append([1, 2, 3])
        #expect(queue.clear() == 3)
        #expect(queue.queuedSamples == 0)
        let (samples, taken) = take(10, from: queue)
        #expect(samples.isEmpty)
        #expect(taken.generation == 1)
        _ = queue.append([4])
        #expect(take(10, from: queue).0 == [4])
    }

    @Test func endingAfterDrainingHandsOutWhatIsQueuedFirst() {
        let queue = PlaybackQueue(capacity: 100)
        _ = queue.append([1, 2, 3])
        queue.end(.afterDraining)
        let (samples, taken) = take(2, from: queue)
        #expect(samples == [1, 2] && taken.finished == nil)
        #expect(take(2, from: queue).0 == [3])
        #expect(take(2, from: queue).1.finished == .drain)
    }

    @Test func endingNowWinsOverDraining() {
        let queue = PlaybackQueue(capacity: 100)
        _ = queue.append([1, 2, 3])
        queue.end(.afterDraining)
        queue.end(.now)
        let (samples, taken) = take(10, from: queue)
        #expect(samples.isEmpty && taken.finished == .drop)
        #expect(queue.queuedSamples == 3, "what was not taken is left for the consumer to count as dropped")
    }
}

@testable import AgentSession
import Foundation
import NIOCore
import Synchronization
import Testing

@Suite("Microphone chunks on their way to the socket")
struct MicrophoneChunksTests {
    private func chunk(_ number: Int) -> CapturedAudio {
        CapturedAudio(samples: Data([UInt8(number)]))
    }

    private func numbers(_ count: Int, from iterator: inout MicrophoneChunks.Chunks.AsyncIterator) async -> [Int] {
        var numbers: [Int] = []
        for _ in 0..<count {
            guard let chunk = await iterator.next() else { break }
            numbers.append(Int(chunk.samples[0]))
        }
        return numbers
    }

    @Test func theyArriveInOrderAndEndWhenFinished() async {
        let microphone = MicrophoneChunks()
        for number in 0..<5 { microphone.yield(chunk(number)) }
        microphone.finish()
        var iterator = microphone.chunks.makeAsyncIterator()
        #expect(await numbers(10, from: &iterator) == [0, 1, 2, 3, 4])
    }

    @Test func aSocketASecondBehindLosesTheNewestUntilItHasCaughtUpAndSaysSo() async {
        let fellBehind = Tally()
        let microphone = MicrophoneChunks { fellBehind.count.add(1, ordering: .relaxed) }
        for number in 0..<(MicrophoneChunks.waitingMost + 10) { microphone.yield(chunk(number)) }
        #expect(microphone.droppedChunks == 10)
        #expect(fellBehind.count.load(ordering: .relaxed) == 1, "once when the dropping began")
        var iterator = microphone.chunks.makeAsyncIterator()
        #expect(await numbers(MicrophoneChunks.waitingMost, from: &iterator) == Array(0..<MicrophoneChunks.waitingMost))
        microphone.yield(chunk(200))
        // Behind a second time: fifty wait again (200 among them), six more
        // are dropped, and it is said again.
        for number in 0..<(MicrophoneChunks.waitingMost + 5) { microphone.yield(chunk(number)) }
        #expect(microphone.droppedChunks == 16)
        #expect(fellBehind.count.load(ordering: .relaxed) == 2)
        microphone.finish()
        #expect(await numbers(1, from: &iterator) == [200])
    }
}

private final class Tally: Sendable {
    let count = Atomic(0)
}

import NIOCore
import Synchronization

/// Microphone chunks on their way from the capture thread to the socket's
/// event loop. NIO's producer sequence, not AsyncStream: its code is
/// specialized for the chunk here, where AsyncStream's runs generic in the
/// standard library, looking up type metadata on every chunk (measured:
/// most of the capture thread's hand-off, BENCHMARKS.md *Where the
/// daemon's CPU and memory go*).
public struct MicrophoneChunks: Sendable {
    typealias Chunks = NIOAsyncSequenceProducer<CapturedAudio, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, Demand>

    /// Fifty chunks at most (a second at the default 20 ms) wait for the
    /// socket; past that, new chunks are dropped until it has caught up to
    /// a quarter of that.
    static let waitingMost = 50

    let chunks: Chunks
    private let source: Chunks.Source
    private let demand = Demand()

    public init() {
        let made = Chunks.makeSequence(
            backPressureStrategy: .init(lowWatermark: Self.waitingMost / 4, highWatermark: Self.waitingMost), finishOnDeinit: false,
            delegate: demand)
        chunks = made.sequence
        source = made.source
    }

    /// Hands a chunk on, from any thread; it never waits for the socket.
    public func yield(_ chunk: CapturedAudio) {
        demand.wanted.withLock { wanted in
            guard wanted else { return }
            wanted = source.yield(chunk) != .stopProducing
        }
    }

    /// No more chunks: the socket's loop ends once it has sent those waiting.
    public func finish() {
        source.finish()
    }

    /// Whether the socket wants more: NIO says no past the high watermark
    /// (`yield`'s answer) and yes again below the low one. One lock over
    /// both, so that a yes cannot come between a yield and its no.
    final class Demand: NIOAsyncSequenceProducerDelegate {
        let wanted = Mutex(true)

        func produceMore() {
            wanted.withLock { $0 = true }
        }

        func didTerminate() {}
    }
}

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
    /// socket; past that, new chunks are dropped (and counted) until it has
    /// caught up to a quarter of that.
    static let waitingMost = 50

    let chunks: Chunks
    private let source: Chunks.Source
    private let demand = Demand()
    private let fellBehind: @Sendable () -> Void

    /// `fellBehind` is called, on the capture thread, when chunks begin to
    /// be dropped: once each time the socket falls behind.
    public init(fellBehind: @escaping @Sendable () -> Void = {}) {
        self.fellBehind = fellBehind
        let made = Chunks.makeSequence(
            backPressureStrategy: .init(lowWatermark: Self.waitingMost / 4, highWatermark: Self.waitingMost), finishOnDeinit: false,
            delegate: demand)
        chunks = made.sequence
        source = made.source
    }

    /// Hands a chunk on, from any thread; it never waits for the socket.
    public func yield(_ chunk: CapturedAudio) {
        let (dropped, first) = demand.state.withLock { state -> (Bool, Bool) in
            guard state.wanted else {
                let first = !state.dropping
                state.dropping = true
                state.dropped += 1
                return (true, first)
            }
            state.wanted = source.yield(chunk) != .stopProducing
            state.dropping = false
            return (false, false)
        }
        guard dropped else { return }
        SessionMetrics.microphoneChunkDropped()
        if first { fellBehind() }
    }

    /// Chunks dropped because fifty waited for the socket.
    public var droppedChunks: Int {
        demand.state.withLock { $0.dropped }
    }

    /// No more chunks: the socket's loop ends once it has sent those waiting.
    public func finish() {
        source.finish()
    }

    /// Whether the socket wants more: NIO says no past the high watermark
    /// (`yield`'s answer) and yes again below the low one. One lock over
    /// both, so that a yes cannot come between a yield and its no.
    final class Demand: NIOAsyncSequenceProducerDelegate {
        struct State {
            var wanted = true
            /// Since the last chunk handed on.
            var dropping = false
            var dropped = 0
        }

        let state = Mutex(State())

        func produceMore() {
            state.withLock { $0.wanted = true }
        }

        func didTerminate() {}
    }
}

import AgentSession
import Foundation
import Synchronization

/// The sound card side of a conversation: capture to the agent, playback
/// from it, interrupts that silence within one period, counters and levels.
public final class AudioEngine: AgentAudioSink {
    public let configuration: AudioDeviceConfiguration
    private let statistics = SharedStatistics()
    private let report: @Sendable (AudioEngineEvent) -> Void
    private let streams = Mutex<(playback: PlaybackStream?, capture: CaptureStream?)>((nil, nil))
    private let muted = Atomic(false)

    public init(configuration: AudioDeviceConfiguration, onEvent: @escaping @Sendable (AudioEngineEvent) -> Void = { _ in }) {
        self.configuration = configuration
        self.report = onEvent
    }

    /// Opens both devices in the formats the agent negotiated. Captured
    /// chunks go to `deliver`, on the capture thread. Throws a clear error
    /// naming the device when one cannot be opened.
    public func start(input: AudioFormat, output: AudioFormat, deliver: @escaping @Sendable (Data) -> Void) async throws {
        await stop()
        let playback = PlaybackStream(configuration: configuration, sampleRate: output.sampleRate, statistics: statistics, report: report)
        try await playback.start()
        let capture = CaptureStream(
            configuration: configuration, format: input, muted: muted.load(ordering: .relaxed), statistics: statistics, report: report,
            deliver: deliver)
        do {
            try await capture.start()
        } catch {
            await playback.stop()
            throw error
        }
        streams.withLock { $0 = (playback, capture) }
    }

    /// Closes both devices.
    public func stop() async {
        let (playback, capture) = streams.withLock { current in
            defer { current = (nil, nil) }
            return current
        }
        await capture?.stop()
        await playback?.stop()
    }

    public func play(_ chunk: AgentAudioChunk) {
        guard let queue = streams.withLock({ $0.playback?.queue }) else { return }
        switch chunk.format.encoding {
        case .pcm:
            chunk.samples.withUnsafeBytes { raw in
                queue.append((0..<raw.count / 2).lazy.map { Int16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) })
            }
        case .ulaw:
            queue.append(chunk.samples.lazy.map(MuLaw.decode))
        }
    }

    /// Silences playback within one period and forgets what was queued.
    public func stopPlayback() {
        guard let queue = streams.withLock({ $0.playback?.queue }) else { return }
        let queued = queue.queuedSamples
        queue.clear()
        statistics.update { $0.framesDropped += queued }
    }

    public func setMuted(_ value: Bool) {
        muted.store(value, ordering: .relaxed)
        streams.withLock { $0.capture }?.setMuted(value)
        statistics.update { $0.muted = value }
    }

    public var isMuted: Bool { muted.load(ordering: .relaxed) }

    public var currentStatistics: AudioStatistics { statistics.snapshot }
}

import AudioCodec
import FoundationEssentials
import NIOConcurrencyHelpers
import Synchronization

/// The sound card side of one conversation: capture to the agent, playback
/// from it, interrupts that silence within one period, and an account of
/// every frame of agent audio: played, or dropped with its reason.
public final class AudioEngine: Sendable {
    public let configuration: AudioDeviceConfiguration
    private let statistics = SharedStatistics()
    private let report: @Sendable (AudioEngineEvent) -> Void
    private let streams = NIOLockedValueBox<OpenStreams?>(nil)
    private let muted: Synchronization.Atomic<Bool>

    private struct OpenStreams {
        let playback: PlaybackStream
        let capture: CaptureStream
    }

    public init(
        configuration: AudioDeviceConfiguration, muted: Bool = false, onEvent: @escaping @Sendable (AudioEngineEvent) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.muted = Synchronization.Atomic(muted)
        self.report = onEvent
        statistics.update { $0.muted = muted }
    }

    /// Opens both devices in the formats the agent negotiated. Captured
    /// chunks go to `deliver`, on the capture thread, already encoded in
    /// `input`. Throws a clear error naming the device when one cannot be
    /// opened.
    public func open(input: AudioFormat, output: AudioFormat, deliver: @escaping @Sendable (Data) -> Void) async throws {
        // Both directions on the microphone's clock: what the speaker played
        // is there when the capture thread looks for its echo.
        let echo = configuration.echo == .none ? nil : EchoPath(
            reference: EchoReference(capacityFrames: input.sampleRate * 4, continuityFrames: input.sampleRate / 50, resumeFrames: input.sampleRate / 250),
            timeline: EchoTimeline(sampleRate: input.sampleRate), audibility: EchoAudibility())
        let playback = PlaybackStream(
            configuration: configuration, sampleRate: output.sampleRate, echo: echo, statistics: statistics, report: report)
        let playbackScheduling = try await playback.start()
        let capture = CaptureStream(
            configuration: configuration, format: input, muted: muted.load(ordering: .relaxed), echo: echo, statistics: statistics,
            report: report, deliver: deliver)
        let captureScheduling: RealtimeScheduling.Outcome
        do {
            captureScheduling = try await capture.start()
        } catch {
            await playback.stop()
            throw error
        }
        streams.withLockedValue { $0 = OpenStreams(playback: playback, capture: capture) }
        record(scheduling: [playbackScheduling, captureScheduling])
    }

    /// Shows the priority in `status` when both threads have it; reports a
    /// refusal once per process.
    private func record(scheduling outcomes: [RealtimeScheduling.Outcome]) {
        let realtime = outcomes.allSatisfy { $0 == .realtime(priority: configuration.realtimePriority) }
        statistics.update { $0.realtimePriority = realtime ? configuration.realtimePriority : nil }
        for case .refused(let reason) in outcomes.prefix(1) where RealtimeScheduling.shouldReport() {
            report(.realtimeRefused(reason: reason))
        }
    }

    /// Queues agent speech: `bytes` of samples in `format`.
    public func play(_ bytes: Data, format: AudioFormat) {
        guard let queue = streams.withLockedValue({ $0?.playback.queue }) else {
            statistics.update { $0.drop(PCMCodec.sampleCount(bytes: bytes.count, format: format), .deviceNotReady) }
            return
        }
        let overflow = queue.append(PCMCodec.linearSamples(from: bytes, format: format))
        statistics.update { $0.drop(overflow, .queueOverflow) }
    }

    /// Counts agent audio that a layer above dropped before it got here.
    public func discard(frames: Int, reason: DropReason) {
        statistics.update { $0.drop(frames, reason) }
    }

    /// Silences playback within one period and forgets what was queued;
    /// returns how many frames that was.
    @discardableResult
    public func stopPlayback() -> Int {
        guard let playback = streams.withLockedValue({ $0?.playback }) else { return 0 }
        let queued = playback.interrupt()
        statistics.update { $0.drop(queued, .interrupted) }
        return queued
    }

    /// Lets what is queued play out, for at most `limit`; what is left then
    /// is dropped. `stopPlayback` or `close` during the wait cut it short.
    public func drain(atMost limit: Duration) async {
        guard let playback = streams.withLockedValue({ $0?.playback }) else { return }
        await playback.drain(atMost: limit)
    }

    /// Closes both devices at once; agent audio not yet heard is counted as
    /// dropped because the conversation ended.
    public func close() async {
        guard let open = streams.withLockedValue({ $0.take() }) else { return }
        async let capture: Void = open.capture.stop()
        async let playback: Void = open.playback.stop()
        _ = await (capture, playback)
    }

    public func setMuted(_ value: Bool) {
        muted.store(value, ordering: .relaxed)
        streams.withLockedValue { $0?.capture }?.setMuted(value)
        statistics.update { $0.muted = value }
    }

    public var isMuted: Bool { muted.load(ordering: .relaxed) }

    /// Whether agent speech is queued for the speaker or may still be
    /// playing from its buffer: a server that paces its audio leaves the
    /// queue empty between chunks while the reply goes on.
    public var isPlaying: Bool {
        if (streams.withLockedValue { $0?.playback.queue }?.queuedSamples ?? 0) > 0 { return true }
        return statistics.snapshot.audibleUntil.map { $0 > .now } ?? false
    }

    public var currentStatistics: AudioStatistics { statistics.snapshot }
}

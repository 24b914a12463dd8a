// The audio formats and codec are part of this module's API.
@_exported import AudioCodec
import FoundationEssentials

/// Agent speech for the playback side, in the format the agent negotiated.
public struct AgentAudioChunk: Sendable, Equatable {
    public let samples: Data
    public let format: AudioFormat
    /// The reply this audio belongs to; an interruption at or above it
    /// silences it.
    public let eventID: EventID

    public init(samples: Data, format: AudioFormat, eventID: EventID) {
        self.samples = samples
        self.format = format
        self.eventID = eventID
    }
}

/// Where a session hands agent audio. Calls arrive in order from one task
/// at a time; `play` must return quickly (queue, don't play).
public protocol AgentAudioSink: Sendable {
    /// The agent named its formats: open the sound card. The session handles
    /// no further message from the server until this returns, so the
    /// greeting that follows at once finds the device ready. A thrown error
    /// ends the conversation with its description.
    func open(input: AudioFormat, output: AudioFormat) async throws
    func play(_ chunk: AgentAudioChunk)
    /// Agent audio the session received but will not pass on.
    func discard(frames: Int, reason: DropReason)
    /// Silence now: drop everything queued and what the device holds.
    /// Returns how many frames of agent audio were dropped unheard.
    func stopPlayback() -> Int
}

/// A microphone chunk, encoded for the agent, with when its last sample
/// was captured (for the capture-to-wire time).
public struct CapturedAudio: Sendable {
    public let samples: Data
    public let capturedAt: ContinuousClock.Instant

    public init(samples: Data, capturedAt: ContinuousClock.Instant = .now) {
        self.samples = samples
        self.capturedAt = capturedAt
    }
}

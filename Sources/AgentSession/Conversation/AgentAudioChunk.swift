import Foundation

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
/// at a time; implementations must return quickly (queue, don't play).
public protocol AgentAudioSink: Sendable {
    func play(_ chunk: AgentAudioChunk)
    /// Silence now: drop everything queued and what the device holds.
    func stopPlayback()
}

import AudioCodec

/// What `status` shows of the sound card during one conversation.
public struct AudioStatistics: Sendable, Equatable {
    public var framesCaptured = 0
    public var framesPlayed = 0
    /// Overruns and underruns in the middle of audio, recovered.
    public var xruns = 0
    /// Agent audio not played, in frames, by reason.
    public var dropped = DroppedFrames()
    public var deviceLosses = 0
    /// RMS of the last captured and played period, in dBFS.
    public var inputLevelDBFS: Double?
    public var outputLevelDBFS: Double?
    public var muted = false
    /// From the last interrupt to the device's buffer being dropped.
    public var lastInterruptToSilenceMs: Double?
    /// Until when what was last written to the speaker may still be
    /// playing (the device's buffer, and a period to spare); nil once
    /// silenced.
    public var audibleUntil: ContinuousClock.Instant?
    /// The audio threads' SCHED_FIFO priority; nil at normal priority.
    public var realtimePriority: Int?
    public var echo = EchoStatistics()

    public init() {}

    public var framesDropped: Int { dropped.total }
}

/// What echo handling does in this conversation.
public struct EchoStatistics: Sendable, Equatable {
    public var mode = EchoMode.none
    /// `cancel`: echo return loss enhancement over about the last second
    /// the speaker was heard, in dB; nil before there was any to measure.
    public var returnLossEnhancementDB: Double?
    /// `cancel`: the echo's delay beyond what the devices report (the
    /// room's path, latencies a device does not tell), in milliseconds.
    public var delayMs: Double?
    /// `cancel`: whether the canceller has converged since its last start.
    public var converged = false
    /// `cancel`: whether the microphone hears the speaker; when it does
    /// not (a headset), the canceller rests.
    public var speakerHeard = true
    /// Chunks sent as silence because the agent was heard: in
    /// `half-duplex`, and in `cancel` until the canceller has converged.
    public var silencedChunks = 0

    public init() {}
}

/// Something the audio side wants the daemon (and the user) to know.
public enum AudioEngineEvent: Sendable, Equatable {
    case deviceLost(device: String, reason: String)
    case deviceRestored(device: String)
    /// The audio threads run at normal priority: why real time was refused.
    case realtimeRefused(reason: String)
    /// The echo canceller converged: at the conversation's start, or again
    /// after a device was reopened.
    case echoConverged(returnLossEnhancementDB: Double, afterMilliseconds: Int, cause: EchoRestartCause)
    /// `cancel` cannot run in this conversation (the agent's format or the
    /// chunk size), and what the microphone does instead.
    case echoCancellerUnavailable(reason: String)
}

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

    public init() {}

    public var framesDropped: Int { dropped.total }
}

/// Something the audio side wants the daemon (and the user) to know.
public enum AudioEngineEvent: Sendable, Equatable {
    case deviceLost(device: String, reason: String)
    case deviceRestored(device: String)
    /// The audio threads run at normal priority: why real time was refused.
    case realtimeRefused(reason: String)
}

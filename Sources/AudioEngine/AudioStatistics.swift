/// What `status` shows of the sound card.
public struct AudioStatistics: Sendable, Equatable, Codable {
    public var framesCaptured = 0
    public var framesPlayed = 0
    /// Overruns and underruns in the middle of audio, recovered.
    public var xruns = 0
    /// Agent audio thrown away by interrupts, in frames.
    public var framesDropped = 0
    public var deviceLosses = 0
    /// RMS of the last captured and played period, in dBFS.
    public var inputLevelDBFS: Double?
    public var outputLevelDBFS: Double?
    public var muted = false
    /// From the last interrupt to the device's buffer being dropped.
    public var lastInterruptToSilenceMs: Double?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case framesCaptured = "frames_captured"
        case framesPlayed = "frames_played"
        case xruns
        case framesDropped = "frames_dropped"
        case deviceLosses = "device_losses"
        case inputLevelDBFS = "input_level_dbfs"
        case outputLevelDBFS = "output_level_dbfs"
        case muted
        case lastInterruptToSilenceMs = "last_interrupt_to_silence_ms"
    }
}

/// Something the audio side wants the daemon (and the user) to know.
public enum AudioEngineEvent: Sendable, Equatable {
    case deviceLost(device: String, reason: String)
    case deviceRestored(device: String)
}

/// What `status` answers. The API key is never part of it.
public struct StatusReport: Sendable, Equatable, Codable {
    public var version: String
    public var setup: Setup
    public var state: String
    public var conversationID: String?
    public var agentID: String?
    /// While active: `speaking` when agent speech is queued for the
    /// speaker, else `listening`.
    public var mode: String?
    /// The server's last voice activity score (0…1), where the agent sends them.
    public var vadScore: Double?
    public var uptimeSeconds: Double
    public var conversationSeconds: Double?
    public var latency: Latency
    public var audio: Audio
    public var counters: [String: Int]
    public var historyTurns: Int
    public var lastEnd: LastEnd?
    /// While a lost conversation waits to come back.
    public var reconnecting: Reconnecting?
    /// With the always-on mode: `on`, `waiting` (for the next conversation)
    /// or `paused` (by `stop`, until the next `start`); absent when off.
    public var alwaysOn: String?

    public init(
        version: String, setup: Setup, state: String, conversationID: String?, agentID: String?, uptimeSeconds: Double, conversationSeconds: Double?, latency: Latency,
        audio: Audio, counters: [String: Int], historyTurns: Int, lastEnd: LastEnd?, reconnecting: Reconnecting? = nil, mode: String? = nil,
        vadScore: Double? = nil, alwaysOn: String? = nil
    ) {
        self.alwaysOn = alwaysOn
        self.mode = mode
        self.vadScore = vadScore
        self.version = version
        self.setup = setup
        self.state = state
        self.conversationID = conversationID
        self.agentID = agentID
        self.uptimeSeconds = uptimeSeconds
        self.conversationSeconds = conversationSeconds
        self.latency = latency
        self.audio = audio
        self.counters = counters
        self.historyTurns = historyTurns
        self.lastEnd = lastEnd
        self.reconnecting = reconnecting
    }

    enum CodingKeys: String, CodingKey {
        case version, setup, state
        case conversationID = "conversation_id"
        case agentID = "agent_id"
        case mode
        case vadScore = "vad_score"
        case uptimeSeconds = "uptime_seconds"
        case conversationSeconds = "conversation_seconds"
        case latency, audio, counters
        case historyTurns = "history_turns"
        case lastEnd = "last_end"
        case reconnecting
        case alwaysOn = "always_on"
    }

    public struct Reconnecting: Sendable, Equatable, Codable {
        /// From 1; back to 1 once a conversation is established again.
        public var attempt: Int
        public var delayMs: Int
        /// Why the last conversation or attempt ended.
        public var cause: String

        public init(attempt: Int, delayMs: Int, cause: String) {
            self.attempt = attempt
            self.delayMs = delayMs
            self.cause = cause
        }

        enum CodingKeys: String, CodingKey {
            case attempt
            case delayMs = "delay_ms"
            case cause
        }
    }

    /// How the daemon is set up to start conversations (from its
    /// configuration as last loaded). Whether a key is loaded, never the key.
    public struct Setup: Sendable, Equatable, Codable {
        /// The agent `start` talks to when it names none.
        public var agentID: String?
        /// `signed_url` (a private agent, through the API key) or `public`.
        public var auth: String
        public var apiKeyLoaded: Bool

        public init(agentID: String?, auth: String, apiKeyLoaded: Bool) {
            self.agentID = agentID
            self.auth = auth
            self.apiKeyLoaded = apiKeyLoaded
        }

        enum CodingKeys: String, CodingKey {
            case agentID = "agent_id"
            case auth
            case apiKeyLoaded = "api_key_loaded"
        }
    }

    public struct Latency: Sendable, Equatable, Codable {
        public var samples: Int
        public var lastMs: Double?
        public var meanMs: Double?
        public var p50Ms: Double?
        public var p95Ms: Double?

        public init(samples: Int, lastMs: Double?, meanMs: Double?, p50Ms: Double?, p95Ms: Double?) {
            self.samples = samples
            self.lastMs = lastMs
            self.meanMs = meanMs
            self.p50Ms = p50Ms
            self.p95Ms = p95Ms
        }

        enum CodingKeys: String, CodingKey {
            case samples
            case lastMs = "last_ms"
            case meanMs = "mean_ms"
            case p50Ms = "p50_ms"
            case p95Ms = "p95_ms"
        }
    }

    public struct Audio: Sendable, Equatable, Codable {
        /// What the conversation under way uses; when idle, what the next one will.
        public var captureDevice: String
        public var playbackDevice: String
        public var periodMs: Int
        public var chunkMs: Int
        public var inputFormat: String?
        public var outputFormat: String?
        public var muted: Bool
        public var inputLevelDBFS: Double?
        public var outputLevelDBFS: Double?
        public var framesCaptured: Int
        public var framesPlayed: Int
        public var framesDropped: Int
        /// `frames_dropped` by reason: interrupted, stale_event_id,
        /// queue_overflow, device_not_ready, conversation_ended.
        public var droppedFrames: [String: Int]
        public var xruns: Int
        public var deviceLosses: Int
        /// The audio threads' SCHED_FIFO priority; nil at normal priority.
        public var realtimePriority: Int?
        public var echo: Echo

        public init(
            captureDevice: String, playbackDevice: String, periodMs: Int, chunkMs: Int, inputFormat: String?, outputFormat: String?,
            muted: Bool, inputLevelDBFS: Double?, outputLevelDBFS: Double?, framesCaptured: Int, framesPlayed: Int, framesDropped: Int,
            droppedFrames: [String: Int], xruns: Int, deviceLosses: Int, realtimePriority: Int?, echo: Echo
        ) {
            self.captureDevice = captureDevice
            self.playbackDevice = playbackDevice
            self.periodMs = periodMs
            self.chunkMs = chunkMs
            self.droppedFrames = droppedFrames
            self.inputFormat = inputFormat
            self.outputFormat = outputFormat
            self.muted = muted
            self.inputLevelDBFS = inputLevelDBFS
            self.outputLevelDBFS = outputLevelDBFS
            self.framesCaptured = framesCaptured
            self.framesPlayed = framesPlayed
            self.framesDropped = framesDropped
            self.xruns = xruns
            self.deviceLosses = deviceLosses
            self.realtimePriority = realtimePriority
            self.echo = echo
        }

        enum CodingKeys: String, CodingKey {
            case captureDevice = "capture_device"
            case playbackDevice = "playback_device"
            case periodMs = "period_ms"
            case chunkMs = "chunk_ms"
            case inputFormat = "input_format"
            case outputFormat = "output_format"
            case muted
            case inputLevelDBFS = "input_level_dbfs"
            case outputLevelDBFS = "output_level_dbfs"
            case framesCaptured = "frames_captured"
            case framesPlayed = "frames_played"
            case framesDropped = "frames_dropped"
            case droppedFrames = "dropped_frames"
            case xruns
            case deviceLosses = "device_losses"
            case realtimePriority = "realtime_priority"
            case echo
        }
    }

    /// Echo handling: the mode always; during a conversation, in `cancel`
    /// what the canceller achieves, in `half-duplex` what it silenced.
    public struct Echo: Sendable, Equatable, Codable {
        /// none, half-duplex or cancel.
        public var mode: String
        /// Echo return loss enhancement over about the last half second
        /// the speaker was heard, in dB.
        public var erleDB: Double?
        /// The echo's delay beyond what the devices report, in ms.
        public var delayMs: Double?
        public var converged: Bool?
        /// Whether the microphone hears the speaker; when it does not (a
        /// headset), the canceller rests.
        public var speakerHeard: Bool?
        /// Microphone chunks sent as silence because the agent was heard
        /// (in `cancel`, only until the canceller has converged).
        public var silencedChunks: Int?

        public init(
            mode: String, erleDB: Double? = nil, delayMs: Double? = nil, converged: Bool? = nil, speakerHeard: Bool? = nil,
            silencedChunks: Int? = nil
        ) {
            self.mode = mode
            self.erleDB = erleDB
            self.delayMs = delayMs
            self.converged = converged
            self.speakerHeard = speakerHeard
            self.silencedChunks = silencedChunks
        }

        enum CodingKeys: String, CodingKey {
            case mode
            case erleDB = "erle_db"
            case delayMs = "delay_ms"
            case converged
            case speakerHeard = "speaker_heard"
            case silencedChunks = "silenced_chunks"
        }
    }

    public struct LastEnd: Sendable, Equatable, Codable {
        public var conversationID: String?
        public var reason: String
        public var explanation: String

        public init(conversationID: String?, reason: String, explanation: String) {
            self.conversationID = conversationID
            self.reason = reason
            self.explanation = explanation
        }

        enum CodingKeys: String, CodingKey {
            case conversationID = "conversation_id"
            case reason, explanation
        }
    }
}

/// What `start` answers once the agent has accepted the conversation.
public struct StartResult: Sendable, Equatable, Codable {
    public var conversationID: String
    public var inputFormat: String
    public var outputFormat: String

    public init(conversationID: String, inputFormat: String, outputFormat: String) {
        self.conversationID = conversationID
        self.inputFormat = inputFormat
        self.outputFormat = outputFormat
    }

    enum CodingKeys: String, CodingKey {
        case conversationID = "conversation_id"
        case inputFormat = "input_format"
        case outputFormat = "output_format"
    }
}

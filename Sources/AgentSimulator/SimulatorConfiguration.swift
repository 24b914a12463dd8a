import AgentSession

/// What the simulated agent does; each case exercises one branch of a client.
public enum SimulatorScenario: String, Sendable, CaseIterable {
    /// Greets, then answers every user turn; speech over a reply interrupts it.
    case conversation
    /// Interrupts its greeting after a few chunks, keeps sending that reply's
    /// stale chunks (a client must drop them), corrects the text, then replies.
    case interrupt
    /// Calls a client tool after greeting and speaks the tool's answer.
    case toolCall = "tool-call"
    /// Sends one of every server message type, then goes on as `conversation`.
    case allEvents = "all-events"
    /// Sends every kind of malformed frame, then goes on as `conversation`.
    case malformed
    /// Sends a message of `oversizedMessageBytes`, over the protocol's 16 MiB limit.
    case oversized
    /// An `error` message, then a close with 1002, 1008 or 1011.
    case error1002 = "error-1002"
    case error1008 = "error-1008"
    case error1011 = "error-1011"
    /// Closes the socket (1000) half-way through the greeting's audio.
    case closeMidReply = "close-mid-reply"
    /// Fails (1011) half-way through the greeting's audio.
    case failMidReply = "fail-mid-reply"
    /// Opens the socket but never sends the initiation metadata.
    case noMetadata = "no-metadata"
    /// Greets, then sends nothing more, pings included, while it keeps
    /// the socket open (and answers WebSocket pings): a stuck server.
    case goSilent = "go-silent"
}

/// How reply audio is sent.
public enum ReplyDelivery: String, Sendable, CaseIterable {
    /// One chunk per chunk duration, as a listener hears it.
    case paced
    /// All at once, faster than real time, as the real service does.
    case burst
}

/// How reply audio messages are numbered. Both are valid: event ids only
/// have to increase through the conversation.
public enum AudioEventIDs: String, Sendable, CaseIterable {
    /// Every audio message of a reply carries the reply's id.
    case perReply = "per-reply"
    /// Every audio message takes the next id.
    case perChunk = "per-chunk"
}

public struct SimulatorConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port.
    public var port = 0
    public var scenario = SimulatorScenario.conversation
    /// With a key, the agent is private: the socket needs a signed URL.
    public var apiKey: String?
    public var inputFormat = AudioFormat.pcm16000
    public var outputFormat = AudioFormat.pcm16000
    public var delivery = ReplyDelivery.burst
    public var audioEventIDs = AudioEventIDs.perReply
    public var replySeconds = 2.0
    /// Speech to answer with instead of a tone (16-bit samples at the
    /// output format's rate); each reply is all of it.
    public var replySpeech: [Int16]?
    public var chunkMilliseconds = 100
    public var pingInterval = Duration.seconds(2)
    /// How long the agent takes to accept: the initiation metadata comes this
    /// long after the client's initiation data, and nothing before it.
    public var metadataDelay = Duration.zero
    public var firstMessage = "Hello! This is the voiceagentd agent simulator. How can I help?"
    public var speechThresholdDBFS = -40.0
    /// Silence that ends a user turn.
    public var endOfTurnMilliseconds = 500
    /// Refuse any conversation override, as an agent whose settings allow none.
    public var refuseOverrides = false
    public var requiredDynamicVariables: [String] = []
    public var toolName = "get_weather"
    public var toolParameters: [String: JSONValue] = ["city": .string("Paris")]
    /// Answer every signed-URL request with this HTTP status, as a service
    /// that refuses (401, 403, 404) or fails (429, 500) does.
    public var signedURLStatus: Int?
    /// The size of the oversized scenario's message.
    public var oversizedMessageBytes = AgentSessionConfiguration.maxMessageSize + 100
    /// PEM certificate and key: serve HTTPS and WSS.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// Append every client message to this file, one JSON object a line.
    public var recordPath: String?

    public init() {}
}

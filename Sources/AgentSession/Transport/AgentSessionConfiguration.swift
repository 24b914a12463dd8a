import NIOCore

/// Everything one conversation needs to know before it connects.
public struct AgentSessionConfiguration: Sendable {
    /// The protocol's limit for one incoming message.
    public static let maxMessageSize = 16 << 20
    /// What the frame decoder reads before the session sees it. A frame over
    /// this is refused by NIO's decoder (1009) with no way for the session
    /// to learn why, so it is reported as a lost connection; up to it the
    /// session reads the message and names it as the protocol error it is.
    public static let maxFrameSize = 64 << 20

    public var endpoint: AgentEndpoint
    /// With a key the agent is private: the session fetches a signed URL.
    public var apiKey: String?
    public var initiation: ConversationInitiation
    /// A PEM file trusted in addition to the system store (a test CA).
    public var extraTrustedCAFile: String?
    /// From the start until the agent's initiation metadata arrives.
    public var connectTimeout: Duration
    /// How long a stop waits for the server to answer the close frame.
    public var closeTimeout: Duration
    public var toolTimeout: Duration
    /// A server that sends nothing at all (its pings included) for this
    /// long is taken for lost. WebSocket pings go out at this interval too,
    /// so that the connection carries traffic while the agent is quiet.
    public var silenceTimeout: Duration
    /// The NIO loop the socket lives on; nil for one of the shared ones.
    public var eventLoop: (any EventLoop)?

    public init(
        endpoint: AgentEndpoint,
        apiKey: String? = nil,
        initiation: ConversationInitiation = ConversationInitiation(),
        extraTrustedCAFile: String? = nil,
        connectTimeout: Duration = .seconds(15),
        closeTimeout: Duration = .seconds(3),
        toolTimeout: Duration = .seconds(20),
        silenceTimeout: Duration = .seconds(10),
        eventLoop: (any EventLoop)? = nil
    ) {
        self.endpoint = endpoint
        self.apiKey = apiKey
        self.initiation = initiation
        self.extraTrustedCAFile = extraTrustedCAFile
        self.connectTimeout = connectTimeout
        self.closeTimeout = closeTimeout
        self.toolTimeout = toolTimeout
        self.silenceTimeout = silenceTimeout
        self.eventLoop = eventLoop
    }
}

/// What `status` shows of a session.
public struct SessionSnapshot: Sendable, Equatable {
    public var phase: String
    public var conversationID: String?
    public var inputFormat: AudioFormat?
    public var outputFormat: AudioFormat?
    public var latency: LatencyStatistics
    public var history: [ChatTurn]
    public var counters: SessionCounters
    public var endReason: EndReason?
    /// The last `vad_score` the server sent, if the agent sends them.
    public var vadScore: Double?
}

import FoundationEssentials

/// One entry of a session's typed event log.
public struct SessionEvent: Sendable, Equatable {
    /// Increases by one per event of this session, from 1.
    public let seq: UInt64
    public let time: Date
    public let kind: SessionEventKind

    public init(seq: UInt64, time: Date, kind: SessionEventKind) {
        self.seq = seq
        self.time = time
        self.kind = kind
    }
}

public enum SessionEventKind: Sendable, Equatable {
    case connecting(agentID: String)
    case connected(InitiationMetadata)
    case userTranscript(String, eventID: EventID?)
    case tentativeUserTranscript(String, eventID: EventID?)
    case agentResponse(String, eventID: EventID?)
    case agentResponseCorrection(AgentResponseCorrectionEvent)
    case agentResponsePart(TextResponsePart)
    /// `local` is true for our own interrupt, false for the server's.
    case interruption(eventID: EventID?, local: Bool)
    case ping(eventID: EventID, latencyMs: Double?)
    case clientToolCall(ClientToolCall)
    case clientToolResult(toolName: String, ClientToolResult)
    case agentToolRequest(AgentToolEvent)
    case agentToolResponse(AgentToolEvent)
    case vadScore(Double)
    case mcp(type: String, JSONValue)
    case serverError(ServerErrorEvent)
    /// A frame that could not be used; the conversation goes on.
    case protocolError(String)
    case unknownMessage(type: String)
    case ended(EndReason)

    /// The event's name in logs, the control socket and journald.
    public var name: String {
        switch self {
        case .connecting: "connecting"
        case .connected: "connected"
        case .userTranscript: "user_transcript"
        case .tentativeUserTranscript: "tentative_user_transcript"
        case .agentResponse: "agent_response"
        case .agentResponseCorrection: "agent_response_correction"
        case .agentResponsePart: "agent_response_part"
        case .interruption: "interruption"
        case .ping: "ping"
        case .clientToolCall: "client_tool_call"
        case .clientToolResult: "client_tool_result"
        case .agentToolRequest: "agent_tool_request"
        case .agentToolResponse: "agent_tool_response"
        case .vadScore: "vad_score"
        case .mcp: "mcp"
        case .serverError: "server_error"
        case .protocolError: "protocol_error"
        case .unknownMessage: "unknown_message"
        case .ended: "ended"
        }
    }
}

/// Running totals of what a session saw and did.
public struct SessionCounters: Sendable, Equatable, Codable {
    public var messagesReceived = 0
    public var invalidMessages = 0
    public var unknownMessages = 0
    public var audioChunksReceived = 0
    /// Agent audio never handed to playback because it was interrupted.
    public var audioChunksDropped = 0
    public var userAudioChunksSent = 0
    /// Microphone chunks dropped unsent: fifty waited for the socket.
    public var userAudioChunksDropped = 0
    public var pongsSent = 0
    public var toolCalls = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case messagesReceived = "messages_received"
        case invalidMessages = "invalid_messages"
        case unknownMessages = "unknown_messages"
        case audioChunksReceived = "audio_chunks_received"
        case audioChunksDropped = "audio_chunks_dropped"
        case userAudioChunksSent = "user_audio_chunks_sent"
        case userAudioChunksDropped = "user_audio_chunks_dropped"
        case pongsSent = "pongs_sent"
        case toolCalls = "tool_calls"
    }
}

import FoundationEssentials

/// Everything a client sends to the agent, one JSON text frame each.
public enum ClientMessage: Sendable, Equatable {
    case initiation(ConversationInitiation)
    /// Raw samples in the negotiated input format; base64 on the wire.
    case userAudioChunk(Data)
    case pong(eventID: EventID)
    case clientToolResult(ClientToolResult)
    case contextualUpdate(text: String)
    case userMessage(text: String)
    case userActivity
    case feedback(eventID: EventID, score: FeedbackScore)
    case mcpToolApprovalResult(toolCallID: String, isApproved: Bool)
    case conversationModeChange(textOnly: Bool)

    /// The `type` field; the audio chunk alone has none.
    public var type: String? {
        switch self {
        case .initiation: "conversation_initiation_client_data"
        case .userAudioChunk: nil
        case .pong: "pong"
        case .clientToolResult: "client_tool_result"
        case .contextualUpdate: "contextual_update"
        case .userMessage: "user_message"
        case .userActivity: "user_activity"
        case .feedback: "feedback"
        case .mcpToolApprovalResult: "mcp_tool_approval_result"
        case .conversationModeChange: "conversation_mode_change"
        }
    }
}

extension ClientMessage {
    /// The text frame. Audio, sent fifty times a second, skips the generic
    /// encoder: base64 needs no JSON escaping.
    public func frameText() throws -> String {
        if case .userAudioChunk(let samples) = self {
            return #"{"user_audio_chunk":""# + samples.base64EncodedString() + #""}"#
        }
        return try JSONWire.encode(self)
    }
}

public enum FeedbackScore: String, Sendable, Codable {
    case like
    case dislike
}

public struct ClientToolResult: Sendable, Equatable, Codable {
    public var toolCallID: String
    /// The contract types the result as a string: structured results are
    /// JSON-encoded by whoever produces them.
    public var result: String
    public var isError: Bool

    public init(toolCallID: String, result: String, isError: Bool) {
        self.toolCallID = toolCallID
        self.result = result
        self.isError = isError
    }

    enum CodingKeys: String, CodingKey {
        case toolCallID = "tool_call_id"
        case result
        case isError = "is_error"
    }
}

extension ClientMessage: Codable {
    enum CodingKeys: String, CodingKey {
        case type
        case userAudioChunk = "user_audio_chunk"
        case eventID = "event_id"
        case text
        case score
        case toolCallID = "tool_call_id"
        case isApproved = "is_approved"
        case textOnly = "text_only"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(type, forKey: .type)
        switch self {
        case .initiation(let initiation):
            try initiation.encode(to: encoder)
        case .userAudioChunk(let samples):
            try container.encode(samples.base64EncodedString(), forKey: .userAudioChunk)
        case .pong(let eventID):
            try container.encode(eventID, forKey: .eventID)
        case .clientToolResult(let result):
            try result.encode(to: encoder)
        case .contextualUpdate(let text), .userMessage(let text):
            try container.encode(text, forKey: .text)
        case .userActivity:
            break
        case .feedback(let eventID, let score):
            try container.encode(eventID, forKey: .eventID)
            try container.encode(score, forKey: .score)
        case .mcpToolApprovalResult(let toolCallID, let isApproved):
            try container.encode(toolCallID, forKey: .toolCallID)
            try container.encode(isApproved, forKey: .isApproved)
        case .conversationModeChange(let textOnly):
            try container.encode(textOnly, forKey: .textOnly)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard let type = try container.decodeIfPresent(String.self, forKey: .type) else {
            let base64 = try container.decode(String.self, forKey: .userAudioChunk)
            guard let samples = Data(base64Encoded: base64) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .userAudioChunk, in: container, debugDescription: "user_audio_chunk is not base64")
            }
            self = .userAudioChunk(samples)
            return
        }
        switch type {
        case "conversation_initiation_client_data":
            self = .initiation(try ConversationInitiation(from: decoder))
        case "pong":
            self = .pong(eventID: try container.decode(EventID.self, forKey: .eventID))
        case "client_tool_result":
            self = .clientToolResult(try ClientToolResult(from: decoder))
        case "contextual_update":
            self = .contextualUpdate(text: try container.decode(String.self, forKey: .text))
        case "user_message":
            self = .userMessage(text: try container.decode(String.self, forKey: .text))
        case "user_activity":
            self = .userActivity
        case "feedback":
            self = .feedback(
                eventID: try container.decode(EventID.self, forKey: .eventID),
                score: try container.decode(FeedbackScore.self, forKey: .score))
        case "mcp_tool_approval_result":
            self = .mcpToolApprovalResult(
                toolCallID: try container.decode(String.self, forKey: .toolCallID),
                isApproved: try container.decode(Bool.self, forKey: .isApproved))
        case "conversation_mode_change":
            self = .conversationModeChange(textOnly: try container.decode(Bool.self, forKey: .textOnly))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container, debugDescription: "unknown client message type '\(type)'")
        }
    }
}

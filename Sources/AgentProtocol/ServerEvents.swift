import AudioCodec
import FoundationEssentials

// The payloads of server messages, with the protocol's field names.

public struct InitiationMetadata: Sendable, Equatable, Codable {
    public var conversationID: String
    public var agentOutputAudioFormat: AudioFormat
    public var userInputAudioFormat: AudioFormat

    public init(conversationID: String, agentOutputAudioFormat: AudioFormat, userInputAudioFormat: AudioFormat) {
        self.conversationID = conversationID
        self.agentOutputAudioFormat = agentOutputAudioFormat
        self.userInputAudioFormat = userInputAudioFormat
    }

    enum CodingKeys: String, CodingKey {
        case conversationID = "conversation_id"
        case agentOutputAudioFormat = "agent_output_audio_format"
        case userInputAudioFormat = "user_input_audio_format"
    }
}

public struct AudioEvent: Sendable, Equatable, Codable {
    public var audioBase64: String
    public var eventID: EventID
    public var alignment: Alignment?

    public init(audioBase64: String, eventID: EventID, alignment: Alignment? = nil) {
        self.audioBase64 = audioBase64
        self.eventID = eventID
        self.alignment = alignment
    }

    enum CodingKeys: String, CodingKey {
        case audioBase64 = "audio_base_64"
        case eventID = "event_id"
        case alignment
    }

    public struct Alignment: Sendable, Equatable, Codable {
        public var chars: [String]
        public var charStartTimesMs: [Double]
        public var charDurationsMs: [Double]

        public init(chars: [String], charStartTimesMs: [Double], charDurationsMs: [Double]) {
            self.chars = chars
            self.charStartTimesMs = charStartTimesMs
            self.charDurationsMs = charDurationsMs
        }

        enum CodingKeys: String, CodingKey {
            case chars
            case charStartTimesMs = "char_start_times_ms"
            case charDurationsMs = "char_durations_ms"
        }
    }
}

public struct AgentResponseEvent: Sendable, Equatable, Codable {
    public var agentResponse: String
    public var eventID: EventID?

    public init(agentResponse: String, eventID: EventID?) {
        self.agentResponse = agentResponse
        self.eventID = eventID
    }

    enum CodingKeys: String, CodingKey {
        case agentResponse = "agent_response"
        case eventID = "event_id"
    }
}

public struct AgentResponseCorrectionEvent: Sendable, Equatable, Codable {
    public var originalAgentResponse: String
    public var correctedAgentResponse: String
    public var eventID: EventID?

    public init(originalAgentResponse: String, correctedAgentResponse: String, eventID: EventID?) {
        self.originalAgentResponse = originalAgentResponse
        self.correctedAgentResponse = correctedAgentResponse
        self.eventID = eventID
    }

    enum CodingKeys: String, CodingKey {
        case originalAgentResponse = "original_agent_response"
        case correctedAgentResponse = "corrected_agent_response"
        case eventID = "event_id"
    }
}

public struct UserTranscriptEvent: Sendable, Equatable, Codable {
    public var userTranscript: String
    public var eventID: EventID?

    public init(userTranscript: String, eventID: EventID?) {
        self.userTranscript = userTranscript
        self.eventID = eventID
    }

    enum CodingKeys: String, CodingKey {
        case userTranscript = "user_transcript"
        case eventID = "event_id"
    }
}

public struct InterruptionEvent: Sendable, Equatable, Codable {
    public var eventID: EventID

    public init(eventID: EventID) {
        self.eventID = eventID
    }

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id"
    }
}

public struct PingEvent: Sendable, Equatable, Codable {
    public var eventID: EventID
    /// The server's round-trip estimate; null on the first ping.
    public var pingMs: Double?

    public init(eventID: EventID, pingMs: Double?) {
        self.eventID = eventID
        self.pingMs = pingMs
    }

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id"
        case pingMs = "ping_ms"
    }
}

public struct ClientToolCall: Sendable, Equatable, Codable {
    public var toolName: String
    public var toolCallID: String
    public var parameters: [String: JSONValue]
    public var eventID: EventID?

    public init(toolName: String, toolCallID: String, parameters: [String: JSONValue], eventID: EventID?) {
        self.toolName = toolName
        self.toolCallID = toolCallID
        self.parameters = parameters
        self.eventID = eventID
    }

    enum CodingKeys: String, CodingKey {
        case toolName = "tool_name"
        case toolCallID = "tool_call_id"
        case parameters
        case eventID = "event_id"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        toolName = try container.decode(String.self, forKey: .toolName)
        toolCallID = try container.decode(String.self, forKey: .toolCallID)
        parameters = try container.decodeIfPresent([String: JSONValue].self, forKey: .parameters) ?? [:]
        eventID = try container.decodeIfPresent(EventID.self, forKey: .eventID)
    }
}

/// `agent_tool_request` and `agent_tool_response`: tools the agent runs on
/// the server side (the `end_call` system tool among them). Informational.
public struct AgentToolEvent: Sendable, Equatable, Codable {
    public var toolName: String
    public var toolCallID: String?
    public var toolType: String?
    public var isError: Bool?
    public var isCalled: Bool?
    public var eventID: EventID?

    public init(toolName: String, toolCallID: String?, toolType: String?, isError: Bool? = nil, isCalled: Bool? = nil, eventID: EventID?) {
        self.toolName = toolName
        self.toolCallID = toolCallID
        self.toolType = toolType
        self.isError = isError
        self.isCalled = isCalled
        self.eventID = eventID
    }

    enum CodingKeys: String, CodingKey {
        case toolName = "tool_name"
        case toolCallID = "tool_call_id"
        case toolType = "tool_type"
        case isError = "is_error"
        case isCalled = "is_called"
        case eventID = "event_id"
    }
}

public struct VADScoreEvent: Sendable, Equatable, Codable {
    public var vadScore: Double

    public init(vadScore: Double) {
        self.vadScore = vadScore
    }

    enum CodingKeys: String, CodingKey {
        case vadScore = "vad_score"
    }
}

public struct TextResponsePart: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case start, delta, stop
    }

    public var text: String
    public var kind: Kind

    public init(text: String, kind: Kind) {
        self.text = text
        self.kind = kind
    }

    enum CodingKeys: String, CodingKey {
        case text
        case kind = "type"
    }
}

public struct ServerErrorEvent: Sendable, Equatable, Codable {
    public var code: Int
    public var message: String?
    public var errorType: String?
    public var reason: String?
    public var details: JSONValue?

    public init(code: Int, message: String? = nil, errorType: String? = nil, reason: String? = nil, details: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.errorType = errorType
        self.reason = reason
        self.details = details
    }

    enum CodingKeys: String, CodingKey {
        case code
        case message
        case errorType = "error_type"
        case reason
        case details
    }
}

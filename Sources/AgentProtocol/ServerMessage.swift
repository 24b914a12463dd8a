import FoundationEssentials

/// Everything the agent sends. Each message names its `type`; its payload
/// sits under a key that differs per type.
public enum ServerMessage: Sendable, Equatable {
    case initiationMetadata(InitiationMetadata)
    case audio(AudioEvent)
    case agentResponse(AgentResponseEvent)
    case agentResponseCorrection(AgentResponseCorrectionEvent)
    case userTranscript(UserTranscriptEvent)
    case tentativeUserTranscript(UserTranscriptEvent)
    case interruption(InterruptionEvent)
    case ping(PingEvent)
    case clientToolCall(ClientToolCall)
    case agentToolRequest(AgentToolEvent)
    case agentToolResponse(AgentToolEvent)
    case vadScore(VADScoreEvent)
    case agentChatResponsePart(TextResponsePart)
    case mcpToolCall(JSONValue)
    case mcpConnectionStatus(JSONValue)
    case error(ServerErrorEvent)
    /// `internal_*` and `asr_initiation_metadata`: the service's own business.
    case internalMessage(type: String)
    /// A type this client does not know: skipped and counted.
    case unknown(type: String)

    public var type: String {
        switch self {
        case .initiationMetadata: "conversation_initiation_metadata"
        case .audio: "audio"
        case .agentResponse: "agent_response"
        case .agentResponseCorrection: "agent_response_correction"
        case .userTranscript: "user_transcript"
        case .tentativeUserTranscript: "tentative_user_transcript"
        case .interruption: "interruption"
        case .ping: "ping"
        case .clientToolCall: "client_tool_call"
        case .agentToolRequest: "agent_tool_request"
        case .agentToolResponse: "agent_tool_response"
        case .vadScore: "vad_score"
        case .agentChatResponsePart: "agent_chat_response_part"
        case .mcpToolCall: "mcp_tool_call"
        case .mcpConnectionStatus: "mcp_connection_status"
        case .error: "error"
        case .internalMessage(let type), .unknown(let type): type
        }
    }

    /// Decodes one text frame.
    public static func decode(_ text: some DataProtocol) throws(ServerMessageError) -> ServerMessage {
        do {
            return try JSONDecoder().decode(ServerMessage.self, from: Data(text))
        } catch let error as ServerMessageError {
            throw error
        } catch {
            throw .notJSON
        }
    }

    public func encodedText() throws -> String {
        try JSONWire.encode(self)
    }
}

/// Why a frame from the server could not be used.
public enum ServerMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    case notJSON
    case notAnObject
    case missingType
    case invalidPayload(type: String?, detail: String)
    case binaryFrame(bytes: Int)

    public var description: String {
        switch self {
        case .notJSON: "the server sent a frame that is not JSON"
        case .notAnObject: "the server sent JSON that is not an object"
        case .missingType: "the server sent a message without a 'type'"
        case .invalidPayload(let type?, let detail): "the server's '\(type)' message is malformed: \(detail)"
        case .invalidPayload(nil, let detail): "the server sent a malformed message: \(detail)"
        case .binaryFrame(let bytes): "the server sent a binary frame (\(bytes) bytes); the protocol uses text frames only"
        }
    }
}

extension DecodingError {
    var plainDescription: String {
        switch self {
        case .keyNotFound(let key, let context):
            "missing field '\(Self.path(context.codingPath + [key]))'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "field '\(Self.path(context.codingPath))' has the wrong type"
        case .dataCorrupted(let context):
            context.codingPath.isEmpty
                ? context.debugDescription
                : "field '\(Self.path(context.codingPath))': \(context.debugDescription)"
        @unknown default:
            "\(self)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

extension ServerMessage: Codable {
    struct TypeKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
        static let type = TypeKey(stringValue: "type")
    }

    /// The key under which each known type carries its payload.
    static func payloadKey(for type: String) -> String? {
        switch type {
        case "conversation_initiation_metadata": "conversation_initiation_metadata_event"
        case "audio": "audio_event"
        case "agent_response": "agent_response_event"
        case "agent_response_correction": "agent_response_correction_event"
        case "user_transcript": "user_transcription_event"
        case "tentative_user_transcript": "tentative_user_transcription_event"
        case "interruption": "interruption_event"
        case "ping": "ping_event"
        case "client_tool_call": "client_tool_call"
        case "agent_tool_request": "agent_tool_request"
        case "agent_tool_response": "agent_tool_response"
        case "vad_score": "vad_score_event"
        case "agent_chat_response_part": "text_response_part"
        case "mcp_tool_call": "mcp_tool_call"
        case "mcp_connection_status": "mcp_connection_status"
        case "error": "error_event"
        default: nil
        }
    }

    public init(from decoder: any Decoder) throws {
        let container: KeyedDecodingContainer<TypeKey>
        do {
            container = try decoder.container(keyedBy: TypeKey.self)
        } catch {
            throw ServerMessageError.notAnObject
        }
        guard let type = try? container.decode(String.self, forKey: .type) else {
            throw ServerMessageError.missingType
        }
        guard let key = Self.payloadKey(for: type).map(TypeKey.init(stringValue:)) else {
            let isInternal = type.hasPrefix("internal_") || type == "asr_initiation_metadata"
            self = isInternal ? .internalMessage(type: type) : .unknown(type: type)
            return
        }
        do {
            self = try Self.decodePayload(type: type, key: key, from: container)
        } catch let error as DecodingError {
            throw ServerMessageError.invalidPayload(type: type, detail: error.plainDescription)
        }
    }

    private static func decodePayload(
        type: String, key: TypeKey, from container: KeyedDecodingContainer<TypeKey>
    ) throws -> ServerMessage {
        func payload<Payload: Decodable>(_: Payload.Type) throws -> Payload {
            try container.decode(Payload.self, forKey: key)
        }
        switch type {
        case "conversation_initiation_metadata": return .initiationMetadata(try payload(InitiationMetadata.self))
        case "audio": return .audio(try payload(AudioEvent.self))
        case "agent_response": return .agentResponse(try payload(AgentResponseEvent.self))
        case "agent_response_correction": return .agentResponseCorrection(try payload(AgentResponseCorrectionEvent.self))
        case "user_transcript": return .userTranscript(try payload(UserTranscriptEvent.self))
        case "tentative_user_transcript": return .tentativeUserTranscript(try payload(UserTranscriptEvent.self))
        case "interruption": return .interruption(try payload(InterruptionEvent.self))
        case "ping": return .ping(try payload(PingEvent.self))
        case "client_tool_call": return .clientToolCall(try payload(ClientToolCall.self))
        case "agent_tool_request": return .agentToolRequest(try payload(AgentToolEvent.self))
        case "agent_tool_response": return .agentToolResponse(try payload(AgentToolEvent.self))
        case "vad_score": return .vadScore(try payload(VADScoreEvent.self))
        case "agent_chat_response_part": return .agentChatResponsePart(try payload(TextResponsePart.self))
        case "mcp_tool_call": return .mcpToolCall(try payload(JSONValue.self))
        case "mcp_connection_status": return .mcpConnectionStatus(try payload(JSONValue.self))
        default: return .error(try payload(ServerErrorEvent.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        try container.encode(type, forKey: .type)
        guard let key = Self.payloadKey(for: type).map(TypeKey.init(stringValue:)) else { return }
        switch self {
        case .initiationMetadata(let payload): try container.encode(payload, forKey: key)
        case .audio(let payload): try container.encode(payload, forKey: key)
        case .agentResponse(let payload): try container.encode(payload, forKey: key)
        case .agentResponseCorrection(let payload): try container.encode(payload, forKey: key)
        case .userTranscript(let payload), .tentativeUserTranscript(let payload): try container.encode(payload, forKey: key)
        case .interruption(let payload): try container.encode(payload, forKey: key)
        case .ping(let payload): try container.encode(payload, forKey: key)
        case .clientToolCall(let payload): try container.encode(payload, forKey: key)
        case .agentToolRequest(let payload), .agentToolResponse(let payload): try container.encode(payload, forKey: key)
        case .vadScore(let payload): try container.encode(payload, forKey: key)
        case .agentChatResponsePart(let payload): try container.encode(payload, forKey: key)
        case .mcpToolCall(let payload), .mcpConnectionStatus(let payload): try container.encode(payload, forKey: key)
        case .error(let payload): try container.encode(payload, forKey: key)
        case .internalMessage, .unknown: break
        }
    }
}

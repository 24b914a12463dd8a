/// The first message of a session: what this conversation changes about the
/// agent, and what it tells the agent about the user.
public struct ConversationInitiation: Sendable, Equatable, Codable {
    public var configOverride: ConversationConfigOverride?
    public var customLLMExtraBody: [String: JSONValue]?
    public var dynamicVariables: [String: JSONValue]?
    public var userID: String?
    public var sourceInfo: SourceInfo?

    public init(
        configOverride: ConversationConfigOverride? = nil,
        customLLMExtraBody: [String: JSONValue]? = nil,
        dynamicVariables: [String: JSONValue]? = nil,
        userID: String? = nil,
        sourceInfo: SourceInfo? = nil
    ) {
        self.configOverride = configOverride
        self.customLLMExtraBody = customLLMExtraBody
        self.dynamicVariables = dynamicVariables
        self.userID = userID
        self.sourceInfo = sourceInfo
    }

    enum CodingKeys: String, CodingKey {
        case configOverride = "conversation_config_override"
        case customLLMExtraBody = "custom_llm_extra_body"
        case dynamicVariables = "dynamic_variables"
        case userID = "user_id"
        case sourceInfo = "source_info"
    }

    /// Empty sections are left out rather than sent as `{}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if let configOverride, !configOverride.isEmpty {
            try container.encode(configOverride, forKey: .configOverride)
        }
        if let customLLMExtraBody, !customLLMExtraBody.isEmpty {
            try container.encode(customLLMExtraBody, forKey: .customLLMExtraBody)
        }
        if let dynamicVariables, !dynamicVariables.isEmpty {
            try container.encode(dynamicVariables, forKey: .dynamicVariables)
        }
        try container.encodeIfPresent(userID, forKey: .userID)
        try container.encodeIfPresent(sourceInfo, forKey: .sourceInfo)
    }
}

public struct SourceInfo: Sendable, Equatable, Codable {
    public var source: String
    public var version: String

    public init(source: String, version: String) {
        self.source = source
        self.version = version
    }
}

/// `conversation_config_override`. Each field must be allowed in the agent's
/// security settings, or the server closes with 1008 `override_error`.
public struct ConversationConfigOverride: Sendable, Equatable, Codable {
    public var agent: Agent?
    public var tts: TTS?
    public var conversation: Conversation?

    public init(agent: Agent? = nil, tts: TTS? = nil, conversation: Conversation? = nil) {
        self.agent = agent
        self.tts = tts
        self.conversation = conversation
    }

    var isEmpty: Bool { agent == nil && tts == nil && conversation == nil }

    public struct Agent: Sendable, Equatable, Codable {
        public var prompt: Prompt?
        public var firstMessage: String?
        public var language: String?

        public init(prompt: String? = nil, firstMessage: String? = nil, language: String? = nil) {
            self.prompt = prompt.map(Prompt.init(prompt:))
            self.firstMessage = firstMessage
            self.language = language
        }

        enum CodingKeys: String, CodingKey {
            case prompt
            case firstMessage = "first_message"
            case language
        }
    }

    public struct Prompt: Sendable, Equatable, Codable {
        public var prompt: String
    }

    public struct TTS: Sendable, Equatable, Codable {
        public var voiceID: String?
        public var stability: Double?
        public var speed: Double?
        public var similarityBoost: Double?

        public init(voiceID: String? = nil, stability: Double? = nil, speed: Double? = nil, similarityBoost: Double? = nil) {
            self.voiceID = voiceID
            self.stability = stability
            self.speed = speed
            self.similarityBoost = similarityBoost
        }

        enum CodingKeys: String, CodingKey {
            case voiceID = "voice_id"
            case stability
            case speed
            case similarityBoost = "similarity_boost"
        }
    }

    public struct Conversation: Sendable, Equatable, Codable {
        public var textOnly: Bool?

        public init(textOnly: Bool? = nil) {
            self.textOnly = textOnly
        }

        enum CodingKeys: String, CodingKey {
            case textOnly = "text_only"
        }
    }
}

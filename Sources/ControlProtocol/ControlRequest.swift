import JSON

/// One command from a client.
public struct ControlRequest: Sendable, Equatable {
    /// Echoed in the reply so a client can match them.
    public var id: String
    public var command: ControlCommand

    public init(id: String, command: ControlCommand) {
        self.id = id
        self.command = command
    }
}

public enum ControlCommand: Sendable, Equatable {
    case start(StartOptions)
    case stop
    case interrupt
    case status
    /// The chat history of the conversation under way, or of the last one.
    case history
    /// The ALSA devices, what each accepts, and which are configured.
    case devices
    case events(EventsOptions)
    case say(text: String)
    case context(text: String)
    case mute
    case unmute
    /// Rates the agent's last response: liked or disliked.
    case feedback(liked: Bool)

    public var name: String {
        switch self {
        case .start: "start"
        case .stop: "stop"
        case .interrupt: "interrupt"
        case .status: "status"
        case .history: "history"
        case .devices: "devices"
        case .events: "events"
        case .say: "say"
        case .context: "context"
        case .mute: "mute"
        case .unmute: "unmute"
        case .feedback: "feedback"
        }
    }

    public static let names = ["start", "stop", "interrupt", "status", "history", "devices", "events", "say", "context", "mute", "unmute", "feedback"]

    /// `stop`, `interrupt` and `status`: the daemon keeps connections for
    /// these even when every other one is taken.
    public var mustGetThrough: Bool {
        switch self {
        case .stop, .interrupt, .status: true
        case .start, .history, .devices, .events, .say, .context, .mute, .unmute, .feedback: false
        }
    }

    /// False for the queries (`status`, `history`, `devices`, `events`), which change nothing.
    public var changesState: Bool {
        switch self {
        case .status, .history, .devices, .events: false
        case .start, .stop, .interrupt, .say, .context, .mute, .unmute, .feedback: true
        }
    }
}

/// What `start` may change for one conversation; absent fields keep the
/// daemon's configuration.
public struct StartOptions: Sendable, Equatable, Codable {
    public var agentID: String?
    /// Dynamic variables as typed on a command line; the daemon reads
    /// numbers and booleans as such.
    public var variables: [String: String]
    public var firstMessage: String?
    public var prompt: String?
    public var language: String?
    public var voiceID: String?
    public var userID: String?
    /// Sent as the initiation's `custom_llm_extra_body`, for an agent whose
    /// LLM is the owner's own.
    public var customLLMExtraBody: [String: JSONValue]

    public init(
        agentID: String? = nil, variables: [String: String] = [:], firstMessage: String? = nil, prompt: String? = nil,
        language: String? = nil, voiceID: String? = nil, userID: String? = nil, customLLMExtraBody: [String: JSONValue] = [:]
    ) {
        self.agentID = agentID
        self.variables = variables
        self.firstMessage = firstMessage
        self.prompt = prompt
        self.language = language
        self.voiceID = voiceID
        self.userID = userID
        self.customLLMExtraBody = customLLMExtraBody
    }

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id"
        case variables
        case firstMessage = "first_message"
        case prompt
        case language
        case voiceID = "voice_id"
        case userID = "user_id"
        case customLLMExtraBody = "custom_llm_extra_body"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        agentID = try container.decodeIfPresent(String.self, forKey: .agentID)
        variables = try container.decodeIfPresent([String: String].self, forKey: .variables) ?? [:]
        firstMessage = try container.decodeIfPresent(String.self, forKey: .firstMessage)
        prompt = try container.decodeIfPresent(String.self, forKey: .prompt)
        language = try container.decodeIfPresent(String.self, forKey: .language)
        voiceID = try container.decodeIfPresent(String.self, forKey: .voiceID)
        userID = try container.decodeIfPresent(String.self, forKey: .userID)
        customLLMExtraBody = try container.decodeIfPresent([String: JSONValue].self, forKey: .customLLMExtraBody) ?? [:]
    }
}

public struct EventsOptions: Sendable, Equatable, Codable {
    /// Only events with a larger sequence number; nil for the whole history.
    public var since: UInt64?
    /// Keep the connection open and stream new events as they happen.
    public var follow: Bool

    public init(since: UInt64? = nil, follow: Bool = false) {
        self.since = since
        self.follow = follow
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        since = try container.decodeIfPresent(UInt64.self, forKey: .since)
        follow = try container.decodeIfPresent(Bool.self, forKey: .follow) ?? false
    }
}

struct TextArgument: Codable {
    var text: String
}

struct ScoreArgument: Codable {
    var score: String
}

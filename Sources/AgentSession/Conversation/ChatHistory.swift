/// One turn of the conversation as it was finally said.
public struct ChatTurn: Sendable, Equatable, Codable {
    public enum Role: String, Sendable, Codable {
        case user
        case agent
    }

    public var role: Role
    public var text: String
    public var eventID: EventID?
    /// What the agent's text was before a correction replaced it (the part
    /// after an interruption was never heard).
    public var originalText: String?
    /// Set on an agent turn cut short: how much of it the user heard.
    public var interrupted: Interruption?

    public init(role: Role, text: String, eventID: EventID?, originalText: String? = nil, interrupted: Interruption? = nil) {
        self.role = role
        self.text = text
        self.eventID = eventID
        self.originalText = originalText
        self.interrupted = interrupted
    }

    enum CodingKeys: String, CodingKey {
        case role
        case text
        case eventID = "event_id"
        case originalText = "original_text"
        case interrupted
    }

    /// The part of an agent turn that was played before it was cut.
    public struct Interruption: Sendable, Equatable, Codable {
        /// Milliseconds of the reply's audio that reached the speaker.
        public var spokenMs: Int
        /// The words in that audio, from the server's alignment; nil when
        /// the server sent none.
        public var spokenText: String?

        public init(spokenMs: Int, spokenText: String?) {
            self.spokenMs = spokenMs
            self.spokenText = spokenText
        }

        enum CodingKeys: String, CodingKey {
            case spokenMs = "spoken_ms"
            case spokenText = "spoken_text"
        }
    }
}

/// The conversation so far, a turn per final user transcript or agent
/// response; corrections rewrite the agent turn they belong to.
public struct ChatHistory: Sendable, Equatable {
    public private(set) var turns: [ChatTurn] = []

    public init() {}

    mutating func append(_ turn: ChatTurn) {
        turns.append(turn)
    }

    /// Finds the corrected turn by its event id, else the latest agent turn
    /// that said the original text. Returns whether a turn was found.
    @discardableResult
    mutating func correct(_ correction: AgentResponseCorrectionEvent) -> Bool {
        let agentTurns = turns.indices.reversed().filter { turns[$0].role == .agent }
        let index =
            agentTurns.first { correction.eventID != nil && turns[$0].eventID == correction.eventID }
            ?? agentTurns.first { turns[$0].text == correction.originalAgentResponse }
        guard let index else { return false }
        if turns[index].originalText == nil {
            turns[index].originalText = turns[index].text
        }
        turns[index].text = correction.correctedAgentResponse
        return true
    }

    /// Marks the latest turn, when it is the agent's, as cut short.
    mutating func markLastAgentTurn(interrupted: ChatTurn.Interruption) {
        guard let last = turns.indices.last, turns[last].role == .agent else { return }
        turns[last].interrupted = interrupted
    }
}

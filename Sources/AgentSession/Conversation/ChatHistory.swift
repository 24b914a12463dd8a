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

    public init(role: Role, text: String, eventID: EventID?, originalText: String? = nil) {
        self.role = role
        self.text = text
        self.eventID = eventID
        self.originalText = originalText
    }

    enum CodingKeys: String, CodingKey {
        case role
        case text
        case eventID = "event_id"
        case originalText = "original_text"
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
}

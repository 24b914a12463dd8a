/// What `history` answers: the chat history of the conversation under way
/// or, when none is, of the last one, turn by turn with corrections applied.
public struct HistoryReport: Sendable, Equatable, Codable {
    /// Nil when the conversation ended before the agent accepted it.
    public var conversationID: String?
    /// True while the conversation is under way.
    public var current: Bool
    public var turns: [Turn]

    public init(conversationID: String?, current: Bool, turns: [Turn]) {
        self.conversationID = conversationID
        self.current = current
        self.turns = turns
    }

    enum CodingKeys: String, CodingKey {
        case conversationID = "conversation_id"
        case current, turns
    }

    public struct Turn: Sendable, Equatable, Codable {
        /// `user` or `agent`.
        public var role: String
        /// The final text; for a corrected agent turn, the correction. Nil
        /// when transcripts are not shown to control clients.
        public var text: String?
        public var eventID: Int?
        /// The agent's text before a correction replaced it.
        public var originalText: String?
        /// Milliseconds of an interrupted agent turn that were played.
        public var spokenMs: Int?
        /// The words of an interrupted agent turn that were played, where
        /// the server sent alignment with its audio.
        public var spokenText: String?

        public init(role: String, text: String?, eventID: Int?, originalText: String?, spokenMs: Int?, spokenText: String?) {
            self.role = role
            self.text = text
            self.eventID = eventID
            self.originalText = originalText
            self.spokenMs = spokenMs
            self.spokenText = spokenText
        }

        enum CodingKeys: String, CodingKey {
            case role, text
            case eventID = "event_id"
            case originalText = "original_text"
            case spokenMs = "spoken_ms"
            case spokenText = "spoken_text"
        }
    }
}

extension HistoryReport {
    /// The turns without what was said: who spoke, when, and for how long.
    public var withoutSpeech: HistoryReport {
        var report = self
        report.turns = turns.map { turn in
            var turn = turn
            turn.text = nil
            turn.originalText = nil
            turn.spokenText = nil
            return turn
        }
        return report
    }
}

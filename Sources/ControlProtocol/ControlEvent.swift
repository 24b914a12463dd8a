/// One entry of the daemon's event log, as clients and journald see it.
public struct ControlEvent: Sendable, Equatable, Codable {
    /// Increases by one per event since the daemon started.
    public var seq: UInt64
    /// RFC 3339 with milliseconds, UTC.
    public var time: String
    /// `user_transcript`, `agent_response`, `interruption`, `ended`, …
    public var type: String
    public var conversationID: String?
    /// The event's words: a transcript, a response, a tool name, a reason.
    public var text: String?
    /// Everything else the event carries, as strings.
    public var fields: [String: String]

    public init(seq: UInt64, time: String, type: String, conversationID: String?, text: String?, fields: [String: String] = [:]) {
        self.seq = seq
        self.time = time
        self.type = type
        self.conversationID = conversationID
        self.text = text
        self.fields = fields
    }

    enum CodingKeys: String, CodingKey {
        case seq, time, type
        case conversationID = "conversation_id"
        case text, fields
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        seq = try container.decode(UInt64.self, forKey: .seq)
        time = try container.decode(String.self, forKey: .time)
        type = try container.decode(String.self, forKey: .type)
        conversationID = try container.decodeIfPresent(String.self, forKey: .conversationID)
        text = try container.decodeIfPresent(String.self, forKey: .text)
        fields = try container.decodeIfPresent([String: String].self, forKey: .fields) ?? [:]
    }
}

/// Where what was said may be kept. Transcripts are personal data: with
/// `logged` off they stay out of the journal and the daemon's stderr, and
/// out of what control clients get unless `shownToClients` allows it.
public struct TranscriptPrivacy: Sendable, Equatable {
    public var logged: Bool
    public var shownToClients: Bool

    public init(logged: Bool, shownToClients: Bool) {
        self.logged = logged
        self.shownToClients = shownToClients
    }

    public static let keepEverything = TranscriptPrivacy(logged: true, shownToClients: true)
}

extension ControlEvent {
    /// The event types that carry what someone said.
    public static let speechTypes: Set = [
        "user_transcript", "tentative_user_transcript", "agent_response", "agent_response_correction", "agent_response_part",
    ]

    /// The event with what was said taken out (its text, a correction's two
    /// versions); the rest still records that a turn happened.
    public var withoutSpeech: ControlEvent {
        guard Self.speechTypes.contains(type) else { return self }
        var event = self
        event.text = nil
        event.fields["corrected"] = nil
        event.fields["original"] = nil
        event.fields["transcript"] = "withheld"
        return event
    }
}

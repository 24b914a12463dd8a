/// One readable line per event, as `voiceagentctl events` and the journal's
/// MESSAGE show it: a transcript for speech, the type and details otherwise.
public enum EventText {
    public static func line(for event: ControlEvent) -> String {
        let speaker: String? =
            switch event.type {
            case "user_transcript": "user"
            case "agent_response": "agent"
            default: nil
            }
        if let speaker, let text = event.text { return "\(speaker): \(text)" }
        let details = event.fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return [event.type, event.text, details.isEmpty ? nil : details].compactMap { $0 }.joined(separator: ": ")
    }
}

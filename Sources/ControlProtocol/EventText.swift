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
        let details = event.fields.sorted { $0.key < $1.key }.map { "\($0.key)=\(shown($0.value))" }.joined(separator: " ")
        return [event.type, event.text, details.isEmpty ? nil : details].compactMap { $0 }.joined(separator: ": ")
    }

    /// A value with a space, `=` or `"` in quotes, so each `key=value` reads
    /// as one.
    private static func shown(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0.isWhitespace || $0 == "=" || $0 == "\"" }) else { return value }
        return "\"" + value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }
}

/// The agent's latest reply as it went to the speaker: how long it runs
/// and, where the server sent alignment, when each character starts. When
/// the reply is cut short it tells what the user heard.
struct ReplyAudio: Sendable, Equatable {
    private(set) var milliseconds = 0.0
    private var characters: [TimedCharacter] = []

    private struct TimedCharacter: Sendable, Equatable {
        let text: String
        let startMs: Double
    }

    mutating func add(frames: Int, sampleRate: Int, alignment: AudioEvent.Alignment?) {
        if let alignment {
            for (text, start) in zip(alignment.chars, alignment.charStartTimesMs) {
                characters.append(TimedCharacter(text: text, startMs: milliseconds + start))
            }
        }
        milliseconds += Double(frames) * 1000 / Double(sampleRate)
    }

    /// What was heard once `unplayedMs` of the end was dropped: its length,
    /// and its words where alignment came with the audio.
    func heard(unplayedMs: Double) -> ChatTurn.Interruption {
        let heardMs = max(0, milliseconds - unplayedMs)
        let text = characters.isEmpty ? nil : characters.prefix { $0.startMs < heardMs }.map(\.text).joined()
        return ChatTurn.Interruption(spokenMs: Int(heardMs.rounded()), spokenText: text)
    }
}

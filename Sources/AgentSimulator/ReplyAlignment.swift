import AgentProtocol

/// The `alignment` the service sends with each audio chunk: here the
/// reply's characters spread evenly over its audio, each chunk carrying
/// the ones that start within it, timed from the chunk's start.
enum ReplyAlignment {
    static func perChunk(text: String, chunkCount: Int, chunkMilliseconds: Int) -> [AudioEvent.Alignment] {
        let characters = text.map(String.init)
        let totalMs = Double(chunkCount * chunkMilliseconds)
        let step = characters.isEmpty ? 0 : totalMs / Double(characters.count)
        var chunks = Array(repeating: AudioEvent.Alignment(chars: [], charStartTimesMs: [], charDurationsMs: []), count: chunkCount)
        for (index, character) in characters.enumerated() {
            let start = Double(index) * step
            let chunk = min(chunkCount - 1, Int(start) / chunkMilliseconds)
            chunks[chunk].chars.append(character)
            chunks[chunk].charStartTimesMs.append(start - Double(chunk * chunkMilliseconds))
            chunks[chunk].charDurationsMs.append(step)
        }
        return chunks
    }
}

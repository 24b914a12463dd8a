import AgentSession
import Foundation

/// The simulated agent's voice: a steady tone, deterministic so tests can
/// compare what was played with what was sent.
struct ToneSynthesizer: Sendable {
    let format: AudioFormat
    var frequency = 440.0
    var amplitude = 0.25

    /// `seconds` of speech, split into chunks of `chunkMilliseconds`.
    func chunks(seconds: Double, chunkMilliseconds: Int) -> [Data] {
        let total = Int(seconds * Double(format.sampleRate))
        let perChunk = max(1, format.sampleRate * chunkMilliseconds / 1000)
        let samples = (0..<total).map { index -> Int16 in
            let phase = 2 * Double.pi * frequency * Double(index) / Double(format.sampleRate)
            return Int16(sin(phase) * amplitude * 32767)
        }
        return stride(from: 0, to: total, by: perChunk).map { start in
            PCMCodec.bytes(from: Array(samples[start..<min(start + perChunk, total)]), format: format)
        }
    }
}

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
        let samples = (0..<Int(seconds * Double(format.sampleRate))).map { index -> Int16 in
            let phase = 2 * Double.pi * frequency * Double(index) / Double(format.sampleRate)
            return Int16(sin(phase) * amplitude * 32767)
        }
        return Self.chunks(of: samples, format: format, chunkMilliseconds: chunkMilliseconds)
    }

    /// `samples` as audio messages of `chunkMilliseconds` each, in `format`.
    static func chunks(of samples: [Int16], format: AudioFormat, chunkMilliseconds: Int) -> [Data] {
        let perChunk = max(1, format.sampleRate * chunkMilliseconds / 1000)
        return stride(from: 0, to: samples.count, by: perChunk).map { start in
            PCMCodec.bytes(from: Array(samples[start..<min(start + perChunk, samples.count)]), format: format)
        }
    }
}

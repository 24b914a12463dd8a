import Foundation

/// Converts between the wire's sample bytes and 16-bit linear samples.
public enum PCMCodec {
    public static func linearSamples(from bytes: Data, format: AudioFormat) -> [Int16] {
        switch format.encoding {
        case .pcm:
            return bytes.withUnsafeBytes { raw in
                (0..<raw.count / 2).map { Int16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
            }
        case .ulaw:
            return bytes.map(MuLaw.decode)
        }
    }

    public static func bytes(from samples: [Int16], format: AudioFormat) -> Data {
        switch format.encoding {
        case .pcm:
            var data = Data(capacity: samples.count * 2)
            for sample in samples {
                withUnsafeBytes(of: sample.littleEndian) { data.append(contentsOf: $0) }
            }
            return data
        case .ulaw:
            return Data(samples.map(MuLaw.encode))
        }
    }

    /// Root-mean-square level in dBFS; silence is -infinity.
    @inlinable
    public static func rmsDBFS(_ samples: some Collection<Int16>) -> Double {
        guard !samples.isEmpty else { return -.infinity }
        let sumOfSquares = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
        let rms = (sumOfSquares / Double(samples.count)).squareRoot()
        return rms > 0 ? 20 * log10(rms / 32768) : -.infinity
    }
}

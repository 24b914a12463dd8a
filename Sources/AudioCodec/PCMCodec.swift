import FoundationEssentials
import Glibc

#if !_endian(little)
#error("PCMCodec copies samples as they lie in memory; the wire is little-endian")
#endif

/// Converts between the wire's sample bytes and 16-bit linear samples: the
/// one codec that playback, capture and the simulator share.
public enum PCMCodec {
    /// The samples the bytes carry in `format`.
    public static func linearSamples(from bytes: Data, format: AudioFormat) -> [Int16] {
        switch format.encoding {
        case .pcm:
            bytes.withUnsafeBytes { raw in
                [Int16](unsafeUninitializedCapacity: raw.count / 2) { buffer, count in
                    // The wire is little-endian, as every host this runs on: one copy.
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[..<(buffer.count * 2)]))
                    count = buffer.count
                }
            }
        case .ulaw:
            bytes.map(MuLaw.decode)
        }
    }

    /// The bytes that carry `samples` in `format`.
    @inlinable
    public static func bytes(from samples: some RandomAccessCollection<Int16>, format: AudioFormat) -> Data {
        switch format.encoding {
        case .pcm:
            // The wire is little-endian, as every host this runs on: one copy.
            if let data = samples.withContiguousStorageIfAvailable({ Data(buffer: $0) }) { return data }
            return Array(samples).withUnsafeBufferPointer { Data(buffer: $0) }
        case .ulaw:
            return Data(samples.lazy.map(MuLaw.encode))
        }
    }

    /// How many samples `byteCount` bytes of `format` hold.
    public static func sampleCount(bytes byteCount: Int, format: AudioFormat) -> Int {
        byteCount / format.bytesPerSample
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

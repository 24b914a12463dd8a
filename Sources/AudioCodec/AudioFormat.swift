/// An audio format as the protocol names it: `<codec>_<rate>`, mono, raw
/// samples with no header.
public struct AudioFormat: Sendable, Hashable, CustomStringConvertible, Codable {
    public enum Encoding: String, Sendable, Codable {
        /// Signed 16-bit little-endian.
        case pcm
        /// G.711 µ-law, one byte a sample.
        case ulaw
    }

    public let encoding: Encoding
    public let sampleRate: Int

    public static let pcmRates: Set<Int> = [8000, 16000, 22050, 24000, 44100, 48000]

    public init(encoding: Encoding, sampleRate: Int) throws(AudioFormatError) {
        let valid =
            switch encoding {
            case .pcm: Self.pcmRates.contains(sampleRate)
            case .ulaw: sampleRate == 8000
            }
        guard valid else { throw AudioFormatError(name: "\(encoding.rawValue)_\(sampleRate)") }
        self.encoding = encoding
        self.sampleRate = sampleRate
    }

    public init(parsing name: String) throws(AudioFormatError) {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2, let encoding = Encoding(rawValue: String(parts[0])), let rate = Int(parts[1]) else {
            throw AudioFormatError(name: name)
        }
        try self.init(encoding: encoding, sampleRate: rate)
    }

    public static let pcm16000 = try! AudioFormat(encoding: .pcm, sampleRate: 16000)

    public var bytesPerSample: Int { encoding == .pcm ? 2 : 1 }

    public var bytesPerSecond: Int { bytesPerSample * sampleRate }

    public var description: String { "\(encoding.rawValue)_\(sampleRate)" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        do {
            try self.init(parsing: try container.decode(String.self))
        } catch let error as AudioFormatError {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

public struct AudioFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    public let name: String

    public init(name: String) {
        self.name = name
    }

    public var description: String {
        "unsupported audio format '\(name)': expected pcm_8000, pcm_16000, pcm_22050, pcm_24000, pcm_44100, pcm_48000 or ulaw_8000"
    }
}

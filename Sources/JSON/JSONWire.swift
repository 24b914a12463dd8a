import FoundationEssentials

/// The one JSON encoder and decoder configuration the wire uses.
public enum JSONWire {
    public static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// For values whose encoding cannot fail (plain Codable trees).
    static func encodeToString(_ value: some Encodable) -> String {
        (try? encode(value)) ?? "null"
    }

    public static func decode<Value: Decodable>(_ type: Value.Type, from bytes: some DataProtocol) throws -> Value {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}

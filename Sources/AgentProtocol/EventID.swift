/// A server event id. Ids increase through the whole conversation and are
/// shared by every kind of event, so they order audio against interruptions.
/// The official SDK tolerates ids sent as numeric strings; so do we.
public struct EventID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let value: Int

    public init(_ value: Int) {
        self.value = value
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            value = number
        } else if let text = try? container.decode(String.self), let number = Int(text) {
            value = number
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "event_id is not an integer")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }

    public static func < (lhs: EventID, rhs: EventID) -> Bool { lhs.value < rhs.value }

    public var description: String { String(value) }
}

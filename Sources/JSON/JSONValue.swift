/// Any JSON value, for the parts of the protocol whose shape the agent's
/// owner decides: tool parameters, dynamic variables, custom LLM bodies.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            // An integer whenever the value is one, however it was written
            // (777777777777777777.7 is 777777777777777792 as a Double):
            // decoding what was encoded then gives the same case.
            self = Int(exactly: value).map(JSONValue.integer) ?? .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The value as a command-line user would type it: `KEY=VALUE` with VALUE
    /// read as a number or boolean when it is one, else as a string.
    public init(inferringTypeOf text: String) {
        if let value = Int(text) {
            self = .integer(value)
        } else if let value = Double(text), value.isFinite {
            self = .number(value)
        } else if text == "true" || text == "false" {
            self = .bool(text == "true")
        } else {
            self = .string(text)
        }
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): String(value)
        case .integer(let value): String(value)
        case .number(let value): String(value)
        case .string(let value): value
        case .array, .object: JSONWire.encodeToString(self)
        }
    }
}

extension JSONValue {
    /// The members, if this is an object.
    public var objectMembers: [String: JSONValue]? {
        if case .object(let members) = self { members } else { nil }
    }
}

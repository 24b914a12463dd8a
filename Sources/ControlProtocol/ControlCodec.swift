import FoundationEssentials

/// Encodes and decodes control lines. Every line is one JSON object with
/// `"v"`; requests carry `"id"`, `"command"` and `"args"`; the daemon answers
/// with `"ok"` and `"result"` or `"error"`, and pushes `"event"` and
/// `"overflow"` lines to followers.
public enum ControlCodec {
    // MARK: Requests

    public static func encode(_ request: ControlRequest) -> Data {
        var fields: [String: AnyEncodable] = [
            "v": AnyEncodable(ControlProtocol.version), "id": AnyEncodable(request.id), "command": AnyEncodable(request.command.name),
        ]
        switch request.command {
        case .start(let options): fields["args"] = AnyEncodable(options)
        case .events(let options): fields["args"] = AnyEncodable(options)
        case .say(let text), .context(let text): fields["args"] = AnyEncodable(TextArgument(text: text))
        case .feedback(let liked): fields["args"] = AnyEncodable(ScoreArgument(score: liked ? "like" : "dislike"))
        case .stop, .interrupt, .status, .history, .devices, .mute, .unmute: break
        }
        return line(fields)
    }

    /// A refused request, with the id when the line had a readable one.
    public struct RequestFailure: Error, Sendable, Equatable {
        public var id: String?
        public var error: ControlError
    }

    public static func decodeRequest(_ line: some DataProtocol) -> Result<ControlRequest, RequestFailure> {
        let bytes = Data(line)
        guard bytes.count <= ControlProtocol.maxRequestBytes else {
            return .failure(RequestFailure(id: nil, error: ControlError(.tooLarge, "a request may be at most \(ControlProtocol.maxRequestBytes) bytes")))
        }
        let header: RequestHeader
        do {
            header = try JSONDecoder().decode(RequestHeader.self, from: bytes)
        } catch {
            return .failure(RequestFailure(id: nil, error: ControlError(.badJSON, "the request is not a JSON object with a string \"id\" and \"command\"")))
        }
        let id = header.id
        func failure(_ code: ControlError.Code, _ message: String) -> Result<ControlRequest, RequestFailure> {
            .failure(RequestFailure(id: id, error: ControlError(code, message)))
        }
        if let version = header.version, version != ControlProtocol.version {
            return failure(.badVersion, "this daemon speaks control protocol version \(ControlProtocol.version), not \(version)")
        }
        guard let id else { return failure(.badArguments, "the request has no \"id\"") }
        guard let name = header.command else { return failure(.badArguments, "the request has no \"command\"") }
        do {
            let command: ControlCommand
            switch name {
            case "start": command = .start(try arguments(StartOptions.self, from: bytes) ?? StartOptions())
            case "stop": command = .stop
            case "interrupt": command = .interrupt
            case "status": command = .status
            case "history": command = .history
            case "devices": command = .devices
            case "events": command = .events(try arguments(EventsOptions.self, from: bytes) ?? EventsOptions())
            case "say": command = .say(text: try text(from: bytes, command: name))
            case "context": command = .context(text: try text(from: bytes, command: name))
            case "mute": command = .mute
            case "unmute": command = .unmute
            case "feedback": command = .feedback(liked: try liked(from: bytes))
            default:
                return failure(.unknownCommand, "unknown command '\(name)'; the commands are \(ControlCommand.names.joined(separator: ", "))")
            }
            return .success(ControlRequest(id: id, command: command))
        } catch let error as ControlError {
            return failure(error.code, error.message)
        } catch {
            return failure(.badArguments, "the arguments of '\(name)' are malformed: \(error)")
        }
    }

    private struct RequestHeader: Decodable {
        var version: Int?
        var id: String?
        var command: String?

        enum CodingKeys: String, CodingKey {
            case version = "v"
            case id, command
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            version = try? container.decodeIfPresent(Int.self, forKey: .version)
            id = (try? container.decodeIfPresent(String.self, forKey: .id)) ?? (try? container.decodeIfPresent(Int.self, forKey: .id)).flatMap { $0.map(String.init) }
            command = try? container.decodeIfPresent(String.self, forKey: .command)
        }
    }

    private struct Arguments<Value: Decodable>: Decodable {
        var args: Value?
    }

    private static func arguments<Value: Decodable>(_ type: Value.Type, from bytes: Data) throws -> Value? {
        do {
            return try JSONDecoder().decode(Arguments<Value>.self, from: bytes).args
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw ControlError(.badArguments, "argument '\(context.codingPath.dropFirst().map(\.stringValue).joined(separator: "."))' has the wrong type")
        }
    }

    private static func text(from bytes: Data, command: String) throws -> String {
        guard let text = try arguments(TextArgument.self, from: bytes)?.text, !text.isEmpty else {
            throw ControlError(.badArguments, "'\(command)' needs a non-empty \"text\" argument")
        }
        return text
    }

    private static func liked(from bytes: Data) throws -> Bool {
        switch try arguments(ScoreArgument.self, from: bytes)?.score {
        case "like": return true
        case "dislike": return false
        default: throw ControlError(.badArguments, "'feedback' needs a \"score\" argument of \"like\" or \"dislike\"")
        }
    }

    // MARK: Daemon → client

    public static func reply(id: String, result: (some Encodable & Sendable)?) -> Data {
        var fields: [String: AnyEncodable] = ["v": AnyEncodable(ControlProtocol.version), "id": AnyEncodable(id), "ok": AnyEncodable(true)]
        if let result { fields["result"] = AnyEncodable(result) }
        return line(fields)
    }

    public static func reply(id: String) -> Data {
        reply(id: id, result: Optional<Empty>.none)
    }

    public static func failure(id: String?, _ error: ControlError) -> Data {
        var fields: [String: AnyEncodable] = ["v": AnyEncodable(ControlProtocol.version), "ok": AnyEncodable(false), "error": AnyEncodable(error)]
        if let id { fields["id"] = AnyEncodable(id) }
        return line(fields)
    }

    public static func event(_ event: ControlEvent) -> Data {
        line(["v": AnyEncodable(ControlProtocol.version), "event": AnyEncodable(event)])
    }

    /// Tells a follower that it read too slowly and `dropped` events were skipped.
    public static func overflow(dropped: Int) -> Data {
        line(["v": AnyEncodable(ControlProtocol.version), "overflow": AnyEncodable(["dropped": dropped])])
    }

    /// One line from the daemon, as a client reads it.
    public enum Message<Result: Decodable & Sendable>: Sendable {
        case reply(id: String, result: Result?)
        case failure(id: String?, ControlError)
        case event(ControlEvent)
        case overflow(dropped: Int)
    }

    public static func decodeMessage<Result: Decodable & Sendable>(_ line: some DataProtocol, result: Result.Type) throws -> Message<Result> {
        let message = try JSONDecoder().decode(MessageEnvelope<Result>.self, from: Data(line))
        if let event = message.event { return .event(event) }
        if let overflow = message.overflow { return .overflow(dropped: overflow["dropped"] ?? 0) }
        if message.ok == true, let id = message.id { return .reply(id: id, result: message.result) }
        return .failure(id: message.id, message.error ?? ControlError(.badJSON, "the daemon sent a line this client does not understand"))
    }

    private struct MessageEnvelope<Result: Decodable>: Decodable {
        var id: String?
        var ok: Bool?
        var result: Result?
        var error: ControlError?
        var event: ControlEvent?
        var overflow: [String: Int]?
    }

    /// An empty result, for commands that answer only "ok".
    public struct Empty: Codable, Sendable, Equatable {
        public init() {}
    }

    private static func line(_ fields: [String: AnyEncodable]) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plain Codable trees whose numbers are finite (the daemon leaves out
        // -infinity levels): encoding cannot fail.
        var data = (try? encoder.encode(fields)) ?? Data("{}".utf8)
        data.append(UInt8(ascii: "\n"))
        return data
    }
}

/// Lets one dictionary hold the different Encodable values of a line.
struct AnyEncodable: Encodable, Sendable {
    private let encodeValue: @Sendable (any Encoder) throws -> Void

    init(_ value: some Encodable & Sendable) {
        encodeValue = { try value.encode(to: $0) }
    }

    func encode(to encoder: any Encoder) throws {
        try encodeValue(encoder)
    }
}

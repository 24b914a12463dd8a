import AgentSession
import Foundation

/// One thing the simulator received (or noticed) during a conversation.
public struct RecordedMessage: Sendable, Codable, Equatable {
    public var conversationID: String
    /// Seconds since 1970, when the frame arrived.
    public var receivedAt: Double
    /// The client message's type; `user_audio_chunk` for audio, and
    /// `simulator.*` for what the simulator itself noticed.
    public var type: String
    /// The message as sent, except audio, whose bytes are summarised.
    public var message: JSONValue?
    public var audioBytes: Int?
    public var rmsDBFS: Double?

    enum CodingKeys: String, CodingKey {
        case conversationID = "conversation_id"
        case receivedAt = "received_at"
        case type
        case message
        case audioBytes = "audio_bytes"
        case rmsDBFS = "rms_dbfs"
    }
}

/// Keeps what clients sent, in memory for in-process tests and, when a path
/// is given, as JSON lines for tests in other languages.
public actor SimulatorRecorder {
    /// Enough for a long test conversation; older entries are dropped.
    static let memoryLimit = 200_000

    private var records: [RecordedMessage] = []
    private let file: FileHandle?

    public init(path: String?) throws {
        if let path {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw SimulatorError.cannotWrite(path)
            }
            guard let handle = FileHandle(forWritingAtPath: path) else {
                throw SimulatorError.cannotWrite(path)
            }
            file = handle
        } else {
            file = nil
        }
    }

    func record(_ record: RecordedMessage) {
        if records.count >= Self.memoryLimit {
            records.removeFirst(records.count / 2)
        }
        records.append(record)
        if let file, let line = try? JSONWire.encode(record) {
            file.write(Data((line + "\n").utf8))
        }
    }

    public func messages(conversationID: String? = nil) -> [RecordedMessage] {
        guard let conversationID else { return records }
        return records.filter { $0.conversationID == conversationID }
    }
}

public enum SimulatorError: Error, CustomStringConvertible {
    case cannotWrite(String)
    case unreadableTLSFile(String)
    case certificateGenerationFailed(status: Int32)

    public var description: String {
        switch self {
        case .cannotWrite(let path): "cannot write the record file '\(path)'"
        case .unreadableTLSFile(let path): "cannot read the TLS file '\(path)'"
        case .certificateGenerationFailed(let status): "openssl could not make a self-signed certificate (exit \(status))"
        }
    }
}

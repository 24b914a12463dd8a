/// A refusal, with a code a program can act on and words a person can read.
public struct ControlError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case badJSON = "bad_json"
        case tooLarge = "too_large"
        case badVersion = "bad_version"
        case unknownCommand = "unknown_command"
        case badArguments = "bad_arguments"
        case conversationRunning = "conversation_running"
        case noConversation = "no_conversation"
        case startFailed = "start_failed"
        case audioDevice = "audio_device"
        /// `feedback` with no agent response to rate, or the last one rated already.
        case nothingToRate = "nothing_to_rate"
        /// The daemon's configuration is invalid; it answers only this until reloaded.
        case badConfiguration = "bad_configuration"
        case unavailable
        /// The connection sent no request for too long and was closed.
        case idle
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

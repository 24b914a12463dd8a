/// Why a conversation ended, in terms a person can act on.
public enum EndReason: Sendable, Equatable {
    /// We asked for it (`stop`, shutdown).
    case stoppedByClient
    /// The agent's side closed the socket; the code and reason are the
    /// server's, and `error` is the `error` message it sent just before.
    case closedByServer(code: Int?, reason: String?, error: ServerErrorEvent?)
    /// No conversation was ever established, for a reason that may pass
    /// (the network, a timeout, the service busy or failing).
    case connectionFailed(String)
    /// The service refused the conversation for a reason that would repeat:
    /// the API key, an unknown or private agent, a bad request, a local
    /// setting.
    case refused(String)
    /// An established conversation lost its connection.
    case networkError(String)
    /// The server broke the protocol so that the conversation could not go on.
    case protocolError(String)
    /// The sound card could not be opened for the agent's formats.
    case audioUnavailable(String)

    public var kind: String {
        switch self {
        case .stoppedByClient: "stopped"
        case .closedByServer: "closed_by_server"
        case .connectionFailed: "connection_failed"
        case .refused: "refused"
        case .networkError: "network_error"
        case .protocolError: "protocol_error"
        case .audioUnavailable: "audio_device"
        }
    }

    public var isError: Bool {
        switch self {
        case .stoppedByClient: false
        case .closedByServer(let code, _, let error): error != nil || (code != nil && code != 1000)
        case .connectionFailed, .refused, .networkError, .protocolError, .audioUnavailable: true
        }
    }

    /// Whether a new conversation might succeed where this one ended: a lost
    /// network, a connection that could not be made, or the service's own
    /// internal error (1011). Not our stop, the agent's clean close, a
    /// refusal, a broken protocol or the sound card.
    public var isTransient: Bool {
        switch self {
        case .networkError, .connectionFailed: true
        case .closedByServer(let code, _, _): code == 1011
        case .stoppedByClient, .refused, .protocolError, .audioUnavailable: false
        }
    }

    /// The agent refused the conversation overrides it was sent.
    public var refusedOverrides: Bool {
        guard case .closedByServer(let code, let reason, let error) = self else { return false }
        return CloseExplanation(code: code, reason: reason, error: error).reasonText == CloseExplanation.overrideRefusal
    }

    public var explanation: String {
        switch self {
        case .stoppedByClient:
            return "the conversation was stopped"
        case .closedByServer(let code, let reason, let error):
            return CloseExplanation(code: code, reason: reason, error: error).text
        case .connectionFailed(let detail):
            return "could not connect to the agent: \(detail)"
        case .refused(let detail):
            return "the agent's service refused the conversation: \(detail)"
        case .networkError(let detail):
            return "the connection to the agent was lost: \(detail)"
        case .protocolError(let detail):
            return "the agent broke the protocol: \(detail)"
        case .audioUnavailable(let detail):
            return detail
        }
    }
}

/// Puts a WebSocket close code, its reason and the server's last `error`
/// message into one sentence.
struct CloseExplanation {
    let code: Int?
    let reason: String?
    let error: ServerErrorEvent?

    static let overrideRefusal = "override_error"

    /// The close reason, else the reason or type of the `error` before it.
    var reasonText: String? {
        reason.flatMap { $0.isEmpty ? nil : $0 } ?? error?.reason ?? error?.errorType
    }

    var text: String {
        let message = error?.message.flatMap { $0.isEmpty ? nil : $0 }
        var sentence = headline(reasonText)
        if let reasonText {
            sentence += " (\(code.map(String.init) ?? "no code") \(reasonText))"
        } else if let code {
            sentence += " (\(code))"
        }
        if let message, message != reasonText {
            sentence += ": \(message)"
        }
        return sentence
    }

    private func headline(_ reason: String?) -> String {
        switch reason {
        case Self.overrideRefusal:
            return "this agent does not allow the requested conversation overrides (first message, prompt, language or voice); allow them in the agent's security settings or leave them out"
        case "missing_dynamic_variable":
            return "the agent needs a dynamic variable this conversation did not provide"
        default:
            break
        }
        switch code {
        case 1000?, nil: return "the agent ended the conversation"
        case 1002?: return "the agent ended the conversation after an operational problem (no user input for too long, a slow LLM, a policy, or a speech service failure)"
        case 1008?: return "the agent refused the conversation's input"
        case 1009?: return "a message was too large"
        case 1011?: return "the agent's service had an internal error"
        case let other?: return "the agent closed the connection with code \(other)"
        }
    }
}

/// The control socket's wire format: newline-delimited JSON, one request
/// per line from the client; replies, events and markers from the daemon.
/// docs/control-protocol.md describes it for people.
public enum ControlProtocol {
    /// Sent as `"v"` in every message. A request for another version is refused.
    public static let version = 1
    /// The longest request line the daemon reads; longer ones are refused.
    public static let maxRequestBytes = 64 << 10
    /// The longest line a client reads from the daemon.
    public static let maxReplyBytes = 4 << 20
    public static let defaultSocketPath = "/run/voiceagentd/control.sock"
}

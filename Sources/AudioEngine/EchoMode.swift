/// What the daemon does about the agent's voice coming back through the
/// microphone.
public enum EchoMode: String, Sendable, CaseIterable {
    /// Nothing: a headset, or hardware that cancels its own echo.
    case none
    /// The microphone sends silence while the agent is heard, and for a
    /// tail after: the agent cannot hear itself, nor be talked over.
    case halfDuplex = "half-duplex"
    /// An acoustic echo canceller, fed with what was played, removes the
    /// agent's voice from the microphone; the user can still talk over it.
    case cancel
}

/// When a conversation lost to the network comes back: exponential backoff
/// with full jitter (each wait a random share of a doubling cap), so a
/// hundred boxes that lost the same link do not all call back at once.
struct ReconnectPolicy: Sendable, Equatable {
    var enabled: Bool
    var initialDelay: Duration
    var maxDelay: Duration
    /// 0: keep trying as long as the failures are transient.
    var maxAttempts: Int
    /// Whether a replacement is told of the conversation it replaces (`CarryOver`).
    var carriesOver = false

    /// The wait before attempt `attempt` (from 1): a random share, `fraction`
    /// in 0...1, of min(maxDelay, initialDelay × 2^(attempt-1)).
    func delay(beforeAttempt attempt: Int, fraction: Double = Double.random(in: 0...1)) -> Duration {
        let doublings = min(max(attempt - 1, 0), 30)
        let cap = min(maxDelay, initialDelay * (1 << doublings))
        return cap * fraction
    }

    func allows(attempt: Int) -> Bool {
        enabled && (maxAttempts == 0 || attempt <= maxAttempts)
    }
}

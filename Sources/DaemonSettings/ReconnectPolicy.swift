/// When a conversation lost to the network comes back: exponential backoff
/// with full jitter (each wait a random share of a doubling cap), so a
/// hundred boxes that lost the same link do not all call back at once.
package struct ReconnectPolicy: Sendable, Equatable {
    package var enabled: Bool
    package var initialDelay: Duration
    package var maxDelay: Duration
    /// 0: keep trying as long as the failures are transient.
    package var maxAttempts: Int
    /// Whether a replacement is told of the conversation it replaces (`CarryOver`).
    package var carriesOver: Bool

    package init(enabled: Bool, initialDelay: Duration, maxDelay: Duration, maxAttempts: Int, carriesOver: Bool = false) {
        self.enabled = enabled
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
        self.carriesOver = carriesOver
    }

    /// The wait before attempt `attempt` (from 1): a random share, `fraction`
    /// in 0...1, of min(maxDelay, initialDelay × 2^(attempt-1)).
    package func delay(beforeAttempt attempt: Int, fraction: Double = Double.random(in: 0...1)) -> Duration {
        let doublings = min(max(attempt - 1, 0), 30)
        let cap = min(maxDelay, initialDelay * (1 << doublings))
        return cap * fraction
    }

    package func allows(attempt: Int) -> Bool {
        enabled && (maxAttempts == 0 || attempt <= maxAttempts)
    }
}

/// The always-on mode of a kiosk or robot that nobody starts by hand: a
/// conversation with the configured agent whenever none is running.
package struct AlwaysOn: Sendable, Equatable {
    package var enabled: Bool
    /// Between the end of one conversation and the start of the next.
    package var pause: Duration

    package init(enabled: Bool, pause: Duration) {
        self.enabled = enabled
        self.pause = pause
    }
}

/// Keeps capture from running ahead of the clock. A sound card delivers
/// frames in real time; a device that does not (ALSA's `null` or `file`
/// PCMs, a misconfigured plugin) would have the capture thread read and
/// send as fast as it can, which at real-time priority holds a whole core.
struct RealTimePace {
    /// A burst at the stream's start (a buffer filled before the first
    /// read) is normal; more than this ahead of the clock is not.
    static let slack = Duration.milliseconds(200)

    let sampleRate: Int
    private var start: ContinuousClock.Instant?
    private var frames = 0

    init(sampleRate: Int) {
        self.sampleRate = sampleRate
    }

    /// Counts `count` frames read; returns how long to wait when the
    /// stream is ahead of the clock by more than the slack.
    mutating func captured(frames count: Int) -> Duration? {
        let now = ContinuousClock.now
        let start = self.start ?? now
        self.start = start
        frames += count
        let due = start + .seconds(Double(frames) / Double(sampleRate))
        let early = due - now
        return early > Self.slack ? early - Self.slack : nil
    }
}

import Glibc

/// How long after the speaker played something the microphone hears it,
/// beyond what the devices report: the room's path, and latencies a device
/// or sound server does not tell. Found by matching the loudness envelopes
/// of both, 10 ms at a time, over the last two seconds; speech's rises and
/// pauses make the match sharp. Nil until it is.
struct EchoDelayEstimator: Sendable {
    static let historyFrames = 200
    /// The longest delay looked for: 400 ms.
    static let maxLagFrames = 40
    /// How well the envelopes must match at the delay found.
    static let minimumCorrelation = 0.6
    static let estimateEveryFrames = 25

    private var heard = [Double](repeating: 0, count: historyFrames)
    private var captured = [Double](repeating: 0, count: historyFrames)
    private var frames = 0
    /// The delay in 10 ms frames, once found.
    private(set) var delayFrames: Int?
    /// Whether the microphone followed the speaker at the last estimate.
    private(set) var follows = false

    /// One 10 ms frame: the energies (sums of squares) of what the speaker
    /// played and of what the microphone heard over it.
    mutating func add(heard energyHeard: Double, captured energyCaptured: Double) {
        let slot = frames % Self.historyFrames
        heard[slot] = Self.level(energyHeard)
        captured[slot] = Self.level(energyCaptured)
        frames += 1
        if frames >= Self.historyFrames, frames % Self.estimateEveryFrames == 0 {
            let found = estimate()
            follows = found != nil
            if let found { delayFrames = found }
        }
    }

    /// Decibels above a floor, so that silence does not dominate.
    private static func level(_ energy: Double) -> Double {
        max(0, 10 * log10(energy + 1) - 20)
    }

    /// The lag at which the microphone's envelope best follows the
    /// speaker's, if it follows it well.
    private func estimate() -> Int? {
        let span = Self.historyFrames - Self.maxLagFrames
        // Oldest first: the frame `index` frames after the oldest kept.
        func value(_ series: [Double], _ index: Int) -> Double { series[(frames + index) % Self.historyFrames] }
        var best: (lag: Int, correlation: Double)?
        for lag in 0...Self.maxLagFrames {
            var sums = (x: 0.0, y: 0.0, xx: 0.0, yy: 0.0, xy: 0.0)
            for index in Self.maxLagFrames..<Self.historyFrames {
                let x = value(heard, index - lag)
                let y = value(captured, index)
                sums = (sums.x + x, sums.y + y, sums.xx + x * x, sums.yy + y * y, sums.xy + x * y)
            }
            let n = Double(span)
            let varianceX = sums.xx - sums.x * sums.x / n
            let varianceY = sums.yy - sums.y * sums.y / n
            guard varianceX > 1e-9, varianceY > 1e-9 else { return nil }
            let correlation = (sums.xy - sums.x * sums.y / n) / (varianceX * varianceY).squareRoot()
            if correlation > (best?.correlation ?? -1) { best = (lag, correlation) }
        }
        // The best match at the longest lag looked for is no peak: the
        // envelopes of a conversation's turns (the user, then the agent)
        // line up there as often as anywhere beyond it.
        guard let best, best.correlation >= Self.minimumCorrelation, best.lag < Self.maxLagFrames else { return nil }
        return best.lag
    }
}

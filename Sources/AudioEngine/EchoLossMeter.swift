import Glibc

/// How much of the agent's voice reaches the agent: the energies of what
/// the speaker played, of the microphone before the canceller and after
/// it, averaged over about the last half second the speaker was heard
/// (stretches of silence from the speaker leave them as they were).
/// Half a second: the average follows a canceller that has learnt soon
/// enough to end the microphone's hold (with a second it lagged by about
/// one, and the hold outlasted the learning).
struct EchoLossMeter: Sendable {
    /// The averaging's time constant.
    static let window = 0.5
    let sampleRate: Int
    private var heard = 0.0
    private var before = 0.0
    private var after = 0.0
    private var activeFrames = 0

    init(sampleRate: Int) {
        self.sampleRate = sampleRate
    }

    /// One chunk's energies (sums of squares): the speaker's over the same
    /// stretch, and the microphone's before and after cancelling.
    mutating func add(heard energyHeard: Double, before energyBefore: Double, after energyAfter: Double, frames: Int, speakerHeard: Bool) {
        guard speakerHeard else { return }
        let keep = exp(-Double(frames) / (Self.window * Double(sampleRate)))
        heard = heard * keep + energyHeard * (1 - keep)
        before = before * keep + energyBefore * (1 - keep)
        after = after * keep + energyAfter * (1 - keep)
        activeFrames += frames
    }

    /// Whether half a second of the speaker was heard.
    private var measured: Bool { activeFrames * 2 >= sampleRate }

    /// How long the speaker was heard, in seconds.
    var heardSeconds: Double { Double(activeFrames) / Double(sampleRate) }

    /// Echo return loss enhancement: how much quieter the microphone is
    /// after the canceller than before it. Nil until measured, or while the
    /// microphone is silent (nothing to enhance).
    var enhancementDB: Double? {
        guard measured, before > 1 else { return nil }
        return 10 * log10(before / max(after, 1e-3))
    }

    /// How much quieter the microphone is than the speaker before any
    /// cancelling: the room's loss alone. Nil until measured.
    var roomLossDB: Double? {
        guard measured, heard > 1 else { return nil }
        return 10 * log10(heard / max(before, 1e-3))
    }

    /// The canceller counts as converged when it has learnt at least this
    /// much and what it sends is at least `quietDB` below the speaker
    /// (`quietBlindDB` while it has not been told the echo's delay), or
    /// when the microphone is `quietDB` below the speaker before any
    /// cancelling (a headset, a device that cancels its own echo: nothing
    /// to learn).
    static let learntDB = 20.0
    static let quietDB = 30.0
    static let quietBlindDB = 35.0

    /// Whether the canceller has learnt the echo path well enough to end
    /// the microphone's hold. Neither half of the first rule is enough
    /// alone: 10 dB of room and 18 dB of a half-learnt canceller after
    /// 0.8 s let the agent's next words through loud enough for the
    /// service to take them for the user's; so did 20 dB learnt over 6 dB
    /// of room, on an echo 150 ms late that the canceller, not yet told
    /// the delay, covered only in part. There its half-second average
    /// hides the peaks of speech it lets through: 31 dB below the speaker
    /// (converged 0.8 and 1.7 s in, before the delay was found at 2 s)
    /// still let a 10 ms frame over the service's threshold.
    func showsConvergence(delayKnown: Bool) -> Bool {
        guard let room = roomLossDB else { return false }
        let learnt = enhancementDB ?? 0
        let quiet = delayKnown ? Self.quietDB : Self.quietBlindDB
        return (learnt >= Self.learntDB && room + learnt >= quiet) || room >= Self.quietDB
    }

    static func energy(_ samples: UnsafeBufferPointer<Int16>) -> Double {
        samples.reduce(0) { $0 + Double($1) * Double($1) }
    }
}

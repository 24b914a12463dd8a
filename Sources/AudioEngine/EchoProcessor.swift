/// Why the echo canceller started learning from scratch.
public enum EchoRestartCause: String, Sendable, Equatable {
    case conversationStart = "start"
    case captureDevice = "capture_device"
    case playbackDevice = "playback_device"
    /// The echo's delay moved out of what the canceller covers.
    case echoDelay = "echo_delay"
    /// The microphone, found not to hear the speaker, hears it again.
    case speakerHeard = "speaker_heard"
}

/// The capture thread's part in echo handling: what each chunk becomes
/// before it goes to the agent, by mode. Not Sendable: it lives on the
/// capture thread.
final class EchoProcessor {
    /// A speaker sample above this (-50 dBFS) is heard.
    static let audibleAmplitude: Int16 = 104
    /// A microphone this much quieter than the speaker before any
    /// cancelling does not hear it (a headset, a device that cancels its
    /// own echo): the canceller rests, and the speaker is handled as with
    /// `none`. It hears it again when back within `heardSpeakerDB` and
    /// following what the speaker plays (the user's voice does not).
    static let unheardSpeakerDB = 40.0
    static let heardSpeakerDB = 30.0
    /// How long the speaker must have been heard before the microphone is
    /// found not to hear it: a speaker whose first stream stalls (seen:
    /// 1.6 s) would otherwise be taken for one the microphone cannot hear.
    static let unheardAfterSeconds = 1.5

    let mode: EchoMode
    let timeline: EchoTimeline
    private let reference: EchoReference
    private let audibility: EchoAudibility
    private let tailFrames: Int
    private let statistics: SharedStatistics
    private let report: @Sendable (AudioEngineEvent) -> Void
    private let cancellers: EchoCancellers?
    /// What the speaker played over the chunk (`heard`), after what it
    /// played just before, for cancellers given an older reference.
    private var played: [Int16]
    private var heard: ArraySlice<Int16> { played[(cancellers?.referenceHistoryFrames ?? 0)...] }
    private var restart = (cause: EchoRestartCause.conversationStart, frames: 0)
    /// Where the last chunk ended, as placed.
    private var lastEnd: Int64?
    private var delayEstimator = EchoDelayEstimator()
    /// The estimator's 10 ms frames, and what the last chunk left of one.
    private let envelopeFrames: Int
    private var partialEnvelope = (heard: 0.0, captured: 0.0, frames: 0)
    /// Whether the canceller rests: the microphone does not hear the speaker.
    private var resting = false

    init(
        mode: EchoMode, reference: EchoReference, timeline: EchoTimeline, audibility: EchoAudibility = EchoAudibility(), chunkFrames: Int,
        tailMilliseconds: Int, statistics: SharedStatistics, report: @escaping @Sendable (AudioEngineEvent) -> Void,
        makeCanceller: @escaping (_ sampleRate: Int, _ chunkFrames: Int) -> EchoCancellation? = EchoCancellation.init
    ) {
        self.mode = mode
        self.reference = reference
        self.audibility = audibility
        self.timeline = timeline
        self.statistics = statistics
        self.report = report
        let rate = timeline.sampleRate
        tailFrames = rate * tailMilliseconds / 1000
        envelopeFrames = rate / 100
        cancellers = mode == .cancel ? Self.cancellers(sampleRate: rate, chunkFrames: chunkFrames, report: report, make: makeCanceller) : nil
        played = [Int16](repeating: 0, count: (cancellers?.referenceHistoryFrames ?? 0) + chunkFrames)
        statistics.update { $0.echo = EchoStatistics(mode: mode) }
    }

    /// The cancellers for chunks of `chunkFrames` at `sampleRate`, side by
    /// side until the echo's delay is known, or nil with why not said.
    private static func cancellers(
        sampleRate: Int, chunkFrames: Int, report: @Sendable (AudioEngineEvent) -> Void, make: @escaping (Int, Int) -> EchoCancellation?
    ) -> EchoCancellers? {
        let toldDelaysMs = EchoCancellers.toldDelaysMs(upTo: EchoDelayEstimator.maxLagFrames * 10)
        guard let cancellers = EchoCancellers(toldDelaysMs: toldDelaysMs, sampleRate: sampleRate, chunkFrames: chunkFrames, make: make) else {
            report(.echoCancellerUnavailable(reason: "libwebrtc-audio-processing could not make an echo canceller at \(sampleRate) Hz: the microphone is half-duplex in this conversation (silent while the agent is heard)"))
            return nil
        }
        return cancellers
    }

    /// Handles a chunk whose last frame was heard just before `measuredEnd`
    /// (`EchoTimeline.captureEnd`).
    func process(_ chunk: inout [Int16], endingAt measuredEnd: Int64) {
        let end = place(chunk.count, measuredEnd: measuredEnd)
        let start = end - Int64(chunk.count)
        switch mode {
        case .none:
            break
        case .halfDuplex:
            silenceIfTheAgentIsHeard(&chunk, from: start, to: end)
        case .cancel:
            let converged = cancellers != nil && cancel(&chunk, from: start)
            // Until it has learnt the echo path, the canceller lets the
            // agent's first words through, and the service would take them
            // for the user: meanwhile the microphone is half-duplex.
            if !converged { silenceIfTheAgentIsHeard(&chunk, from: start, to: end) }
        }
    }

    private func silenceIfTheAgentIsHeard(_ chunk: inout [Int16], from start: Int64, to end: Int64) {
        guard reference.isAudible(from: start - Int64(tailFrames), to: end, threshold: Self.audibleAmplitude) else { return }
        chunk.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        statistics.update { $0.echo.silencedChunks += 1 }
    }

    /// The capture device was reopened or recovered: its delay may be another.
    func deviceReopened() {
        lastEnd = nil
        restartCanceller(.captureDevice)
    }

    /// Where a chunk of `count` frames measured to end at `measuredEnd`
    /// goes: right after the last one, unless the measure is off by more
    /// than a tenth of a second. Captured audio is contiguous until an
    /// overrun (which restarts this); a capture device's delay is read with
    /// jitter (a sound server's reports jump by 20 ms when a playback
    /// stream starts), and a chunk placed off its neighbours would undo what
    /// the canceller has learnt. What is left is the device's clock against
    /// the system's, a tenth of a second in a quarter of an hour at 100 ppm.
    private func place(_ count: Int, measuredEnd: Int64) -> Int64 {
        let tolerance = Int64(timeline.sampleRate / 10)
        let end = lastEnd.map { $0 + Int64(count) }.flatMap { abs($0 - measuredEnd) <= tolerance ? $0 : nil } ?? measuredEnd
        lastEnd = end
        return end
    }

    /// Cancels the echo in `chunk`; returns whether the canceller has converged.
    private func cancel(_ chunk: inout [Int16], from start: Int64) -> Bool {
        guard let cancellers else { return false }
        if reference.takePathChange() { restartCanceller(.playbackDevice) }
        played.withUnsafeMutableBufferPointer { reference.copy(into: $0, from: start - Int64(cancellers.referenceHistoryFrames)) }
        let speakerHeard = heard.contains { $0 > Self.audibleAmplitude || $0 < -Self.audibleAmplitude }
        let (energyHeard, before) = followEchoDelay(chunk)
        if resting {
            cancellers.measureUncancelled(heard: energyHeard, before: before, frames: chunk.count, speakerHeard: speakerHeard)
            guard (cancellers.meter.roomLossDB ?? .infinity) < Self.heardSpeakerDB, delayEstimator.follows else { return true }
            restartCanceller(.speakerHeard)
            return false
        }
        played.withUnsafeBufferPointer { cancellers.process(&chunk, played: $0, heard: energyHeard, before: before, speakerHeard: speakerHeard) }
        let meter = cancellers.meter
        restart.frames += chunk.count
        let delayMs = delayEstimator.delayFrames.map { Double($0 * 10) }
        let erle = meter.enhancementDB
        let (converged, justConverged) = statistics.update { statistics -> (Bool, Bool) in
            statistics.echo.returnLossEnhancementDB = erle
            if let delayMs { statistics.echo.delayMs = delayMs }
            guard !statistics.echo.converged else { return (true, false) }
            guard meter.showsConvergence(delayKnown: delayMs != nil) else { return (false, false) }
            statistics.echo.converged = true
            return (true, true)
        }
        if justConverged { cancellers.keepLearnt() }
        if converged, meter.heardSeconds >= Self.unheardAfterSeconds, (meter.roomLossDB ?? 0) >= Self.unheardSpeakerDB {
            resting = true
            audibility.set(false)
            statistics.update { $0.echo.speakerHeard = false }
        }
        if justConverged {
            report(
                .echoConverged(
                    returnLossEnhancementDB: erle ?? 0, afterMilliseconds: restart.frames * 1000 / timeline.sampleRate, cause: restart.cause))
        }
        return converged
    }

    /// Feeds the delay estimator with the chunk (before cancelling) and
    /// what was heard over it, 10 ms at a time (a frame a chunk leaves
    /// unfinished is finished by the next); tells the canceller a new delay
    /// when the echo's has left what it covers. Returns the chunk's
    /// energies: what was heard, and the microphone before cancelling.
    private func followEchoDelay(_ chunk: [Int16]) -> (heard: Double, captured: Double) {
        var energies = (heard: 0.0, captured: 0.0)
        chunk.withUnsafeBufferPointer { captured in
            heard.withUnsafeBufferPointer { played in
                var start = 0
                while start < captured.count {
                    let end = min(captured.count, start + envelopeFrames - partialEnvelope.frames)
                    let heardEnergy = EchoLossMeter.energy(UnsafeBufferPointer(rebasing: played[start..<end]))
                    let capturedEnergy = EchoLossMeter.energy(UnsafeBufferPointer(rebasing: captured[start..<end]))
                    energies = (energies.heard + heardEnergy, energies.captured + capturedEnergy)
                    partialEnvelope = (partialEnvelope.heard + heardEnergy, partialEnvelope.captured + capturedEnergy, partialEnvelope.frames + end - start)
                    if partialEnvelope.frames == envelopeFrames {
                        delayEstimator.add(heard: partialEnvelope.heard, captured: partialEnvelope.captured)
                        partialEnvelope = (0, 0, 0)
                    }
                    start = end
                }
            }
        }
        // Resting, a delay found does not wake the canceller: only the
        // microphone coming near the speaker and following it does.
        if !resting, let frames = delayEstimator.delayFrames, cancellers?.follow(delayMs: frames * 10) == true {
            echoPathMoved(.echoDelay)
        }
        return energies
    }

    private func restartCanceller(_ cause: EchoRestartCause) {
        guard let cancellers else { return }
        switch cause {
        case .captureDevice, .playbackDevice:
            // Another device, another delay: found anew, and meanwhile
            // learnt side by side as at the start.
            cancellers.startOver()
            delayEstimator = EchoDelayEstimator()
            statistics.update { $0.echo.delayMs = nil }
        case .conversationStart, .echoDelay, .speakerHeard:
            cancellers.reset()
        }
        echoPathMoved(cause)
    }

    /// What was measured of the canceller no longer holds: it learns again,
    /// assuming the microphone hears the speaker (meanwhile the microphone
    /// is half-duplex), and says when it has.
    private func echoPathMoved(_ cause: EchoRestartCause) {
        cancellers?.restartMeasuring()
        resting = false
        audibility.set(true)
        let wasLearning = statistics.update { statistics -> Bool in
            let learning = !statistics.echo.converged
            statistics.echo.converged = false
            statistics.echo.returnLossEnhancementDB = nil
            statistics.echo.speakerHeard = true
            return learning
        }
        // The echo's delay found while the canceller still learns is part
        // of that learning: its event counts from where the learning began.
        if !(wasLearning && cause == .echoDelay) { restart = (cause, 0) }
    }
}

extension EchoStatistics {
    init(mode: EchoMode) {
        self.init()
        self.mode = mode
    }
}

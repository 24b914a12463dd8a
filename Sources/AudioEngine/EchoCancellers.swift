/// The echo canceller, or, while the echo's delay is still unknown, several
/// learning side by side, each told another delay or given the reference
/// a little older (`referenceAgesMs`). One canceller covers
/// echoes up to about 100 ms after the delay it is told (measured on
/// speech: told T, an echo D was learnt for T - 10 <= D <= T + 100 ms, not
/// beyond); alone, it learns a later echo only once the delay has been
/// found over two seconds of the agent's speech, and then in two more.
/// Side by side, the one that covers the echo learns it in the first
/// second or two; the others are let go once one has learnt or the delay
/// is found. Not Sendable: it lives on the capture thread.
final class EchoCancellers {
    static let coveredDelayMs = 100
    /// A canceller is told the echo's delay less this.
    static let delayMarginMs = 30
    /// How fast WebRTC learns an echo depends on where its delay falls in
    /// the canceller's blocks of 64 frames at 16 kHz: on the unit tests'
    /// speech, an exact echo 6 dB down was learnt in 0.5-0.8 s, or in
    /// 1.6-2.0 s when it fell 44 to 62 frames into a block; through
    /// PulseAudio, one run in four of the same path took 1.3-2.6 s instead
    /// of 0.54 (its audio replayed offline took exactly as long). So each
    /// told delay is also learnt with the reference 5 and 10 ms older,
    /// which moves the echo by a quarter and a half block: every one of
    /// those runs then took 0.54-0.84 s. 15 ms older lost echoes 25 ms late.
    static let referenceAgesMs = [0, 5, 10]

    private struct Candidate {
        var toldDelayMs: Int
        /// How much older than the chunk the reference it is given is, in
        /// frames: the echo comes that much sooner after it.
        let referenceAgeFrames: Int
        let canceller: EchoCancellation
        var meter: EchoLossMeter
        /// The chunk as this canceller cleans it while several learn, made
        /// once so that the capture thread does not allocate; the one kept
        /// cleans the chunk itself.
        var output: [Int16]
    }

    private var candidates: [Candidate]
    /// The candidate whose cleaned chunk goes out: the one that has removed
    /// the most of the echo so far.
    private var leader = 0
    /// Makes the candidates as at the start: one for each delay told and
    /// age of the reference.
    private let makeCandidates: () -> [Candidate]

    /// The oldest reference a candidate is given, in frames before the
    /// chunk: `process` takes the reference from that far back.
    let referenceHistoryFrames: Int
    private let sampleRate: Int

    /// A canceller told each of `toldDelaysMs`, given the reference at each
    /// of `referenceAgesMs`; nil if none can be made.
    init?(toldDelaysMs: [Int], sampleRate: Int, chunkFrames: Int, make: @escaping (Int, Int) -> EchoCancellation?) {
        let ages = Self.referenceAgesMs.map { sampleRate * $0 / 1000 }
        referenceHistoryFrames = ages.max() ?? 0
        self.sampleRate = sampleRate
        makeCandidates = {
            toldDelaysMs.flatMap { told in
                ages.compactMap { age in
                    make(sampleRate, chunkFrames).map {
                        Candidate(
                            toldDelayMs: told, referenceAgeFrames: age, canceller: $0, meter: EchoLossMeter(sampleRate: sampleRate),
                            output: [Int16](repeating: 0, count: chunkFrames))
                    }
                }
            }
        }
        candidates = makeCandidates()
        guard !candidates.isEmpty else { return nil }
    }

    /// The delays told to cancellers side by side while the echo's delay
    /// is unknown: every echo up to `longestMs` late is covered by one.
    static func toldDelaysMs(upTo longestMs: Int) -> [Int] {
        Array(stride(from: 0, to: longestMs, by: coveredDelayMs))
    }

    /// Whether several still learn side by side.
    private var sideBySide: Bool { candidates.count > 1 }

    /// What the canceller whose chunk goes out has removed, and how loud
    /// the microphone is against the speaker.
    var meter: EchoLossMeter { candidates[leader].meter }

    /// Removes the echo of what the speaker played from `chunk`, by each
    /// canceller; what goes out is the leader's. `played` holds what was
    /// heard over the chunk, after `referenceHistoryFrames` heard before
    /// it. `heard` and `before` are the energies of the speaker and of the
    /// microphone over the chunk.
    func process(_ chunk: inout [Int16], played: UnsafeBufferPointer<Int16>, heard: Double, before: Double, speakerHeard: Bool) {
        let frames = chunk.count
        func reference(_ candidate: Candidate) -> UnsafeBufferPointer<Int16> {
            let start = referenceHistoryFrames - candidate.referenceAgeFrames
            return UnsafeBufferPointer(rebasing: played[start..<start + frames])
        }
        guard sideBySide else {
            let (told, canceller, reference) = (candidates[0].toldDelayMs, candidates[0].canceller, reference(candidates[0]))
            let after = chunk.withUnsafeMutableBufferPointer { Self.clean($0, by: canceller, toldDelayMs: told, reference: reference) }
            candidates[0].meter.add(heard: heard, before: before, after: after, frames: frames, speakerHeard: speakerHeard)
            return
        }
        for index in candidates.indices {
            let (told, canceller, reference) = (candidates[index].toldDelayMs, candidates[index].canceller, reference(candidates[index]))
            let after = candidates[index].output.withUnsafeMutableBufferPointer { output in
                _ = output.update(fromContentsOf: chunk)
                return Self.clean(output, by: canceller, toldDelayMs: told, reference: reference)
            }
            candidates[index].meter.add(heard: heard, before: before, after: after, frames: frames, speakerHeard: speakerHeard)
        }
        leader = candidates.indices.max(by: removedLess)!
        chunk.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: candidates[leader].output) }
    }

    /// How much of the echo the candidate at `index` has removed so far.
    private func removed(_ index: Int) -> Double {
        candidates[index].meter.enhancementDB ?? -.infinity
    }

    /// Whether the candidate at `first` has removed less than the one at
    /// `second`.
    private func removedLess(_ first: Int, _ second: Int) -> Bool {
        removed(first) < removed(second)
    }

    /// Cancels in place; returns the energy left.
    private static func clean(
        _ samples: UnsafeMutableBufferPointer<Int16>, by canceller: EchoCancellation, toldDelayMs: Int, reference: UnsafeBufferPointer<Int16>
    ) -> Double {
        canceller.process(samples, reference: reference, delayMs: toldDelayMs)
        return EchoLossMeter.energy(UnsafeBufferPointer(samples))
    }

    /// Measures a chunk no canceller worked on (the canceller rests).
    func measureUncancelled(heard: Double, before: Double, frames: Int, speakerHeard: Bool) {
        candidates[leader].meter.add(heard: heard, before: before, after: before, frames: frames, speakerHeard: speakerHeard)
    }

    /// The others are let go.
    private func keepLeader() {
        guard sideBySide else { return }
        candidates = [candidates[leader]]
        leader = 0
    }

    /// Within this of the leader, a canceller told a later delay has
    /// learnt as much.
    static let asMuchDB = 3.0

    /// The echo path is learnt, its delay not yet known: of those that
    /// have removed as much as the leader, the one told the latest delay is
    /// kept. One told a delay later than the echo cannot learn it, but one
    /// told an earlier delay may learn an echo at the edge of what it
    /// covers nearly as well for a while (of an echo 150 ms late, after
    /// 0.8 s: 22.2 dB removed by one told 0 ms with the reference 5 ms
    /// older, 21.9 by one told 100 ms), and would learn again once the
    /// delay is found, the microphone held back meanwhile.
    func keepLearnt() {
        let learnt = candidates.indices.filter { removed($0) >= removed(leader) - Self.asMuchDB }
        leader = learnt.max { (candidates[$0].toldDelayMs, removed($0)) < (candidates[$1].toldDelayMs, removed($1)) }!
        keepLeader()
    }

    /// The echo's delay was found to be `delayMs`. Returns whether the
    /// canceller kept must learn again: when none covers the delay, the
    /// first is told it.
    func follow(delayMs: Int) -> Bool {
        // The echo comes as much sooner after a reference as it is older.
        func delayAfterReference(_ candidate: Candidate) -> Int { delayMs - candidate.referenceAgeFrames * 1000 / sampleRate }
        let covering = candidates.indices.filter {
            (candidates[$0].toldDelayMs...candidates[$0].toldDelayMs + Self.coveredDelayMs).contains(delayAfterReference(candidates[$0]))
        }
        if let best = covering.max(by: removedLess) {
            leader = best
            keepLeader()
            return false
        }
        leader = 0
        keepLeader()
        candidates[0].toldDelayMs = max(0, delayAfterReference(candidates[0]) - Self.delayMarginMs)
        return true
    }

    /// Forgets what each learnt, for an echo path that changed.
    func reset() {
        for candidate in candidates { candidate.canceller.reset() }
    }

    /// For a device that changed, whose delay is unknown again: all learn
    /// side by side anew, as at the start (or, if they cannot be made
    /// again, those there are forget what they learnt). It allocates, on a
    /// path that waited for a device anyway.
    func startOver() {
        let made = makeCandidates()
        guard !made.isEmpty else { return reset() }
        candidates = made
        leader = 0
    }

    /// What was measured no longer holds.
    func restartMeasuring() {
        for index in candidates.indices { candidates[index].meter = EchoLossMeter(sampleRate: candidates[index].meter.sampleRate) }
    }
}

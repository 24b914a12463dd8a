/// The echo canceller, or, while the echo's delay is still unknown, several
/// learning side by side, each told another delay. One canceller covers
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

    private struct Candidate {
        var toldDelayMs: Int
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
    /// Makes the candidates, one told each delay, as at the start.
    private let makeCandidates: () -> [Candidate]

    /// One canceller told each of `toldDelaysMs`; nil if none can be made.
    init?(toldDelaysMs: [Int], sampleRate: Int, chunkFrames: Int, make: @escaping (Int, Int) -> EchoCancellation?) {
        makeCandidates = {
            toldDelaysMs.compactMap { told in
                make(sampleRate, chunkFrames).map {
                    Candidate(
                        toldDelayMs: told, canceller: $0, meter: EchoLossMeter(sampleRate: sampleRate),
                        output: [Int16](repeating: 0, count: chunkFrames))
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

    /// Removes the echo of `reference` from `chunk`, by each canceller;
    /// what goes out is the leader's. `heard` and `before` are the energies
    /// of the speaker and of the microphone over the chunk.
    func process(_ chunk: inout [Int16], reference: [Int16], heard: Double, before: Double, speakerHeard: Bool) {
        reference.withUnsafeBufferPointer { reference in
            guard sideBySide else {
                let (told, canceller) = (candidates[0].toldDelayMs, candidates[0].canceller)
                let after = chunk.withUnsafeMutableBufferPointer { Self.clean($0, by: canceller, toldDelayMs: told, reference: reference) }
                candidates[0].meter.add(heard: heard, before: before, after: after, frames: chunk.count, speakerHeard: speakerHeard)
                return
            }
            for index in candidates.indices {
                let (told, canceller) = (candidates[index].toldDelayMs, candidates[index].canceller)
                let after = candidates[index].output.withUnsafeMutableBufferPointer { output in
                    _ = output.update(fromContentsOf: chunk)
                    return Self.clean(output, by: canceller, toldDelayMs: told, reference: reference)
                }
                candidates[index].meter.add(heard: heard, before: before, after: after, frames: chunk.count, speakerHeard: speakerHeard)
            }
            leader = candidates.indices.max { (candidates[$0].meter.enhancementDB ?? -.infinity) < (candidates[$1].meter.enhancementDB ?? -.infinity) }!
            chunk.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: candidates[leader].output) }
        }
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

    /// The leader has learnt the echo path: the others are let go.
    func keepLeader() {
        guard sideBySide else { return }
        candidates = [candidates[leader]]
        leader = 0
    }

    /// The echo's delay was found to be `delayMs`. Returns whether the
    /// canceller kept must learn again: when none covers the delay, the
    /// first is told it.
    func follow(delayMs: Int) -> Bool {
        func covers(_ candidate: Candidate) -> Bool {
            (candidate.toldDelayMs...candidate.toldDelayMs + Self.coveredDelayMs).contains(delayMs)
        }
        if let covering = covers(candidates[leader]) ? leader : candidates.firstIndex(where: covers) {
            leader = covering
            keepLeader()
            return false
        }
        leader = 0
        keepLeader()
        candidates[0].toldDelayMs = max(0, delayMs - Self.delayMarginMs)
        return true
    }

    /// Forgets what each learnt, for an echo path that changed.
    func reset() {
        for candidate in candidates { candidate.canceller.reset() }
    }

    /// For a device that changed, whose delay is unknown again: all learn
    /// side by side anew, as at the start (or, if they cannot be made
    /// again, those there are forget what they learnt).
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

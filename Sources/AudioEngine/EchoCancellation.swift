/// The canceller as the capture path needs it: chunks of any length at any
/// rate the agent may choose. WebRTC's works in 10 ms frames at 8, 16, 32
/// or 48 kHz: at 8 kHz (µ-law too), 22.05, 24 or 44.1 kHz both directions
/// are resampled to the next of 16, 32 or 48 kHz up and the result back,
/// and a chunk that is no multiple of 10 ms leaves part of a frame for the
/// next. Either costs a fixed latency (`latencyFrames`): what goes out is
/// that much older than what came in. Not Sendable: it lives on the
/// capture thread.
final class EchoCancellation {
    /// Frames by which the cleaned microphone lags, at the chunk's rate.
    let latencyFrames: Int
    private let canceller: EchoCanceller
    /// To the canceller's rate (both directions alike) and back; nil at a
    /// rate it works at.
    private let resamplers: (captured: Resampler, reference: Resampler, back: Resampler)?
    /// Chunks of whole frames at a rate the canceller works at pass
    /// straight through.
    private let isDirect: Bool
    /// At the canceller's rate, short of a whole frame.
    private var pendingCaptured: [Int16] = []
    private var pendingReference: [Int16] = []
    /// Cleaned, at the chunk's rate, not yet sent.
    private var cleaned: [Int16]

    /// Nil if the canceller cannot be made.
    init?(sampleRate: Int, chunkFrames: Int) {
        // At 8 kHz it adapts in blocks twice as long, and learns the echo
        // path in twice the time (3 s of µ-law speech): it runs at 16 kHz.
        let cancellerRate = EchoCanceller.sampleRates.sorted().first { $0 >= max(sampleRate, 16000) } ?? EchoCanceller.sampleRates.max()!
        guard let canceller = EchoCanceller(sampleRate: cancellerRate) else { return nil }
        self.canceller = canceller
        if cancellerRate == sampleRate {
            resamplers = nil
        } else {
            guard let captured = Resampler(from: sampleRate, to: cancellerRate), let reference = Resampler(from: sampleRate, to: cancellerRate),
                let back = Resampler(from: cancellerRate, to: sampleRate)
            else { return nil }
            resamplers = (captured, reference, back)
        }
        isDirect = resamplers == nil && chunkFrames % canceller.frameSize == 0
        // Up to a frame waits for the next chunk, and each resampler's
        // output may round a frame short.
        latencyFrames = isDirect ? 0 : (sampleRate + 99) / 100 + (resamplers == nil ? 0 : 2)
        cleaned = [Int16](repeating: 0, count: latencyFrames)
        // Room for the most each holds between chunks, so that appending on
        // the capture thread never allocates.
        let pendingMost = chunkFrames * cancellerRate / sampleRate + canceller.frameSize + 16
        pendingCaptured.reserveCapacity(pendingMost)
        pendingReference.reserveCapacity(pendingMost)
        cleaned.reserveCapacity(latencyFrames + chunkFrames + 2 * canceller.frameSize * sampleRate / cancellerRate + 16)
    }

    /// Removes the echo of `reference` (what the speaker played over the
    /// same frames, aligned) from `captured`, in place; the echo comes
    /// `delayMs` or a little more after what it echoes.
    func process(_ captured: UnsafeMutableBufferPointer<Int16>, reference: UnsafeBufferPointer<Int16>, delayMs: Int) {
        precondition(captured.count == reference.count)
        if isDirect {
            canceller.process(captured, reference: reference, delayMs: delayMs)
            return
        }
        if let resamplers {
            resamplers.captured.withResampled(UnsafeBufferPointer(captured)) { pendingCaptured += $0 }
            resamplers.reference.withResampled(reference) { pendingReference += $0 }
        } else {
            pendingCaptured += captured
            pendingReference += reference
        }
        let whole = min(pendingCaptured.count, pendingReference.count) / canceller.frameSize * canceller.frameSize
        if whole > 0 {
            pendingCaptured.withUnsafeMutableBufferPointer { microphone in
                pendingReference.withUnsafeBufferPointer { speaker in
                    canceller.process(
                        UnsafeMutableBufferPointer(rebasing: microphone[..<whole]), reference: UnsafeBufferPointer(rebasing: speaker[..<whole]),
                        delayMs: delayMs)
                }
            }
            if let resamplers {
                pendingCaptured.withUnsafeBufferPointer { microphone in
                    resamplers.back.withResampled(UnsafeBufferPointer(rebasing: microphone[..<whole])) { cleaned += $0 }
                }
            } else {
                cleaned += pendingCaptured[..<whole]
            }
            pendingCaptured.removeFirst(whole)
            pendingReference.removeFirst(whole)
        }
        // Short only if the latency was reckoned too small: silence first.
        let available = min(captured.count, cleaned.count)
        let missing = captured.count - available
        UnsafeMutableBufferPointer(rebasing: captured[..<missing]).update(repeating: 0)
        for index in 0..<available { captured[missing + index] = cleaned[index] }
        cleaned.removeFirst(available)
    }

    /// Forgets what it learnt, for an echo path that changed.
    func reset() {
        canceller.reset()
    }
}

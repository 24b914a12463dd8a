import CWebRTCAudioProcessing

/// WebRTC's acoustic echo canceller (libwebrtc-audio-processing, what
/// PulseAudio's and PipeWire's echo-cancel modules use), in 10 ms frames.
/// Every call into it lives here. Not Sendable: an instance is created and
/// used on the capture thread.
final class EchoCanceller {
    /// The rates it works at.
    static let sampleRates: Set = [8000, 16000, 32000, 48000]

    let sampleRate: Int
    var frameSize: Int { sampleRate / 100 }
    private var state: OpaquePointer

    /// Nil at a rate it does not work at.
    init?(sampleRate: Int) {
        guard let state = voiceagent_aec_create(Int32(sampleRate)) else { return nil }
        self.sampleRate = sampleRate
        self.state = state
    }

    deinit {
        voiceagent_aec_destroy(state)
    }

    /// Removes the echo of `reference` (what the speaker played over the
    /// same frames, aligned) from `captured`, in place; the echo comes
    /// `delayMs` or a little more after what it echoes. Both hold a whole
    /// number of frames.
    func process(_ captured: UnsafeMutableBufferPointer<Int16>, reference: UnsafeBufferPointer<Int16>, delayMs: Int) {
        precondition(captured.count == reference.count && captured.count % frameSize == 0)
        for start in stride(from: 0, to: captured.count, by: frameSize) {
            voiceagent_aec_played(state, reference.baseAddress! + start)
            voiceagent_aec_captured(state, captured.baseAddress! + start, Int32(delayMs))
        }
    }

    /// Forgets what it learnt, for an echo path that changed.
    func reset() {
        guard let fresh = voiceagent_aec_create(Int32(sampleRate)) else { return }
        voiceagent_aec_destroy(state)
        state = fresh
    }
}

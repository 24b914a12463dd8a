/// The playback thread's part in echo handling: each block written to the
/// speaker goes into the reference at the time it will be heard, at the
/// microphone's rate.
struct EchoFeed {
    let reference: EchoReference
    let timeline: EchoTimeline
    let playbackRate: Int
    private let resampler: Resampler?

    init(reference: EchoReference, timeline: EchoTimeline, playbackRate: Int) {
        self.reference = reference
        self.timeline = timeline
        self.playbackRate = playbackRate
        resampler = playbackRate == timeline.sampleRate ? nil : Resampler(from: playbackRate, to: timeline.sampleRate)
    }

    /// `block` was just written; the device now holds `pendingFrames`.
    /// `afterPause`: nothing was written for a while before it, and the
    /// device may have run dry meanwhile.
    func written(_ block: UnsafeBufferPointer<Int16>, pendingFrames: Int, afterPause: Bool) {
        let start = timeline.playbackStart(at: EchoTimeline.now, pendingFrames: pendingFrames, written: block.count, playbackRate: playbackRate)
        let queued = max(0, pendingFrames - block.count) * timeline.sampleRate / playbackRate
        if let resampler {
            resampler.withResampled(block) { reference.record($0, from: start, queued: queued, afterPause: afterPause) }
        } else {
            reference.record(block, from: start, queued: queued, afterPause: afterPause)
        }
    }

    /// What the device held was dropped: it will not be heard.
    func dropped() {
        reference.discard(from: timeline.frame(at: EchoTimeline.now))
    }

    func deviceReopened() {
        reference.playbackPathChanged()
    }
}

import AudioCodec
import CoreMetrics

/// What the audio side reports through swift-metrics, as it happens.
public enum AudioMetrics {
    private static let captureXruns = Counter(label: "voiceagent_xruns_total", dimensions: [("direction", "capture")])
    private static let playbackXruns = Counter(label: "voiceagent_xruns_total", dimensions: [("direction", "playback")])
    private static let deviceLosses = Counter(label: "voiceagent_device_losses_total")
    private static let interruptToSilence = Timer(label: "voiceagent_interrupt_to_silence_seconds")
    private static let droppedFrames = Dictionary(
        uniqueKeysWithValues: DropReason.allCases.map { ($0, Counter(label: "voiceagent_dropped_frames_total", dimensions: [("reason", $0.rawValue)])) })

    /// Creates every metric now, so a scrape shows them at zero before
    /// anything happened (call once the backend is bootstrapped).
    public static func register() {
        _ = (captureXruns, playbackXruns, deviceLosses, interruptToSilence, droppedFrames)
    }

    static func xrun(capture: Bool) {
        (capture ? captureXruns : playbackXruns).increment()
    }

    static func deviceLost() {
        deviceLosses.increment()
    }

    static func silenced(afterMilliseconds milliseconds: Double) {
        interruptToSilence.recordMilliseconds(milliseconds)
    }

    static func dropped(_ frames: Int, _ reason: DropReason) {
        if frames > 0 { droppedFrames[reason]?.increment(by: frames) }
    }
}

extension AudioStatistics {
    /// Counts dropped frames here and in the metrics.
    mutating func drop(_ frames: Int, _ reason: DropReason) {
        dropped.add(frames, reason)
        AudioMetrics.dropped(frames, reason)
    }
}

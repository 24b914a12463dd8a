import CoreMetrics

/// What a session reports through swift-metrics; the application chooses
/// the backend (voiceagentd: Prometheus, when its listener is on).
public enum SessionMetrics {
    private static let pingLatency = Timer(label: "voiceagent_ping_latency_seconds")
    private static let captureToWire = Timer(label: "voiceagent_capture_to_wire_seconds")
    private static let toolCallDuration = Timer(label: "voiceagent_tool_call_duration_seconds")
    private static let toolCallsSucceeded = Counter(label: "voiceagent_tool_calls_total", dimensions: [("outcome", "success")])
    private static let toolCallsFailed = Counter(label: "voiceagent_tool_calls_total", dimensions: [("outcome", "error")])
    private static let microphoneChunksDropped = Counter(label: "voiceagent_microphone_chunks_dropped_total")

    /// Creates every metric now, so a scrape shows them at zero before
    /// anything happened (call once the backend is bootstrapped).
    public static func register() {
        _ = (pingLatency, captureToWire, toolCallDuration, toolCallsSucceeded, toolCallsFailed, microphoneChunksDropped)
    }

    static func pinged(roundTripMilliseconds milliseconds: Double) {
        pingLatency.recordMilliseconds(milliseconds)
    }

    /// A microphone chunk reached the socket `elapsed` after its last sample was captured.
    static func sent(afterCapture elapsed: Duration) {
        captureToWire.record(elapsed)
    }

    /// A microphone chunk was dropped: fifty waited for the socket.
    static func microphoneChunkDropped() {
        microphoneChunksDropped.increment()
    }

    static func toolAnswered(isError: Bool, after elapsed: Duration) {
        toolCallDuration.record(elapsed)
        (isError ? toolCallsFailed : toolCallsSucceeded).increment()
    }
}

extension Timer {
    package func record(_ duration: Duration) {
        recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}

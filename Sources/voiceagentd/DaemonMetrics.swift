import AgentSession
import AudioEngine
import CoreMetrics
import Prometheus

/// The daemon's own metrics; the session and the audio engine report theirs
/// through the same swift-metrics backend.
enum DaemonMetrics {
    private static let started = Counter(label: "voiceagent_conversations_started_total")
    private static let accepted = Counter(label: "voiceagent_conversations_accepted_total")
    private static let reconnects = Counter(label: "voiceagent_reconnects_total")
    private static let duration = Timer(label: "voiceagent_conversation_duration_seconds")

    /// A conversation was asked for (a `start`, always-on or a reconnect).
    static func conversationStarted() {
        started.increment()
    }

    static func conversationAccepted() {
        accepted.increment()
    }

    static func conversationEnded(reason: String, after elapsed: Duration) {
        Counter(label: "voiceagent_conversations_ended_total", dimensions: [("reason", reason)]).increment()
        duration.record(elapsed)
    }

    static func reconnecting() {
        reconnects.increment()
    }

    static func controlRequest(_ command: String) {
        Counter(label: "voiceagent_control_requests_total", dimensions: [("command", command)]).increment()
    }

    /// Prometheus as the backend, with buckets that fit what each timer measures.
    static func bootstrapPrometheus() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            "voiceagent_ping_latency_seconds": [10, 25, 50, 100, 250, 500, 1000, 2500].map(Duration.milliseconds),
            "voiceagent_capture_to_wire_seconds": [1, 2, 5, 10, 20, 50, 100].map(Duration.milliseconds),
            "voiceagent_interrupt_to_silence_seconds": [5, 10, 20, 40, 80, 160].map(Duration.milliseconds),
            "voiceagent_conversation_duration_seconds": [10, 30, 60, 120, 300, 600, 1800, 3600].map(Duration.seconds),
            "voiceagent_tool_call_duration_seconds": [10, 50, 100, 500, 1000, 5000, 10000].map(Duration.milliseconds),
        ]
        MetricsSystem.bootstrap(factory)
        _ = (started, accepted, reconnects, duration)
        SessionMetrics.register()
        AudioMetrics.register()
        return registry
    }
}

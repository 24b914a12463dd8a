import ArgumentParser
import ControlProtocol
import FoundationEssentials

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the daemon's state, latency, audio levels and counters.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print the status as JSON.") var json = false

    func run() throws {
        try connection.show(.status, answer: StatusReport.self, json: json) { StatusText($0).lines }
    }
}

/// `status` for a person.
struct StatusText {
    let status: StatusReport

    init(_ status: StatusReport) {
        self.status = status
    }

    var lines: [String] {
        var lines = [row("State", stateText), row("Daemon", setupText), row("Uptime", Self.duration(status.uptimeSeconds))]
        if let alwaysOn = status.alwaysOn {
            lines.append(row("Always-on", alwaysOn == "paused" ? "paused by stop, until the next start" : alwaysOn))
        }
        if let seconds = status.conversationSeconds { lines.append(row("Conversation", Self.duration(seconds))) }
        lines.append(row("Latency", latencyText))
        let audio = status.audio
        lines.append(row("Microphone", "\(audio.captureDevice), \(audio.inputFormat ?? "closed"), \(Self.level(audio.inputLevelDBFS))\(audio.muted ? ", muted" : "")"))
        lines.append(row("Speaker", "\(audio.playbackDevice), \(audio.outputFormat ?? "closed"), \(Self.level(audio.outputLevelDBFS))"))
        lines.append(row("Timing", "\(audio.periodMs) ms periods, \(audio.chunkMs) ms microphone chunks"))
        lines.append(row("Echo", echoText))
        lines.append(row("Frames", "captured \(audio.framesCaptured), played \(audio.framesPlayed), dropped \(droppedText), xruns \(audio.xruns), device losses \(audio.deviceLosses)"))
        lines.append(row("Messages", status.counters.sorted { $0.key < $1.key }.map { "\($0.key.replacing("_", with: " ")) \($0.value)" }.joined(separator: ", ")))
        lines.append(row("Turns", String(status.historyTurns)))
        if let end = status.lastEnd {
            lines.append(row("Last ended", "\(end.conversationID ?? "before connecting"): \(end.explanation)"))
        }
        return lines
    }

    private var stateText: String {
        guard status.state != "idle" else { return "idle" }
        if let pending = status.reconnecting {
            let seconds = (Double(pending.delayMs) / 100).rounded() / 10
            return "reconnecting (attempt \(pending.attempt), after \(seconds) s; the last one ended: \(pending.cause))"
        }
        let mode = status.mode.map { ", \($0)" } ?? ""
        let vad = status.vadScore.map { ", voice activity \(($0 * 100).rounded() / 100)" } ?? ""
        return "\(status.state)\(mode)\(vad) (conversation \(status.conversationID ?? "not yet started"), agent \(status.agentID ?? "?"))"
    }

    /// "cancel, converged, 27.5 dB removed, echo at 62 ms, 40 chunks silenced while converging",
    /// "cancel, resting: the microphone does not hear the speaker, 3 chunks silenced while converging",
    /// "half-duplex, 12 chunks silenced while the agent was heard", "none".
    private var echoText: String {
        let echo = status.audio.echo
        guard let silenced = echo.silencedChunks else { return echo.mode }
        guard let converged = echo.converged else { return "\(echo.mode), \(silenced) chunks silenced while the agent was heard" }
        if echo.speakerHeard == false {
            return "\(echo.mode), resting: the microphone does not hear the speaker, \(silenced) chunks silenced while converging"
        }
        let removed = echo.erleDB.map { "\($0) dB removed" } ?? "nothing to measure yet"
        let delay = echo.delayMs.map { ", echo at \(Int($0.rounded())) ms" } ?? ""
        return "\(echo.mode), \(converged ? "converged" : "converging"), \(removed)\(delay), \(silenced) chunks silenced while converging"
    }

    /// "0", or "120 (interrupted 80, conversation ended 40)".
    private var droppedText: String {
        let reasons = status.audio.droppedFrames.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        guard !reasons.isEmpty else { return String(status.audio.framesDropped) }
        return "\(status.audio.framesDropped) (" + reasons.map { "\($0.key.replacing("_", with: " ")) \($0.value)" }.joined(separator: ", ") + ")"
    }

    /// "voiceagentd 0.2.0, agent agent_123, private agent (signed URL), API key loaded".
    private var setupText: String {
        let setup = status.setup
        let agent = setup.agentID.map { "agent \($0)" } ?? "no agent configured"
        let auth = setup.auth == "signed_url" ? "private agent (signed URL)" : "public agent"
        return "voiceagentd \(status.version), \(agent), \(auth), \(setup.apiKeyLoaded ? "API key loaded" : "no API key")"
    }

    private var latencyText: String {
        let latency = status.latency
        guard latency.samples > 0 else { return "no pings yet" }
        func ms(_ value: Double?) -> String { value.map { "\(Int($0.rounded())) ms" } ?? "-" }
        return "last \(ms(latency.lastMs)), mean \(ms(latency.meanMs)), p50 \(ms(latency.p50Ms)), p95 \(ms(latency.p95Ms)) (\(latency.samples) pings)"
    }

    private func row(_ label: String, _ value: String) -> String {
        let name = label + ":"
        return name + String(repeating: " ", count: max(1, 14 - name.count)) + value
    }

    static func level(_ dbfs: Double?) -> String {
        guard let dbfs, dbfs.isFinite else { return "silent" }
        return "\((dbfs * 10).rounded() / 10) dBFS"
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds)
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min \(total % 60) s" }
        return "\(total / 3600) h \(total % 3600 / 60) min"
    }
}

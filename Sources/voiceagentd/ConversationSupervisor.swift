import AgentSession
import AudioEngine
import ControlProtocol
import Foundation
import Logging

/// Owns the one conversation the daemon may hold at a time and the sound
/// card that serves it: starts and stops it, routes audio between the
/// engine and the session, and turns session events into the event log.
actor ConversationSupervisor {
    private var configuration: DaemonConfiguration
    private let apiKey: String?
    private let events: EventLog
    private let notifier: SystemdNotifier
    private let logger: Logger
    private let engine: AudioEngine
    private let startedAt = ContinuousClock.now
    private var current: Conversation?
    /// The task that holds `current` from connect to end.
    private var holding: Task<Void, Never>?
    private var lastEnd: StatusReport.LastEnd?

    /// The conversation under way.
    private struct Conversation {
        let session: AgentSession
        let agentID: String
        let startedAt: ContinuousClock.Instant
        var conversationID: String?
        var formats: (input: AudioFormat, output: AudioFormat)?
        var waitingForStart: CheckedContinuation<Result<StartResult, ControlError>, Never>?
        var capture: AsyncStream<Data>.Continuation?
    }

    init(configuration: DaemonConfiguration, apiKey: String?, events: EventLog, notifier: SystemdNotifier, logger: Logger) {
        self.configuration = configuration
        self.apiKey = apiKey
        self.events = events
        self.notifier = notifier
        self.logger = logger
        engine = AudioEngine(configuration: configuration.audio) { event in
            Task { await events.record(audioEvent: event) }
        }
    }

    // MARK: - Commands

    /// Starts a conversation and returns once the agent has accepted it, or
    /// throws with the reason it could not start.
    func start(_ options: StartOptions) async throws(ControlError) -> StartResult {
        guard current == nil else {
            throw ControlError(.conversationRunning, "a conversation is already running (\(current?.conversationID ?? "connecting")); stop it first")
        }
        let sessionConfiguration = try sessionConfiguration(for: options)
        let session = AgentSession(
            configuration: sessionConfiguration, audioSink: engine,
            toolRunner: ClientToolDirectory(directory: configuration.toolsDirectory), logger: logger)
        let agentID = sessionConfiguration.endpoint.agentID
        notifier.status("connecting to agent \(agentID)")
        let result = await withCheckedContinuation { continuation in
            current = Conversation(session: session, agentID: agentID, startedAt: .now, waitingForStart: continuation)
            holding = Task { await self.hold(session) }
        }
        return try result.get()
    }

    /// Ends the conversation and returns once it has ended (bounded by the
    /// session's close timeout).
    func stop() async throws(ControlError) {
        guard let session = current?.session else { throw ControlError(.noConversation, "no conversation is running") }
        await session.stop()
        await holding?.value
    }

    func interrupt() async throws(ControlError) {
        guard let session = current?.session else { throw ControlError(.noConversation, "no conversation is running") }
        await session.interrupt()
    }

    func send(_ message: ClientMessage) async throws(ControlError) {
        guard let session = current?.session else { throw ControlError(.noConversation, "no conversation is running") }
        do {
            try await session.send(message)
        } catch {
            throw ControlError(.noConversation, "the conversation is not active yet")
        }
    }

    func setMuted(_ muted: Bool) async {
        engine.setMuted(muted)
        await events.append(type: muted ? "muted" : "unmuted", conversationID: current?.conversationID, text: nil)
    }

    /// Ends the conversation for a shutdown and waits for it to close.
    func shutDown() async {
        try? await stop()
    }

    func status() async -> StatusReport {
        let snapshot = await current?.session.snapshot
        let audio = engine.currentStatistics
        let latency = snapshot?.latency ?? LatencyStatistics()
        let counters = snapshot?.counters ?? SessionCounters()
        return StatusReport(
            state: current == nil ? "idle" : snapshot?.phase ?? "connecting",
            conversationID: current?.conversationID,
            agentID: current?.agentID,
            uptimeSeconds: Self.seconds(ContinuousClock.now - startedAt),
            conversationSeconds: current.map { Self.seconds(ContinuousClock.now - $0.startedAt) },
            latency: StatusReport.Latency(samples: latency.count, lastMs: latency.lastMs, meanMs: latency.meanMs, p50Ms: latency.p50Ms, p95Ms: latency.p95Ms),
            audio: StatusReport.Audio(
                captureDevice: configuration.audio.captureDevice, playbackDevice: configuration.audio.playbackDevice,
                inputFormat: current?.formats?.input.description, outputFormat: current?.formats?.output.description, muted: engine.isMuted,
                inputLevelDBFS: audio.inputLevelDBFS.flatMap(Self.finite), outputLevelDBFS: audio.outputLevelDBFS.flatMap(Self.finite), framesCaptured: audio.framesCaptured,
                framesPlayed: audio.framesPlayed, framesDropped: audio.framesDropped, xruns: audio.xruns, deviceLosses: audio.deviceLosses),
            counters: [
                "messages_received": counters.messagesReceived, "invalid_messages": counters.invalidMessages,
                "unknown_messages": counters.unknownMessages, "audio_chunks_received": counters.audioChunksReceived,
                "audio_chunks_dropped": counters.audioChunksDropped, "user_audio_chunks_sent": counters.userAudioChunksSent,
                "pongs_sent": counters.pongsSent, "tool_calls": counters.toolCalls,
            ],
            historyTurns: snapshot?.history.count ?? 0,
            lastEnd: lastEnd)
    }

    /// Answers only if the actor is responsive: the watchdog's proof of life.
    func heartbeat() -> Bool { true }

    /// Takes new settings for the next conversation (SIGHUP). The running
    /// one keeps what it started with.
    func reload(_ newConfiguration: DaemonConfiguration) {
        configuration = newConfiguration
    }

    // MARK: - The conversation

    private func sessionConfiguration(for options: StartOptions) throws(ControlError) -> AgentSessionConfiguration {
        guard let agentID = options.agentID ?? configuration.agentID else {
            throw ControlError(.badArguments, "no agent id: pass --agent-id or set agent.id in the configuration")
        }
        let useSignedURL = configuration.authentication ?? (apiKey != nil)
        if useSignedURL, apiKey == nil {
            throw ControlError(
                .startFailed, "the agent is private (auth=yes) but no API key is set: provide the elevenlabs-api-key credential or ELEVENLABS_API_KEY")
        }
        let endpoint: AgentEndpoint
        do {
            endpoint = try AgentEndpoint(baseURL: configuration.apiBaseURL, agentID: agentID, source: VoiceAgentDaemon.source)
        } catch {
            throw ControlError(.badArguments, error.description)
        }
        let agentOverride = ConversationConfigOverride.Agent(
            prompt: options.prompt ?? configuration.prompt,
            firstMessage: options.firstMessage ?? configuration.firstMessage,
            language: options.language ?? configuration.language)
        let voice = options.voiceID ?? configuration.voiceID
        let configOverride = ConversationConfigOverride(
            agent: agentOverride == ConversationConfigOverride.Agent() ? nil : agentOverride,
            tts: voice.map { ConversationConfigOverride.TTS(voiceID: $0) })
        return AgentSessionConfiguration(
            endpoint: endpoint,
            apiKey: useSignedURL ? apiKey : nil,
            initiation: ConversationInitiation(
                configOverride: configOverride,
                dynamicVariables: options.variables.mapValues(JSONValue.init(inferringTypeOf:)),
                userID: options.userID ?? configuration.userID,
                sourceInfo: VoiceAgentDaemon.source),
            extraTrustedCAFile: configuration.extraCAFile,
            connectTimeout: configuration.connectTimeout,
            toolTimeout: configuration.toolTimeout)
    }

    /// Runs one session from connect to end, then tidies up.
    private func hold(_ session: AgentSession) async {
        let forwarding = Task { await self.forwardEvents(of: session) }
        let reason = await session.run()
        await forwarding.value
        current?.capture?.finish()
        await engine.stop()
        let conversation = current
        current = nil
        lastEnd = StatusReport.LastEnd(conversationID: conversation?.conversationID, reason: reason.kind, explanation: reason.explanation)
        conversation?.waitingForStart?.resume(returning: .failure(ControlError(.startFailed, reason.explanation)))
        notifier.status("idle")
        if reason.isError {
            logger.warning("conversation ended: \(reason.explanation)", metadata: ["conversation_id": "\(conversation?.conversationID ?? "none")"])
        }
    }

    private func forwardEvents(of session: AgentSession) async {
        for await event in session.events {
            if case .connected(let metadata) = event.kind {
                await connected(session, metadata)
            }
            let record = EventRecord(event.kind)
            await events.append(type: event.kind.name, conversationID: current?.conversationID, text: record.text, fields: record.fields)
        }
    }

    /// The agent accepted: open the sound card in its formats and start
    /// streaming the microphone.
    private func connected(_ session: AgentSession, _ metadata: InitiationMetadata) async {
        current?.conversationID = metadata.conversationID
        current?.formats = (metadata.userInputAudioFormat, metadata.agentOutputAudioFormat)
        let (chunks, capture) = AsyncStream.makeStream(of: Data.self, bufferingPolicy: .bufferingNewest(50))
        current?.capture = capture
        do {
            try await engine.start(input: metadata.userInputAudioFormat, output: metadata.agentOutputAudioFormat) { chunk in
                capture.yield(chunk)
            }
        } catch {
            await events.append(type: "audio_error", conversationID: metadata.conversationID, text: String(describing: error))
            current?.waitingForStart?.resume(returning: .failure(ControlError(.audioDevice, String(describing: error))))
            current?.waitingForStart = nil
            await session.stop()
            return
        }
        Task { await session.streamUserAudio(chunks) }
        notifier.status("in conversation \(metadata.conversationID)")
        current?.waitingForStart?.resume(
            returning: .success(
                StartResult(
                    conversationID: metadata.conversationID, inputFormat: metadata.userInputAudioFormat.description,
                    outputFormat: metadata.agentOutputAudioFormat.description)))
        current?.waitingForStart = nil
    }

    /// Silence measures -infinity dBFS, which JSON cannot carry: it is left out.
    private static func finite(_ value: Double) -> Double? {
        value.isFinite ? value : nil
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension EventLog {
    func record(audioEvent: AudioEngineEvent) {
        switch audioEvent {
        case .deviceLost(let device, let reason):
            append(type: "audio_device_lost", conversationID: nil, text: reason, fields: ["device": device])
        case .deviceRestored(let device):
            append(type: "audio_device_restored", conversationID: nil, text: nil, fields: ["device": device])
        }
    }
}

import AgentSession
import AudioEngine
import ControlProtocol
import DaemonSettings
import FoundationEssentials
import Logging
import ServiceLifecycle

/// Keeps the one-conversation rule: starts a `Conversation` from the
/// configuration current at `start`, routes commands to it, and answers
/// `status`. As a service it runs every conversation as a child of its own
/// task, and on shutdown ends the one under way with a close frame.
actor ConversationSupervisor: Service {
    private var configuration: DaemonConfiguration
    /// Set while the configuration is invalid: every request is answered with it.
    private(set) var configurationProblem: String?
    private let apiKey: String?
    private let events: EventLog
    private let notifier: SystemdNotifier
    private let logger: Logger
    private let startedAt = ContinuousClock.now
    private let launches: (stream: AsyncStream<Launch>, continuation: AsyncStream<Launch>.Continuation)
    private var current: Conversation?
    /// Finishes when the current conversation has ended and its sound card closed.
    private var currentEnded: AsyncStream<Never>?
    private var lastEnd: StatusReport.LastEnd?
    private var lastAudio: AudioStatistics?
    /// The chat history of the last conversation that ended.
    private var lastHistory: HistoryReport?
    private var muted = false
    private var shuttingDown = false
    /// Set by `stop`: the conversation under way does not come back.
    private var stopRequested = false
    /// While waiting to reconnect: which attempt, and how to cancel the wait.
    private var reconnecting: (status: StatusReport.Reconnecting, cancel: AsyncStream<Never>.Continuation)?
    /// Always-on: set by `stop`, cleared by a client's `start`.
    private var alwaysOnPaused = false
    /// While always-on waits to start the next conversation: how to cut the wait short.
    private var alwaysOnWait: AsyncStream<Never>.Continuation?
    /// Wakes the always-on keeper to look again (a conversation ended, a
    /// command, a reload).
    private let keeperNudges = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))

    init(
        configuration: DaemonConfiguration, configurationProblem: String? = nil, apiKey: String?, events: EventLog,
        notifier: SystemdNotifier, logger: Logger
    ) {
        self.configuration = configuration
        self.configurationProblem = configurationProblem
        self.apiKey = apiKey
        self.events = events
        self.notifier = notifier
        self.logger = logger
        launches = AsyncStream.makeStream(of: Launch.self)
        keeperNudges.continuation.yield()
    }

    /// A conversation to run, with who waits for its start and its end.
    private struct Launch: Sendable {
        let conversation: Conversation
        /// What the conversation was started with, for the ones that replace it.
        let options: StartOptions
        let started: CheckedContinuation<Result<StartResult, ControlError>, Never>
        let ended: AsyncStream<Never>.Continuation
    }

    nonisolated func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.keepAlwaysOn() }
                for await launch in launches.stream {
                    group.addTask { await self.hold(launch) }
                }
            }
        } onGracefulShutdown: {
            Task { await self.shutDown() }
        }
    }

    // MARK: - Commands

    /// Starts a conversation and returns once the agent has accepted it and
    /// the sound card is open, or throws with the reason it could not start.
    /// A client's `start` also resumes an always-on mode that `stop` paused.
    func start(_ options: StartOptions, fromClient: Bool = true) async throws(ControlError) -> StartResult {
        guard !shuttingDown else { throw ControlError(.unavailable, "voiceagentd is shutting down") }
        if fromClient {
            alwaysOnPaused = false
            alwaysOnWait?.finish()
        }
        if let current {
            throw ControlError(.conversationRunning, "a conversation is already running (\(current.conversationID ?? "connecting")); stop it first")
        }
        if reconnecting != nil {
            throw ControlError(.conversationRunning, "a lost conversation is reconnecting; stop it first")
        }
        let conversation = try replacement(for: options)
        current = conversation
        stopRequested = false
        let (ended, endedSink) = AsyncStream.makeStream(of: Never.self)
        currentEnded = ended
        notifier.status("connecting to agent \(conversation.agentID)")
        let result = await withCheckedContinuation { started in
            launches.continuation.yield(Launch(conversation: conversation, options: options, started: started, ended: endedSink))
        }
        return try result.get()
    }

    /// Ends the conversation and returns once it has ended and its sound
    /// card is closed (bounded by the session's close timeout).
    func stop() async throws(ControlError) {
        if configuration.alwaysOn.enabled, !alwaysOnPaused {
            alwaysOnPaused = true
            alwaysOnWait?.finish()
            await events.append(type: "always_on_paused", conversationID: current?.conversationID, text: "until the next start")
            if current == nil, reconnecting == nil { return }
        }
        if let reconnecting {
            stopRequested = true
            reconnecting.cancel.finish()
            await waitForTheEnd()
            return
        }
        guard let current else { throw ControlError(.noConversation, "no conversation is running") }
        stopRequested = true
        await current.stop()
        await waitForTheEnd()
    }

    func interrupt() async throws(ControlError) {
        guard let current else { throw ControlError(.noConversation, "no conversation is running") }
        await current.interrupt()
    }

    func send(_ message: ClientMessage) async throws(ControlError) {
        guard let current else { throw ControlError(.noConversation, "no conversation is running") }
        try await current.send(message)
    }

    func rateLastResponse(liked: Bool) async throws(ControlError) {
        guard let current else { throw ControlError(.noConversation, "no conversation is running") }
        try await current.rateLastResponse(liked: liked)
    }

    func setMuted(_ value: Bool) async {
        muted = value
        current?.engine.setMuted(value)
        await events.append(type: value ? "muted" : "unmuted", conversationID: current?.conversationID, text: nil)
    }

    /// The mode, and during a conversation what the mode does.
    private static func echoStatus(mode: EchoMode, _ echo: EchoStatistics?) -> StatusReport.Echo {
        guard let echo else { return StatusReport.Echo(mode: mode.rawValue) }
        switch mode {
        case .none:
            return StatusReport.Echo(mode: mode.rawValue)
        case .halfDuplex:
            return StatusReport.Echo(mode: mode.rawValue, silencedChunks: echo.silencedChunks)
        case .cancel:
            return StatusReport.Echo(
                mode: mode.rawValue, erleDB: echo.returnLossEnhancementDB.map { ($0 * 10).rounded() / 10 },
                delayMs: echo.delayMs.map { ($0 * 10).rounded() / 10 }, converged: echo.converged, speakerHeard: echo.speakerHeard,
                silencedChunks: echo.silencedChunks)
        }
    }

    func status() async -> StatusReport {
        let snapshot = await current?.sessionSnapshot
        let audio = current?.engine.currentStatistics ?? lastAudio ?? AudioStatistics()
        let latency = snapshot?.latency ?? LatencyStatistics()
        let counters = snapshot?.counters ?? SessionCounters()
        let devices = current?.configuration.audio ?? configuration.audio
        let state = reconnecting != nil ? "reconnecting" : await current?.phase() ?? "idle"
        return StatusReport(
            version: VoiceAgentDaemon.version,
            setup: StatusReport.Setup(
                agentID: configuration.agentID, auth: usesSignedURL ? "signed_url" : "public", apiKeyLoaded: apiKey != nil),
            state: state,
            conversationID: current?.conversationID,
            agentID: current?.agentID,
            uptimeSeconds: Self.seconds(ContinuousClock.now - startedAt),
            conversationSeconds: current.map { Self.seconds(ContinuousClock.now - $0.startedAt) },
            latency: StatusReport.Latency(samples: latency.count, lastMs: latency.lastMs, meanMs: latency.meanMs, p50Ms: latency.p50Ms, p95Ms: latency.p95Ms),
            audio: StatusReport.Audio(
                captureDevice: devices.captureDevice, playbackDevice: devices.playbackDevice, periodMs: devices.periodMilliseconds,
                chunkMs: devices.chunkMilliseconds, inputFormat: snapshot?.inputFormat?.description,
                outputFormat: snapshot?.outputFormat?.description, muted: muted,
                inputLevelDBFS: current == nil ? nil : audio.inputLevelDBFS.flatMap(Self.finite),
                outputLevelDBFS: current == nil ? nil : audio.outputLevelDBFS.flatMap(Self.finite), framesCaptured: audio.framesCaptured,
                framesPlayed: audio.framesPlayed, framesDropped: audio.framesDropped,
                droppedFrames: Dictionary(uniqueKeysWithValues: DropReason.allCases.map { ($0.rawValue, audio.dropped[$0]) }),
                xruns: audio.xruns, deviceLosses: audio.deviceLosses, realtimePriority: current == nil ? nil : audio.realtimePriority,
                echo: Self.echoStatus(mode: devices.echo, current == nil ? nil : audio.echo)),
            counters: [
                "messages_received": counters.messagesReceived, "invalid_messages": counters.invalidMessages,
                "unknown_messages": counters.unknownMessages, "audio_chunks_received": counters.audioChunksReceived,
                "audio_chunks_dropped": counters.audioChunksDropped, "user_audio_chunks_sent": counters.userAudioChunksSent,
                "user_audio_chunks_dropped": counters.userAudioChunksDropped,
                "pongs_sent": counters.pongsSent, "tool_calls": counters.toolCalls,
            ],
            historyTurns: snapshot?.history.count ?? 0,
            lastEnd: lastEnd,
            reconnecting: reconnecting?.status,
            mode: state == "active" ? (current?.engine.isPlaying == true ? "speaking" : "listening") : nil,
            vadScore: snapshot?.vadScore,
            alwaysOn: configuration.alwaysOn.enabled ? (alwaysOnPaused ? "paused" : alwaysOnWait != nil ? "waiting" : "on") : nil)
    }

    /// The conversation under way once the agent accepted it, else the last
    /// one; without the words when transcripts are not shown to clients.
    func history() async -> HistoryReport {
        var report = lastHistory ?? HistoryReport(conversationID: nil, current: false, turns: [])
        if let current, let conversationID = current.conversationID {
            report = HistoryReport(
                conversationID: conversationID, current: true, turns: await current.sessionSnapshot.history.map(HistoryReport.Turn.init))
        }
        return await events.privacy.shownToClients ? report : report.withoutSpeech
    }

    /// The sound devices, with the ones the next conversation opens marked.
    func devices() async -> DevicesReport {
        await DeviceInventory.report(for: configuration.audio)
    }

    /// Answers only if the actor is responsive: the watchdog's proof of life.
    func heartbeat() -> Bool { true }

    /// Takes new settings for the next conversation (SIGHUP). The running
    /// one keeps what it started with, and `status` shows that.
    func reload(_ newConfiguration: DaemonConfiguration) async {
        configuration = newConfiguration
        configurationProblem = nil
        await events.setPrivacy(newConfiguration.transcripts)
        keeperNudges.continuation.yield()
    }

    /// The refusal every request gets while the configuration is invalid.
    var configurationRefusal: ControlError? {
        configurationProblem.map {
            ControlError(
                .badConfiguration,
                "voiceagentd's configuration is invalid: \($0). Fix it in /etc/voiceagentd/voiceagentd.conf, then run: systemctl reload voiceagentd")
        }
    }

    /// What systemd's STATUS= should say now.
    var systemdStatus: String {
        get async {
            if configurationProblem != nil { return "configuration error; see journalctl -u voiceagentd" }
            if let attempt = reconnecting?.status.attempt { return "reconnecting (attempt \(attempt))" }
            guard let current else { return "idle" }
            return current.conversationID.map { "in conversation \($0)" } ?? "connecting to agent \(current.agentID)"
        }
    }

    // MARK: - The conversation

    /// On SIGTERM: STOPPING=1, no new conversations, and the one under way
    /// ends with a close frame.
    private func shutDown() async {
        shuttingDown = true
        notifier.stopping()
        launches.continuation.finish()
        alwaysOnWait?.finish()
        keeperNudges.continuation.finish()
        try? await stop()
    }

    private func waitForTheEnd() async {
        guard let currentEnded else { return }
        for await _ in currentEnded {}
    }

    /// Runs a conversation from connect until its sound card is closed, and,
    /// if the network took it, the ones that replace it, with backoff.
    private func hold(_ launch: Launch) async {
        var conversation = launch.conversation
        var starter: (@Sendable (Result<StartResult, ControlError>) -> Void)? = { launch.started.resume(returning: $0) }
        /// The established conversation that was lost, while reconnecting.
        var lost: String?
        var carryOver: CarryOver?
        var attempt = 0
        while true {
            let reason = await conversation.run(started: announcer(for: starter, replacing: lost))
            starter = nil
            DaemonMetrics.conversationEnded(reason: reason.kind, after: ContinuousClock.now - conversation.startedAt)
            lastAudio = conversation.engine.currentStatistics
            let turns = await conversation.sessionSnapshot.history
            let ended = HistoryReport(conversationID: conversation.conversationID, current: false, turns: turns.map(HistoryReport.Turn.init))
            // Kept without the words unless clients may see them.
            lastHistory = await events.privacy.shownToClients ? ended : ended.withoutSpeech
            lastEnd = StatusReport.LastEnd(conversationID: conversation.conversationID, reason: reason.kind, explanation: reason.explanation)
            if let established = conversation.conversationID {
                lost = established
                attempt = 0
                if configuration.reconnect.carriesOver {
                    carryOver = carryOver?.adding(turns) ?? CarryOver(turns: turns)
                }
            }
            current = nil
            guard let lost, !stopRequested, !shuttingDown else { break }
            if reason.refusedOverrides, carryOver?.asksNotToGreet == true {
                logger.notice("the agent allows no first-message override: the conversation that replaces \(lost) will greet again")
                carryOver?.asksNotToGreet = false
            } else {
                attempt += 1
                let policy = configuration.reconnect
                guard reason.isTransient, policy.allows(attempt: attempt) else {
                    if reason.isTransient, policy.enabled {
                        logger.error("giving up after \(attempt - 1) reconnect attempts: \(reason.explanation)")
                    }
                    break
                }
                let delay = policy.delay(beforeAttempt: attempt)
                guard await waitToReconnect(attempt: attempt, after: delay, lost: lost, because: reason) else { break }
            }
            guard let next = try? replacement(for: launch.options, carryingOver: carryOver) else { break }
            conversation = next
            current = next
        }
        current = nil
        currentEnded = nil
        launch.ended.finish()
        notifier.status("idle")
        keeperNudges.continuation.yield()
    }

    // MARK: - Always-on

    /// Always-on (kiosks, robots): starts a conversation when the daemon
    /// starts and again after each one ends, a pause after a conversation
    /// and a growing wait (the reconnect backoff) after each failed start,
    /// so a refusal that would repeat (a bad key, an unknown agent) does
    /// not loop. `stop` pauses it until a client's next `start`.
    private func keepAlwaysOn() async {
        var failedStarts = 0
        for await _ in keeperNudges.stream {
            guard alwaysOnWanted else { continue }
            if failedStarts > 0 || lastEnd != nil {
                let delay = failedStarts > 0 ? configuration.reconnect.delay(beforeAttempt: failedStarts) : configuration.alwaysOn.pause
                guard await waitForAlwaysOn(after: delay, failedStarts: failedStarts), alwaysOnWanted else { continue }
            }
            do {
                _ = try await start(StartOptions(), fromClient: false)
                failedStarts = 0
            } catch {
                failedStarts += 1
                logger.warning("always-on: the conversation did not start (\(failedStarts) in a row): \(error.message)")
            }
        }
    }

    private var alwaysOnWanted: Bool {
        configuration.alwaysOn.enabled && !alwaysOnPaused && !shuttingDown && configurationProblem == nil && current == nil
            && reconnecting == nil
    }

    /// Says when the next always-on conversation starts and waits for it;
    /// false when `stop`, a client's `start` or a shutdown came first.
    private func waitForAlwaysOn(after delay: Duration, failedStarts: Int) async -> Bool {
        let (cancelled, cancel) = AsyncStream.makeStream(of: Never.self)
        alwaysOnWait = cancel
        defer { alwaysOnWait = nil }
        let delayMs = Int(Self.seconds(delay) * 1000)
        await events.append(
            type: "always_on_waiting", conversationID: nil, text: lastEnd?.explanation,
            fields: ["delay_ms": String(delayMs), "failed_starts": String(failedStarts)])
        notifier.status("idle (always-on: the next conversation in \(delayMs) ms)")
        return await Self.sleep(for: delay, unless: cancelled)
    }

    /// Sleeps for `delay`; false when `cancelled` finished first.
    private static func sleep(for delay: Duration, unless cancelled: AsyncStream<Never>) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await Task.sleep(for: delay)) != nil }
            group.addTask {
                for await _ in cancelled {}
                return false
            }
            let waited = await group.next() ?? false
            group.cancelAll()
            return waited
        }
    }

    /// What a conversation does once the agent accepts it or fails: tells
    /// systemd, answers the `start` that waits, and after a reconnect says
    /// which conversation this one replaces.
    private func announcer(
        for starter: (@Sendable (Result<StartResult, ControlError>) -> Void)?, replacing lost: String?
    ) -> @Sendable (Result<StartResult, ControlError>) -> Void {
        let notifier = notifier
        let events = events
        return { result in
            if case .success(let started) = result {
                DaemonMetrics.conversationAccepted()
                notifier.status("in conversation \(started.conversationID)")
                if let lost {
                    Task {
                        await events.append(
                            type: "reconnected", conversationID: started.conversationID, text: "replaces \(lost)",
                            fields: ["previous_conversation_id": lost])
                    }
                }
            }
            starter?(result)
        }
    }

    /// Says a reconnect is coming and waits for it; false when `stop` or a
    /// shutdown came first.
    private func waitToReconnect(attempt: Int, after delay: Duration, lost: String, because reason: EndReason) async -> Bool {
        let (cancelled, cancel) = AsyncStream.makeStream(of: Never.self)
        DaemonMetrics.reconnecting()
        reconnecting = (StatusReport.Reconnecting(attempt: attempt, delayMs: Int(Self.seconds(delay) * 1000), cause: reason.explanation), cancel)
        defer { reconnecting = nil }
        await events.append(
            type: "reconnecting", conversationID: lost, text: reason.explanation,
            fields: ["attempt": String(attempt), "delay_ms": String(Int(Self.seconds(delay) * 1000)), "cause": reason.kind])
        notifier.status("reconnecting (attempt \(attempt))")
        return await Self.sleep(for: delay, unless: cancelled)
    }

    /// A new conversation for the same start options, from the configuration
    /// of this moment, told of the one it replaces when carrying over.
    private func replacement(for options: StartOptions, carryingOver carryOver: CarryOver? = nil) throws(ControlError) -> Conversation {
        let conversation = Conversation(
            configuration: configuration,
            session: try sessionConfiguration(for: options, greeting: carryOver?.asksNotToGreet != true),
            opening: carryOver.map { .contextualUpdate(text: $0.contextualUpdate) }, muted: muted, events: events, logger: logger)
        DaemonMetrics.conversationStarted()
        return conversation
    }

    /// `greeting` false asks the agent for an empty first message.
    private func sessionConfiguration(for options: StartOptions, greeting: Bool) throws(ControlError) -> AgentSessionConfiguration {
        guard let agentID = options.agentID ?? configuration.agentID else {
            throw ControlError(.badArguments, "no agent id: pass --agent-id, or set AGENT_ID in /etc/voiceagentd/voiceagentd.conf")
        }
        let useSignedURL = usesSignedURL
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
            firstMessage: greeting ? options.firstMessage ?? configuration.firstMessage : "",
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
                customLLMExtraBody: options.customLLMExtraBody.isEmpty ? nil : options.customLLMExtraBody,
                dynamicVariables: options.variables.mapValues(JSONValue.init(inferringTypeOf:)),
                userID: options.userID ?? configuration.userID,
                sourceInfo: VoiceAgentDaemon.source),
            extraTrustedCAFile: configuration.extraCAFile,
            connectTimeout: configuration.connectTimeout,
            toolTimeout: configuration.toolTimeout,
            silenceTimeout: configuration.silenceTimeout,
            eventLoop: Conversation.socketLoop)
    }

    /// Whether conversations go through a signed URL: `auth`, or with
    /// `auth=auto` whether a key is loaded.
    private var usesSignedURL: Bool {
        configuration.authentication ?? (apiKey != nil)
    }

    /// Silence measures -infinity dBFS, which JSON cannot carry: it is left out.
    private static func finite(_ value: Double) -> Double? {
        value.isFinite ? value : nil
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension HistoryReport.Turn {
    init(_ turn: ChatTurn) {
        self.init(
            role: turn.role.rawValue, text: turn.text, eventID: turn.eventID?.value, originalText: turn.originalText,
            spokenMs: turn.interrupted?.spokenMs, spokenText: turn.interrupted?.spokenText)
    }
}

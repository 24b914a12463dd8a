import AgentSession
import Foundation
import Logging
import NIOCore
import NIOWebSocket
import WSCore

/// One conversation on the simulated agent's side of the socket.
actor SimulatedConversation {
    let id: String
    private let configuration: SimulatorConfiguration
    private let outbound: WebSocketOutboundWriter
    private let recorder: SimulatorRecorder
    private let logger: Logger
    private var detector: SpeechDetector
    private var nextEventID = 1
    private var reply: (audibleUntil: ContinuousClock.Instant, task: Task<Void, Never>)?
    private var pingsInFlight: [EventID: ContinuousClock.Instant] = [:]
    private var lastRoundTripMs: Double?
    private var toolAnswers: [String: CheckedContinuation<ClientToolResult?, Never>] = [:]
    private var firstMessage: String

    init(id: String, configuration: SimulatorConfiguration, outbound: WebSocketOutboundWriter, recorder: SimulatorRecorder, logger: Logger) {
        self.id = id
        self.configuration = configuration
        self.outbound = outbound
        self.recorder = recorder
        self.logger = logger
        self.firstMessage = configuration.firstMessage
        detector = SpeechDetector(
            sampleRate: configuration.inputFormat.sampleRate,
            thresholdDBFS: configuration.speechThresholdDBFS,
            endOfTurnMilliseconds: configuration.endOfTurnMilliseconds
        )
    }

    func run(inbound: WebSocketInboundStream) async throws {
        var frames = inbound.messages(maxSize: AgentSessionConfiguration.maxMessageSize).makeAsyncIterator()
        guard let first = try await frames.next() else { return }
        guard case .initiation(let initiation) = await receive(first) else {
            try await close(code: 1008, reason: "the first message must be conversation_initiation_client_data")
            return
        }
        if let refusal = refusal(of: initiation) {
            try await send(.error(refusal))
            try await close(code: 1008, reason: refusal.reason ?? "invalid")
            return
        }
        if let override = initiation.configOverride?.agent?.firstMessage {
            firstMessage = override
        }
        guard configuration.scenario != .noMetadata else {
            while let frame = try await frames.next() { _ = await receive(frame) }
            return
        }
        try await Task.sleep(for: configuration.metadataDelay)
        try await send(
            .initiationMetadata(
                InitiationMetadata(
                    conversationID: id,
                    agentOutputAudioFormat: configuration.outputFormat,
                    userInputAudioFormat: configuration.inputFormat
                )))
        var background = [Task { try? await self.playScenario() }]
        if configuration.scenario != .goSilent {
            background.append(Task { try? await self.sendPings() })
        }
        defer {
            shutDown()
            for task in background { task.cancel() }
        }
        while let frame = try await frames.next() {
            await handle(await receive(frame))
        }
    }

    /// The client is gone: nothing may wait for it any longer.
    private func shutDown() {
        reply?.task.cancel()
        for answer in toolAnswers.values {
            answer.resume(returning: nil)
        }
        toolAnswers.removeAll()
    }

    // MARK: - Receiving

    /// Records a frame and decodes it; nil when it is not a client message.
    private func receive(_ frame: WebSocketMessage) async -> ClientMessage? {
        let now = Date().timeIntervalSince1970
        guard case .text(let text) = frame else {
            await recorder.record(RecordedMessage(conversationID: id, receivedAt: now, type: "simulator.binary_frame"))
            return nil
        }
        let message = try? JSONWire.decode(ClientMessage.self, from: Data(text.utf8))
        var record = RecordedMessage(conversationID: id, receivedAt: now, type: message.map { $0.type ?? "user_audio_chunk" } ?? "simulator.invalid")
        if case .userAudioChunk(let samples) = message {
            record.audioBytes = samples.count
            // Silence measures -infinity, which JSON cannot carry: left out.
            let level = PCMCodec.rmsDBFS(PCMCodec.linearSamples(from: samples, format: configuration.inputFormat))
            record.rmsDBFS = level.isFinite ? level : nil
        } else {
            record.message = try? JSONWire.decode(JSONValue.self, from: Data(text.utf8))
        }
        await recorder.record(record)
        return message
    }

    private func handle(_ message: ClientMessage?) async {
        switch message {
        case .userAudioChunk(let samples):
            let linear = PCMCodec.linearSamples(from: samples, format: configuration.inputFormat)
            for observation in detector.feed(linear) {
                await userSpeech(observation)
            }
        case .userMessage(let text):
            await interruptReplyIfAudible()
            await answer(userTranscript: text)
        case .userActivity, .contextualUpdate, .feedback, .mcpToolApprovalResult, .conversationModeChange, .initiation,
            nil:
            break
        case .pong(let eventID):
            if let sent = pingsInFlight.removeValue(forKey: eventID) {
                let elapsed = ContinuousClock.now - sent
                lastRoundTripMs = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
            }
        case .clientToolResult(let result):
            toolAnswers.removeValue(forKey: result.toolCallID)?.resume(returning: result)
        }
    }

    private func userSpeech(_ observation: SpeechDetector.Observation) async {
        switch observation {
        case .speechStarted:
            await noteItself("speech_started")
            try? await send(.vadScore(VADScoreEvent(vadScore: 1)))
            await interruptReplyIfAudible()
        case .turnEnded(let seconds):
            try? await send(.vadScore(VADScoreEvent(vadScore: 0)))
            await answer(userTranscript: String(format: "(%.1f seconds of speech)", seconds))
        }
    }

    /// Records something the simulator did or noticed, as `simulator.<what>`.
    private func noteItself(_ what: String) async {
        await recorder.record(RecordedMessage(conversationID: id, receivedAt: Date().timeIntervalSince1970, type: "simulator." + what))
    }

    // MARK: - Speaking

    private func takeEventID() -> EventID {
        defer { nextEventID += 1 }
        return EventID(nextEventID)
    }

    /// Answers a user turn. The reply's audio goes out in the background, so
    /// the receive loop (and with it the pongs) never waits for it.
    private func answer(userTranscript: String) async {
        try? await send(.userTranscript(UserTranscriptEvent(userTranscript: userTranscript, eventID: takeEventID())))
        await startReply("I heard you say \(userTranscript). Thank you!")
    }

    /// Speaks a reply and returns when all of its audio has been sent.
    private func speak(_ text: String, stopAfterChunks: Int? = nil) async {
        await startReply(text, stopAfterChunks: stopAfterChunks).value
    }

    /// Starts a reply: its text at once, its audio paced or in a burst by
    /// the returned task.
    @discardableResult
    private func startReply(_ text: String, stopAfterChunks: Int? = nil) async -> Task<Void, Never> {
        reply?.task.cancel()
        let eventID = takeEventID()
        try? await send(.agentResponse(AgentResponseEvent(agentResponse: text, eventID: eventID)))
        let format = configuration.outputFormat
        let chunks =
            configuration.replySpeech.map { ToneSynthesizer.chunks(of: $0, format: format, chunkMilliseconds: configuration.chunkMilliseconds) }
            ?? ToneSynthesizer(format: format).chunks(seconds: configuration.replySeconds, chunkMilliseconds: configuration.chunkMilliseconds)
        let alignments = ReplyAlignment.perChunk(text: text, chunkCount: chunks.count, chunkMilliseconds: configuration.chunkMilliseconds)
        let sent = Array(zip(chunks, alignments).prefix(stopAfterChunks ?? chunks.count))
        let replySeconds = configuration.replySpeech.map { Double($0.count) / Double(format.sampleRate) } ?? configuration.replySeconds
        let audibleUntil = ContinuousClock.now + .seconds(replySeconds)
        let task = Task { await self.sendAudio(sent, eventID: eventID) }
        reply = (audibleUntil, task)
        return task
    }

    private func sendAudio(_ chunks: [(Data, AudioEvent.Alignment)], eventID: EventID) async {
        let chunkDuration = Duration.milliseconds(configuration.chunkMilliseconds)
        var deadline = ContinuousClock.now
        await noteItself("reply_audio_started")
        for (chunk, alignment) in chunks {
            guard !Task.isCancelled else { return }
            let chunkID = configuration.audioEventIDs == .perChunk ? takeEventID() : eventID
            try? await send(.audio(AudioEvent(audioBase64: chunk.base64EncodedString(), eventID: chunkID, alignment: alignment)))
            if configuration.delivery == .paced {
                deadline += chunkDuration
                try? await Task.sleep(until: deadline)
            }
        }
    }

    /// The user spoke over a reply still being heard: stop it and say so.
    private func interruptReplyIfAudible() async {
        guard let reply, ContinuousClock.now < reply.audibleUntil else { return }
        reply.task.cancel()
        self.reply = nil
        await noteItself("interruption_sent")
        // Covers every id given out so far: with per-chunk ids, the reply's
        // last chunk, not only its first.
        try? await send(.interruption(InterruptionEvent(eventID: EventID(nextEventID - 1))))
    }

    // MARK: - Scenarios

    private func playScenario() async throws {
        switch configuration.scenario {
        case .conversation, .noMetadata, .goSilent:
            await greet()
        case .interrupt:
            try await interruptGreeting()
        case .toolCall:
            await greet()
            try await callTool()
        case .allEvents:
            try await sendOneOfEach()
            await greet()
        case .malformed:
            try await sendMalformedFrames()
            await greet()
        case .oversized:
            let padding = String(repeating: "a", count: configuration.oversizedMessageBytes - 80)
            try await outbound.write(.text(#"{"type":"agent_response","agent_response_event":{"agent_response":"\#(padding)","event_id":1}}"#))
        case .error1002:
            try await fail(code: 1002, reason: "inactivity_timeout", message: "No user input for 60 seconds")
        case .error1008:
            try await fail(code: 1008, reason: "invalid_message", message: "The client sent a message the agent cannot accept")
        case .error1011:
            try await fail(code: 1011, reason: "internal_error", message: "The agent's service failed")
        case .closeMidReply:
            await speakHalfTheGreeting()
            try await close(code: 1000, reason: "end_call")
        case .failMidReply:
            await speakHalfTheGreeting()
            try await fail(code: 1011, reason: "internal_error", message: "The agent's service failed")
        }
    }

    private func speakHalfTheGreeting() async {
        let chunkCount = Int(configuration.replySeconds * 1000) / configuration.chunkMilliseconds
        await speak(firstMessage, stopAfterChunks: max(1, chunkCount / 2))
    }

    private func greet() async {
        guard !firstMessage.isEmpty else { return }
        await speak(firstMessage)
    }

    private func interruptGreeting() async throws {
        let eventID = takeEventID()
        try await send(.agentResponse(AgentResponseEvent(agentResponse: firstMessage, eventID: eventID)))
        let chunks = ToneSynthesizer(format: configuration.outputFormat)
            .chunks(seconds: configuration.replySeconds, chunkMilliseconds: configuration.chunkMilliseconds)
        let alignments = ReplyAlignment.perChunk(text: firstMessage, chunkCount: chunks.count, chunkMilliseconds: configuration.chunkMilliseconds)
        let heard = min(3, chunks.count)
        for (chunk, alignment) in zip(chunks, alignments).prefix(heard) {
            try await send(.audio(AudioEvent(audioBase64: chunk.base64EncodedString(), eventID: eventID, alignment: alignment)))
        }
        try await send(.interruption(InterruptionEvent(eventID: eventID)))
        for chunk in chunks[heard...] {
            try await send(.audio(AudioEvent(audioBase64: chunk.base64EncodedString(), eventID: eventID)))
        }
        let spoken = firstMessage.split(separator: " ").prefix(2).joined(separator: " ")
        try await send(
            .agentResponseCorrection(
                AgentResponseCorrectionEvent(originalAgentResponse: firstMessage, correctedAgentResponse: spoken, eventID: eventID)))
        await speak("Sorry, go ahead.")
    }

    private func callTool() async throws {
        let callID = "call_\(takeEventID().value)"
        let result = await withCheckedContinuation { continuation in
            toolAnswers[callID] = continuation
            Task {
                try? await self.send(
                    .clientToolCall(
                        ClientToolCall(
                            toolName: configuration.toolName, toolCallID: callID, parameters: configuration.toolParameters,
                            eventID: takeEventID())))
            }
        }
        guard let result else { return }
        await speak(result.isError ? "The tool failed: \(result.result)" : "The tool answered: \(result.result)")
    }

    private func fail(code: Int, reason: String, message: String) async throws {
        try await send(.error(ServerErrorEvent(code: code, message: message, errorType: reason, reason: reason)))
        try await close(code: UInt16(code), reason: reason)
    }

    private func sendOneOfEach() async throws {
        let tool = AgentToolEvent(toolName: "end_call", toolCallID: "agent_tool_1", toolType: "system", eventID: takeEventID())
        var response = tool
        response.isError = false
        response.isCalled = true
        let messages: [ServerMessage] = [
            .vadScore(VADScoreEvent(vadScore: 0.9)),
            .tentativeUserTranscript(UserTranscriptEvent(userTranscript: "hel", eventID: takeEventID())),
            .userTranscript(UserTranscriptEvent(userTranscript: "hello", eventID: takeEventID())),
            .agentChatResponsePart(TextResponsePart(text: "", kind: .start)),
            .agentChatResponsePart(TextResponsePart(text: "Hi there", kind: .delta)),
            .agentChatResponsePart(TextResponsePart(text: "", kind: .stop)),
            .agentResponse(AgentResponseEvent(agentResponse: "Hi there", eventID: takeEventID())),
            .agentResponseCorrection(
                AgentResponseCorrectionEvent(originalAgentResponse: "Hi there", correctedAgentResponse: "Hi", eventID: EventID(nextEventID - 1))),
            .agentToolRequest(tool),
            .agentToolResponse(response),
            .mcpConnectionStatus(.object(["integrations": .array([])])),
            .mcpToolCall(.object(["tool_name": .string("search"), "state": .string("loading")])),
            .internalMessage(type: "internal_tentative_agent_response"),
            .internalMessage(type: "asr_initiation_metadata"),
            .unknown(type: "brand_new_feature"),
            .error(ServerErrorEvent(code: 1000, message: "a non-fatal notice", errorType: "notice")),
            .interruption(InterruptionEvent(eventID: takeEventID())),
        ]
        for message in messages {
            try await send(message)
        }
    }

    private func sendMalformedFrames() async throws {
        let next = nextEventID
        nextEventID += 3
        let frames = [
            "this is not JSON",
            "[1, 2, 3]",
            #"{"no_type": true}"#,
            #"{"type": "audio"}"#,
            #"{"type": "audio", "audio_event": {"audio_base_64": "!!not base64!!", "event_id": \#(next)}}"#,
            #"{"type": "ping", "ping_event": {"event_id": "not a number"}}"#,
            #"{"type": "user_transcript", "user_transcription_event": {"user_transcript": "string ids are fine", "event_id": "\#(next + 1)"}}"#,
            #"{"type": "conversation_initiation_metadata", "conversation_initiation_metadata_event": {"conversation_id": "second", "agent_output_audio_format": "pcm_16000", "user_input_audio_format": "pcm_16000"}}"#,
            #"{"type": "brand_new_feature", "brand_new_feature_event": {}}"#,
        ]
        try await outbound.write(.binary(ByteBuffer(bytes: [0, 1, 2, 3])))
        for frame in frames {
            try await outbound.write(.text(frame))
        }
    }

    private func sendPings() async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: configuration.pingInterval)
            let eventID = takeEventID()
            pingsInFlight[eventID] = .now
            try await send(.ping(PingEvent(eventID: eventID, pingMs: lastRoundTripMs)))
        }
    }

    // MARK: - Sending

    private func send(_ message: ServerMessage) async throws {
        try await outbound.write(.text(try message.encodedText()))
    }

    private func close(code: UInt16, reason: String) async throws {
        try await outbound.close(.init(codeNumber: Int(code)), reason: reason)
    }

    private func refusal(of initiation: ConversationInitiation) -> ServerErrorEvent? {
        if configuration.refuseOverrides, let override = initiation.configOverride, override != ConversationConfigOverride() {
            return ServerErrorEvent(
                code: 1008, message: "Override for this agent is not allowed by its configuration", errorType: "override_error",
                reason: "override_error")
        }
        let provided = initiation.dynamicVariables ?? [:]
        if let missing = configuration.requiredDynamicVariables.first(where: { provided[$0] == nil }) {
            return ServerErrorEvent(
                code: 1008, message: "Missing required dynamic variable '\(missing)'", errorType: "missing_dynamic_variable",
                reason: "missing_dynamic_variable")
        }
        return nil
    }
}


import FoundationEssentials

/// The conversation logic with no I/O: each input returns what to do next,
/// and the transport does it. Modelled on WSCore's WebSocketStateMachine:
/// each phase carries the data that exists only in it.
struct ConversationStateMachine: Sendable {
    enum Phase: Sendable, Equatable {
        case idle
        case connecting
        case active(ActiveState)
        /// We asked to close; the metadata is there if the agent had accepted.
        case ending(InitiationMetadata?)
        case ended(EndReason)

        /// How `status` names it.
        var name: String {
            switch self {
            case .idle: "idle"
            case .connecting: "connecting"
            case .active: "active"
            case .ending: "ending"
            case .ended: "ended"
            }
        }
    }

    struct ActiveState: Sendable, Equatable {
        let metadata: InitiationMetadata
        /// After our own interrupt, the agent's audio is dropped until the
        /// next turn begins, however the server goes on sending the reply.
        var holdingAfterLocalInterrupt = false
    }

    enum Action: Sendable, Equatable {
        /// Open the sound card in these formats before anything else is handled.
        case openAudio(input: AudioFormat, output: AudioFormat)
        case send(ClientMessage)
        case play(AgentAudioChunk)
        /// Agent audio that will not reach the sound card, in frames.
        case discard(frames: Int, reason: DropReason)
        case stopPlayback
        case emit(SessionEventKind)
        case runTool(ClientToolCall)
    }

    private(set) var phase = Phase.idle
    /// Audio at or below this id belongs to an interrupted reply.
    private(set) var interruptedThrough: EventID?
    private(set) var highestEventID: EventID?
    private(set) var latency = LatencyStatistics()
    private(set) var history = ChatHistory()
    private(set) var counters = SessionCounters()
    /// The server's last voice activity score for the user, 0…1.
    private(set) var lastVADScore: Double?
    /// The latest agent reply's audio, for what was heard if it is cut.
    private var reply = ReplyAudio()
    /// Whether the last silencing was the agent's interruption (the reply
    /// was cut) or our own (it may have finished playing already).
    private var silencedByAgent = false
    private var openToolCalls: [String: String] = [:]

    var metadata: InitiationMetadata? {
        switch phase {
        case .active(let state): state.metadata
        case .ending(let metadata): metadata
        case .idle, .connecting, .ended: nil
        }
    }

    var isActive: Bool {
        if case .active = phase { true } else { false }
    }

    var isConnecting: Bool { phase == .connecting }

    var endReason: EndReason? {
        if case .ended(let reason) = phase { reason } else { nil }
    }

    mutating func startConnecting(agentID: String) -> [Action] {
        guard phase == .idle else { return [] }
        phase = .connecting
        return [.emit(.connecting(agentID: agentID))]
    }

    /// The socket is open: the initiation message goes first.
    func socketOpened(initiation: ConversationInitiation) -> [Action] {
        isConnecting ? [.send(.initiation(initiation))] : []
    }

    mutating func received(_ message: ServerMessage) -> [Action] {
        switch phase {
        case .connecting, .active, .ending: break
        case .idle, .ended: return []
        }
        counters.messagesReceived += 1
        if let id = message.eventID {
            highestEventID = max(highestEventID ?? id, id)
        }
        switch message {
        case .initiationMetadata(let received):
            return receivedMetadata(received)
        case .audio(let audio):
            return receivedAudio(audio)
        case .interruption(let interruption):
            interruptedThrough = max(interruptedThrough ?? interruption.eventID, interruption.eventID)
            nextTurnBegan()
            silencedByAgent = true
            return [.stopPlayback, .emit(.interruption(eventID: interruption.eventID, local: false))]
        case .ping(let ping):
            if let milliseconds = ping.pingMs {
                latency.record(milliseconds)
                SessionMetrics.pinged(roundTripMilliseconds: milliseconds)
            }
            counters.pongsSent += 1
            return [.send(.pong(eventID: ping.eventID)), .emit(.ping(eventID: ping.eventID, latencyMs: ping.pingMs))]
        case .userTranscript(let transcript):
            nextTurnBegan()
            history.append(ChatTurn(role: .user, text: transcript.userTranscript, eventID: transcript.eventID))
            return [.emit(.userTranscript(transcript.userTranscript, eventID: transcript.eventID))]
        case .tentativeUserTranscript(let transcript):
            return [.emit(.tentativeUserTranscript(transcript.userTranscript, eventID: transcript.eventID))]
        case .agentResponse(let response):
            reply = ReplyAudio()
            history.append(ChatTurn(role: .agent, text: response.agentResponse, eventID: response.eventID))
            return [.emit(.agentResponse(response.agentResponse, eventID: response.eventID))]
        case .agentResponseCorrection(let correction):
            history.correct(correction)
            return [.emit(.agentResponseCorrection(correction))]
        case .clientToolCall(let call):
            counters.toolCalls += 1
            openToolCalls[call.toolCallID] = call.toolName
            return [.emit(.clientToolCall(call)), .runTool(call)]
        case .agentToolRequest(let event):
            return [.emit(.agentToolRequest(event))]
        case .agentToolResponse(let event):
            return [.emit(.agentToolResponse(event))]
        case .vadScore(let score):
            lastVADScore = score.vadScore
            return [.emit(.vadScore(score.vadScore))]
        case .agentChatResponsePart(let part):
            return [.emit(.agentResponsePart(part))]
        case .mcpToolCall(let payload), .mcpConnectionStatus(let payload):
            return [.emit(.mcp(type: message.type, payload))]
        case .error(let error):
            return [.emit(.serverError(error))]
        case .internalMessage:
            return []
        case .unknown(let type):
            counters.unknownMessages += 1
            return [.emit(.unknownMessage(type: type))]
        }
    }

    /// The agent accepted: the sound card opens in its formats before the
    /// next message (often the greeting's audio) is handled.
    private mutating func receivedMetadata(_ received: InitiationMetadata) -> [Action] {
        guard isConnecting else {
            counters.invalidMessages += 1
            return [.emit(.protocolError("the server sent a second conversation_initiation_metadata; it was ignored"))]
        }
        phase = .active(ActiveState(metadata: received))
        return [
            .openAudio(input: received.userInputAudioFormat, output: received.agentOutputAudioFormat),
            .emit(.connected(received)),
        ]
    }

    private mutating func receivedAudio(_ audio: AudioEvent) -> [Action] {
        counters.audioChunksReceived += 1
        guard let format = metadata?.agentOutputAudioFormat else {
            counters.invalidMessages += 1
            return [.emit(.protocolError("the server sent audio before the initiation metadata named its format; it was dropped"))]
        }
        let frames = PCMCodec.sampleCount(bytes: audio.decodedByteCount, format: format)
        if let interruptedThrough, audio.eventID <= interruptedThrough {
            counters.audioChunksDropped += 1
            return [.discard(frames: frames, reason: .staleEventID)]
        }
        if case .active(let state) = phase, state.holdingAfterLocalInterrupt {
            counters.audioChunksDropped += 1
            return [.discard(frames: frames, reason: .interrupted)]
        }
        guard let samples = Data(base64Encoded: audio.audioBase64) else {
            counters.invalidMessages += 1
            return [.emit(.protocolError("audio event \(audio.eventID) is not valid base64; it was dropped"))]
        }
        reply.add(frames: frames, sampleRate: format.sampleRate, alignment: audio.alignment)
        return [.play(AgentAudioChunk(samples: samples, format: format, eventID: audio.eventID))]
    }

    /// A frame that was not a usable message. Counted and reported; the
    /// conversation goes on.
    mutating func receivedInvalid(_ error: ServerMessageError) -> [Action] {
        if case .ended = phase { return [] }
        counters.messagesReceived += 1
        counters.invalidMessages += 1
        return [.emit(.protocolError(error.description))]
    }

    /// Our own interrupt: silence now, and drop the rest of the reply under
    /// way until the next turn begins (a user transcript, a user message we
    /// send, or the agent's own interruption), whatever event ids the
    /// server gives the rest. `user_activity` tells the agent the user has
    /// the floor.
    mutating func interruptLocally() -> [Action] {
        guard case .active(var state) = phase else { return [] }
        if let highestEventID {
            interruptedThrough = max(interruptedThrough ?? highestEventID, highestEventID)
        }
        state.holdingAfterLocalInterrupt = true
        phase = .active(state)
        silencedByAgent = false
        return [.stopPlayback, .send(.userActivity), .emit(.interruption(eventID: highestEventID, local: true))]
    }

    /// The speaker was silenced with `unplayedFrames` of the reply still
    /// queued: the agent's turn is marked with what the user heard. Our own
    /// interrupt after the reply had played out marks nothing.
    mutating func playbackStopped(unplayedFrames: Int) {
        guard let format = metadata?.agentOutputAudioFormat, reply.milliseconds > 0, unplayedFrames > 0 || silencedByAgent else { return }
        history.markLastAgentTurn(interrupted: reply.heard(unplayedMs: Double(unplayedFrames) * 1000 / Double(format.sampleRate)))
        reply = ReplyAudio()
    }

    /// We send the user's text: the agent's next reply is a new turn.
    mutating func userMessageSent() {
        nextTurnBegan()
    }

    private mutating func nextTurnBegan() {
        guard case .active(var state) = phase, state.holdingAfterLocalInterrupt else { return }
        state.holdingAfterLocalInterrupt = false
        phase = .active(state)
    }

    /// A tool finished. Its answer goes out only while the conversation
    /// still lives; results after the end are dropped.
    mutating func toolFinished(_ result: ClientToolResult) -> [Action] {
        guard let name = openToolCalls.removeValue(forKey: result.toolCallID), isActive || isConnecting else {
            return []
        }
        return [.send(.clientToolResult(result)), .emit(.clientToolResult(toolName: name, result))]
    }

    /// Returns true when there is an open conversation to close.
    mutating func stopRequested() -> Bool {
        switch phase {
        case .connecting, .active:
            phase = .ending(metadata)
            return true
        case .idle, .ending, .ended:
            return false
        }
    }

    mutating func ended(_ reason: EndReason) -> [Action] {
        if case .ended = phase { return [] }
        phase = .ended(reason)
        openToolCalls.removeAll()
        return [.emit(.ended(reason))]
    }
}

extension ServerMessage {
    var eventID: EventID? {
        switch self {
        case .audio(let event): event.eventID
        case .agentResponse(let event): event.eventID
        case .agentResponseCorrection(let event): event.eventID
        case .userTranscript(let event), .tentativeUserTranscript(let event): event.eventID
        case .interruption(let event): event.eventID
        case .ping(let event): event.eventID
        case .clientToolCall(let event): event.eventID
        case .agentToolRequest(let event), .agentToolResponse(let event): event.eventID
        default: nil
        }
    }
}

extension AudioEvent {
    /// The length of the audio once decoded, read from the base64 text alone.
    var decodedByteCount: Int {
        let padding = audioBase64.utf8.reversed().prefix(2).prefix { $0 == UInt8(ascii: "=") }.count
        return max(0, audioBase64.utf8.count / 4 * 3 - padding)
    }
}

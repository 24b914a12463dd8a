import Foundation

/// The conversation logic with no I/O: each input returns what to do next,
/// and the transport does it. Modelled on WSCore's WebSocketStateMachine.
struct ConversationStateMachine: Sendable {
    enum Phase: String, Sendable, Equatable {
        case idle, connecting, active, ending, ended
    }

    enum Action: Sendable, Equatable {
        case send(ClientMessage)
        case play(AgentAudioChunk)
        case stopPlayback
        case emit(SessionEventKind)
        case runTool(ClientToolCall)
    }

    private(set) var phase = Phase.idle
    private(set) var metadata: InitiationMetadata?
    /// Audio at or below this id belongs to an interrupted reply.
    private(set) var interruptedThrough: EventID?
    private(set) var highestEventID: EventID?
    private(set) var latency = LatencyStatistics()
    private(set) var history = ChatHistory()
    private(set) var counters = SessionCounters()
    private(set) var endReason: EndReason?
    private var openToolCalls: [String: String] = [:]

    mutating func startConnecting(agentID: String) -> [Action] {
        guard phase == .idle else { return [] }
        phase = .connecting
        return [.emit(.connecting(agentID: agentID))]
    }

    /// The socket is open: the initiation message goes first.
    func socketOpened(initiation: ConversationInitiation) -> [Action] {
        phase == .connecting ? [.send(.initiation(initiation))] : []
    }

    mutating func received(_ message: ServerMessage) -> [Action] {
        guard phase == .connecting || phase == .active || phase == .ending else { return [] }
        counters.messagesReceived += 1
        if let id = message.eventID {
            highestEventID = max(highestEventID ?? id, id)
        }
        switch message {
        case .initiationMetadata(let received):
            guard metadata == nil else {
                counters.invalidMessages += 1
                return [.emit(.protocolError("the server sent a second conversation_initiation_metadata; it was ignored"))]
            }
            metadata = received
            if phase == .connecting { phase = .active }
            return [.emit(.connected(received))]
        case .audio(let audio):
            return receivedAudio(audio)
        case .interruption(let interruption):
            interruptedThrough = max(interruptedThrough ?? interruption.eventID, interruption.eventID)
            return [.stopPlayback, .emit(.interruption(eventID: interruption.eventID, local: false))]
        case .ping(let ping):
            if let milliseconds = ping.pingMs { latency.record(milliseconds) }
            counters.pongsSent += 1
            return [.send(.pong(eventID: ping.eventID)), .emit(.ping(eventID: ping.eventID, latencyMs: ping.pingMs))]
        case .userTranscript(let transcript):
            history.append(ChatTurn(role: .user, text: transcript.userTranscript, eventID: transcript.eventID))
            return [.emit(.userTranscript(transcript.userTranscript, eventID: transcript.eventID))]
        case .tentativeUserTranscript(let transcript):
            return [.emit(.tentativeUserTranscript(transcript.userTranscript, eventID: transcript.eventID))]
        case .agentResponse(let response):
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

    private mutating func receivedAudio(_ audio: AudioEvent) -> [Action] {
        counters.audioChunksReceived += 1
        if let interruptedThrough, audio.eventID <= interruptedThrough {
            counters.audioChunksDropped += 1
            return []
        }
        guard let format = metadata?.agentOutputAudioFormat else {
            counters.invalidMessages += 1
            return [.emit(.protocolError("the server sent audio before the initiation metadata named its format; it was dropped"))]
        }
        guard let samples = Data(base64Encoded: audio.audioBase64) else {
            counters.invalidMessages += 1
            return [.emit(.protocolError("audio event \(audio.eventID) is not valid base64; it was dropped"))]
        }
        return [.play(AgentAudioChunk(samples: samples, format: format, eventID: audio.eventID))]
    }

    /// A frame that was not a usable message. Counted and reported; the
    /// conversation goes on.
    mutating func receivedInvalid(_ error: ServerMessageError) -> [Action] {
        guard phase != .ended else { return [] }
        counters.messagesReceived += 1
        counters.invalidMessages += 1
        return [.emit(.protocolError(error.description))]
    }

    /// Our own interrupt: silence now, and drop the rest of whatever reply
    /// is under way (everything up to the newest event id seen).
    mutating func interruptLocally() -> [Action] {
        guard phase == .active else { return [] }
        if let highestEventID {
            interruptedThrough = max(interruptedThrough ?? highestEventID, highestEventID)
        }
        return [.stopPlayback, .emit(.interruption(eventID: highestEventID, local: true))]
    }

    /// A tool finished. Its answer goes out only while the conversation
    /// still lives; results after the end are dropped.
    mutating func toolFinished(_ result: ClientToolResult) -> [Action] {
        guard let name = openToolCalls.removeValue(forKey: result.toolCallID), phase == .active || phase == .connecting else {
            return []
        }
        return [.send(.clientToolResult(result)), .emit(.clientToolResult(toolName: name, result))]
    }

    mutating func userAudioSent() {
        counters.userAudioChunksSent += 1
    }

    /// Returns true when there is an open conversation to close.
    mutating func stopRequested() -> Bool {
        switch phase {
        case .connecting, .active:
            phase = .ending
            return true
        case .idle, .ending, .ended:
            return false
        }
    }

    mutating func ended(_ reason: EndReason) -> [Action] {
        guard phase != .ended else { return [] }
        phase = .ended
        endReason = reason
        openToolCalls.removeAll()
        // The agent's goodbye plays out when the server ends the call; our
        // own stop silences at once.
        let silence: [Action] = reason == .stoppedByClient ? [.stopPlayback] : []
        return silence + [.emit(.ended(reason))]
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

@testable import AgentSession
import Foundation
import Testing

@Suite("The conversation state machine")
struct ConversationStateMachineTests {
    let format = AudioFormat.pcm16000

    func activeMachine() -> ConversationStateMachine {
        var machine = ConversationStateMachine()
        _ = machine.startConnecting(agentID: "agent")
        _ = machine.received(.initiationMetadata(InitiationMetadata(conversationID: "c", agentOutputAudioFormat: format, userInputAudioFormat: format)))
        return machine
    }

    func audio(_ id: Int) -> ServerMessage {
        .audio(AudioEvent(audioBase64: Data([UInt8(id), 0]).base64EncodedString(), eventID: EventID(id)))
    }

    func played(_ actions: [ConversationStateMachine.Action]) -> [Int] {
        actions.compactMap { if case .play(let chunk) = $0 { chunk.eventID.value } else { nil } }
    }

    @Test func serverInterruptionDropsAudioAtOrBelowItsID() {
        var machine = activeMachine()
        let before = machine.received(audio(5))
        #expect(played(before) == [5])
        let actions = machine.received(.interruption(InterruptionEvent(eventID: EventID(5))))
        #expect(actions.first == .stopPlayback)
        let stale = machine.received(audio(4)) + machine.received(audio(5))
        #expect(stale == [.discard(frames: 1, reason: .staleEventID), .discard(frames: 1, reason: .staleEventID)])
        let next = machine.received(audio(6))
        #expect(played(next) == [6])
        #expect(machine.counters.audioChunksDropped == 2)
    }

    @Test func anOlderInterruptionNeverLowersTheMark() {
        var machine = activeMachine()
        _ = machine.received(.interruption(InterruptionEvent(eventID: EventID(9))))
        _ = machine.received(.interruption(InterruptionEvent(eventID: EventID(3))))
        let stale = machine.received(audio(8))
        #expect(played(stale).isEmpty)
    }

    @Test func localInterruptDropsTheRestOfTheReplyWhateverItsEventIDs() {
        var machine = activeMachine()
        _ = machine.received(audio(7))
        let actions = machine.interruptLocally()
        #expect(actions == [.stopPlayback, .send(.userActivity), .emit(.interruption(eventID: EventID(7), local: true))])
        #expect(machine.received(audio(7)) == [.discard(frames: 1, reason: .staleEventID)])
        // A server that numbers every chunk goes on with higher ids.
        #expect(machine.received(audio(8)) == [.discard(frames: 1, reason: .interrupted)])
        #expect(machine.received(audio(9)) == [.discard(frames: 1, reason: .interrupted)])
        _ = machine.received(.userTranscript(UserTranscriptEvent(userTranscript: "wait", eventID: EventID(10))))
        #expect(played(machine.received(audio(11))) == [11], "the next turn plays")
        #expect(machine.counters.audioChunksDropped == 3)
    }

    @Test(arguments: ["user message", "server interruption"])
    func theNextTurnAlsoBeginsWith(_ boundary: String) {
        var machine = activeMachine()
        _ = machine.received(audio(3))
        _ = machine.interruptLocally()
        #expect(played(machine.received(audio(4))).isEmpty)
        if boundary == "user message" {
            machine.userMessageSent()
        } else {
            _ = machine.received(.interruption(InterruptionEvent(eventID: EventID(5))))
        }
        #expect(played(machine.received(audio(6))) == [6])
    }

    /// A second of reply audio at 16 kHz, with the alignment the server
    /// sends: one character every 100 ms.
    func secondOfSpeech(_ id: Int, text: String) -> ServerMessage {
        let characters = text.map(String.init)
        let alignment = AudioEvent.Alignment(
            chars: characters, charStartTimesMs: characters.indices.map { Double($0 * 100) }, charDurationsMs: characters.map { _ in 100 })
        return .audio(AudioEvent(audioBase64: Data(count: 32_000).base64EncodedString(), eventID: EventID(id), alignment: alignment))
    }

    @Test func anInterruptedTurnKeepsWhatTheUserHeard() throws {
        var machine = activeMachine()
        _ = machine.received(.agentResponse(AgentResponseEvent(agentResponse: "Hello there, friend", eventID: EventID(2))))
        _ = machine.received(secondOfSpeech(2, text: "Hello ther"))
        _ = machine.received(secondOfSpeech(2, text: "e, friend"))
        _ = machine.received(.interruption(InterruptionEvent(eventID: EventID(2))))
        // 1.4 s of the 2 s reply was still queued: 0.6 s was heard.
        machine.playbackStopped(unplayedFrames: 22_400)
        let turn = try #require(machine.history.turns.last)
        #expect(turn.interrupted == ChatTurn.Interruption(spokenMs: 600, spokenText: "Hello "))
        #expect(turn.text == "Hello there, friend", "the text stays what the agent meant to say")
    }

    @Test func withoutAlignmentTheHeardPartIsItsLength() throws {
        var machine = activeMachine()
        _ = machine.received(.agentResponse(AgentResponseEvent(agentResponse: "Hi", eventID: EventID(2))))
        _ = machine.received(.audio(AudioEvent(audioBase64: Data(count: 32_000).base64EncodedString(), eventID: EventID(2))))
        _ = machine.interruptLocally()
        machine.playbackStopped(unplayedFrames: 4_000)
        #expect(machine.history.turns.last?.interrupted == ChatTurn.Interruption(spokenMs: 750, spokenText: nil))
    }

    @Test func aLocalInterruptAfterTheReplyPlayedOutMarksNothing() {
        var machine = activeMachine()
        _ = machine.received(.agentResponse(AgentResponseEvent(agentResponse: "Hi", eventID: EventID(2))))
        _ = machine.received(secondOfSpeech(2, text: "Hi"))
        _ = machine.interruptLocally()
        machine.playbackStopped(unplayedFrames: 0)
        #expect(machine.history.turns.last?.interrupted == nil)
    }

    @Test func aLocalInterruptOutsideAConversationDoesNothing() {
        var machine = ConversationStateMachine()
        _ = machine.startConnecting(agentID: "agent")
        #expect(machine.interruptLocally().isEmpty)
    }

    @Test func metadataOpensTheSoundCardBeforeAnythingElse() throws {
        var machine = ConversationStateMachine()
        _ = machine.startConnecting(agentID: "agent")
        let ulaw = try AudioFormat(parsing: "ulaw_8000")
        let metadata = InitiationMetadata(conversationID: "c", agentOutputAudioFormat: format, userInputAudioFormat: ulaw)
        let actions = machine.received(.initiationMetadata(metadata))
        #expect(actions == [.openAudio(input: ulaw, output: format), .emit(.connected(metadata))])
        guard case .active(let state) = machine.phase else {
            Issue.record("the agent accepted: the conversation is active")
            return
        }
        #expect(state.metadata == metadata && !state.holdingAfterLocalInterrupt)
    }

    @Test func phasesCarryWhatExistsInThem() throws {
        var machine = activeMachine()
        let closing = machine.stopRequested()
        #expect(closing)
        guard case .ending(let metadata?) = machine.phase else {
            Issue.record("a stop after the agent accepted keeps its metadata")
            return
        }
        #expect(metadata.conversationID == "c")
        let closingAgain = machine.stopRequested()
        #expect(!closingAgain, "a second stop has nothing to close")
        let ended = machine.ended(.stoppedByClient)
        #expect(ended == [.emit(.ended(.stoppedByClient))])
        #expect(machine.phase == .ended(.stoppedByClient) && machine.endReason == .stoppedByClient && machine.metadata == nil)
        let endedAgain = machine.ended(.networkError("late"))
        #expect(endedAgain.isEmpty, "a conversation ends once")
    }

    @Test func staleAudioIsCountedInFramesOfItsFormat() {
        var machine = activeMachine()
        _ = machine.received(.interruption(InterruptionEvent(eventID: EventID(9))))
        let chunk = AudioEvent(audioBase64: Data(count: 640).base64EncodedString(), eventID: EventID(9))
        #expect(machine.received(.audio(chunk)) == [.discard(frames: 320, reason: .staleEventID)])
        let odd = AudioEvent(audioBase64: Data(count: 7).base64EncodedString(), eventID: EventID(8))
        #expect(machine.received(.audio(odd)) == [.discard(frames: 3, reason: .staleEventID)])
    }

    @Test func pingIsAnsweredAtOnceWithItsID() {
        var machine = activeMachine()
        let actions = machine.received(.ping(PingEvent(eventID: EventID(11), pingMs: nil)))
        #expect(actions.first == .send(.pong(eventID: EventID(11))))
        _ = machine.received(.ping(PingEvent(eventID: EventID(12), pingMs: 40)))
        _ = machine.received(.ping(PingEvent(eventID: EventID(13), pingMs: 60)))
        let latency = machine.latency
        #expect(latency.count == 2 && latency.lastMs == 60 && latency.meanMs == 50 && latency.p50Ms == 40 && latency.p95Ms == 60)
    }

    @Test func transcriptsAndResponsesMakeTurnsAndCorrectionsRewriteThem() {
        var machine = activeMachine()
        _ = machine.received(.userTranscript(UserTranscriptEvent(userTranscript: "What's the weather?", eventID: EventID(1))))
        _ = machine.received(.tentativeUserTranscript(UserTranscriptEvent(userTranscript: "and", eventID: EventID(2))))
        _ = machine.received(.agentResponse(AgentResponseEvent(agentResponse: "It is sunny all week long.", eventID: EventID(3))))
        _ = machine.received(
            .agentResponseCorrection(
                AgentResponseCorrectionEvent(originalAgentResponse: "It is sunny all week long.", correctedAgentResponse: "It is sunny", eventID: EventID(3))))
        #expect(
            machine.history.turns == [
                ChatTurn(role: .user, text: "What's the weather?", eventID: EventID(1)),
                ChatTurn(role: .agent, text: "It is sunny", eventID: EventID(3), originalText: "It is sunny all week long."),
            ])
    }

    @Test func aCorrectionWithoutIDFindsTheTurnByItsText() {
        var history = ChatHistory()
        history.append(ChatTurn(role: .agent, text: "first", eventID: nil))
        history.append(ChatTurn(role: .agent, text: "second reply", eventID: nil))
        let found = history.correct(AgentResponseCorrectionEvent(originalAgentResponse: "first", correctedAgentResponse: "fir", eventID: nil))
        #expect(found)
        #expect(history.turns.map(\.text) == ["fir", "second reply"])
        let missing = history.correct(AgentResponseCorrectionEvent(originalAgentResponse: "never said", correctedAgentResponse: "x", eventID: nil))
        #expect(!missing)
    }

    @Test func secondMetadataAndEarlyAudioAreReportedNotFatal() {
        var machine = ConversationStateMachine()
        _ = machine.startConnecting(agentID: "agent")
        let early = machine.received(audio(1))
        #expect(early.contains { if case .emit(.protocolError) = $0 { true } else { false } })
        machine = activeMachine()
        let second = machine.received(.initiationMetadata(InitiationMetadata(conversationID: "other", agentOutputAudioFormat: format, userInputAudioFormat: format)))
        #expect(second.count == 1 && machine.metadata?.conversationID == "c")
        #expect(machine.isActive)
    }

    @Test func toolResultsAfterTheEndAreDropped() {
        var machine = activeMachine()
        _ = machine.received(.clientToolCall(ClientToolCall(toolName: "t", toolCallID: "1", parameters: [:], eventID: nil)))
        _ = machine.received(.clientToolCall(ClientToolCall(toolName: "t", toolCallID: "2", parameters: [:], eventID: nil)))
        let answered = machine.toolFinished(ClientToolResult(toolCallID: "1", result: "ok", isError: false))
        #expect(answered.first == .send(.clientToolResult(ClientToolResult(toolCallID: "1", result: "ok", isError: false))))
        _ = machine.ended(.closedByServer(code: 1000, reason: nil, error: nil))
        let late = machine.toolFinished(ClientToolResult(toolCallID: "2", result: "late", isError: false))
        #expect(late.isEmpty)
    }
}

@Suite("Latency figures")
struct LatencyStatisticsTests {
    @Test func percentilesUseNearestRank() {
        var statistics = LatencyStatistics()
        for value in 1...100 { statistics.record(Double(value)) }
        #expect(statistics.p50Ms == 50)
        #expect(statistics.p95Ms == 95)
        #expect(statistics.meanMs == 50.5)
        #expect(statistics.lastMs == 100)
    }

    @Test func percentilesForgetOldSamplesButTheMeanDoesNot() {
        var statistics = LatencyStatistics()
        for _ in 0..<LatencyStatistics.window { statistics.record(1000) }
        for _ in 0..<LatencyStatistics.window { statistics.record(10) }
        #expect(statistics.p95Ms == 10)
        #expect(statistics.meanMs == 505)
        #expect(statistics.count == 2 * LatencyStatistics.window)
    }

    @Test func emptyHasNoFigures() {
        let empty = LatencyStatistics()
        #expect(empty.count == 0 && empty.lastMs == nil && empty.meanMs == nil && empty.p50Ms == nil && empty.p95Ms == nil)
    }
}

@Suite("Endpoints")
struct AgentEndpointTests {
    let source = SourceInfo(source: "voiceagentd", version: "1.2")

    @Test func publicURLIsTheSameHostOverWebSocket() throws {
        let endpoint = try AgentEndpoint(baseURL: "https://api.elevenlabs.io", agentID: "agent 1&x", source: source)
        #expect(endpoint.publicConversationURL == "wss://api.elevenlabs.io/v1/convai/conversation?agent_id=agent%201%26x&source=voiceagentd&version=1.2")
        #expect(endpoint.signedURLRequestURL == "https://api.elevenlabs.io/v1/convai/conversation/get-signed-url?agent_id=agent%201%26x")
        let local = try AgentEndpoint(baseURL: "http://127.0.0.1:8765/", agentID: "a", source: source)
        #expect(local.publicConversationURL == "ws://127.0.0.1:8765/v1/convai/conversation?agent_id=a&source=voiceagentd&version=1.2")
    }

    @Test func signedURLsStayOpaque() throws {
        let endpoint = try AgentEndpoint(baseURL: "https://api.elevenlabs.io", agentID: "a", source: source)
        #expect(endpoint.conversationURL(fromSigned: "wss://x/y?token=abc") == "wss://x/y?token=abc&source=voiceagentd&version=1.2")
        #expect(endpoint.conversationURL(fromSigned: "wss://x/y") == "wss://x/y?source=voiceagentd&version=1.2")
    }

    @Test func refusesBadInput() {
        #expect(throws: AgentEndpointError.invalidBaseURL("ftp://x")) { try AgentEndpoint(baseURL: "ftp://x", agentID: "a", source: source) }
        #expect(throws: AgentEndpointError.invalidBaseURL("not a url")) { try AgentEndpoint(baseURL: "not a url", agentID: "a", source: source) }
        #expect(throws: AgentEndpointError.missingAgentID) { try AgentEndpoint(baseURL: "https://x", agentID: "", source: source) }
    }

    @Test func onlyWhatMayPassIsTransient() {
        #expect(EndReason.networkError("reset").isTransient)
        #expect(EndReason.connectionFailed("refused").isTransient)
        #expect(EndReason.closedByServer(code: 1011, reason: "internal_error", error: nil).isTransient)
        for lasting in [
            EndReason.stoppedByClient, .refused("401"), .protocolError("oversized"), .audioUnavailable("no device"),
            .closedByServer(code: 1000, reason: "end_call", error: nil), .closedByServer(code: 1008, reason: "override_error", error: nil),
            .closedByServer(code: 1002, reason: "inactivity", error: nil),
        ] {
            #expect(!lasting.isTransient, "\(lasting)")
        }
    }

    @Test func closeReasonsReadAsSentences() {
        let override = EndReason.closedByServer(code: 1008, reason: "override_error", error: nil)
        #expect(override.explanation.hasPrefix("this agent does not allow the requested conversation overrides"))
        #expect(override.explanation.hasSuffix("(1008 override_error)"))
        let internalError = EndReason.closedByServer(
            code: 1011, reason: "internal_error", error: ServerErrorEvent(code: 1011, message: "The agent's service failed"))
        #expect(internalError.explanation == "the agent's service had an internal error (1011 internal_error): The agent's service failed")
        #expect(EndReason.closedByServer(code: 1000, reason: nil, error: nil).isError == false)
    }
}

import AgentSession
import AgentSimulator
import Foundation
import Testing

@Suite("A session against the agent simulator", .timeLimit(.minutes(1)))
struct SessionAgainstSimulatorTests {
    @Test func holdsAConversation() async throws {
        try await RunningSimulator.with { simulator in
            let sink = RecordingAudioSink()
            let session = try simulator.session(sink: sink)
            let run = Task { await session.run() }
            let connected = try await events(of: session, until: \.isConnected)
            let metadata = try #require(connected.last.flatMap { if case .connected(let metadata) = $0 { metadata } else { nil } })
            #expect(metadata.agentOutputAudioFormat == .pcm16000)

            try await waitFor("the greeting's audio") { sink.chunks.count >= 5 }
            #expect(sink.chunks.allSatisfy { $0.format == .pcm16000 && !$0.samples.isEmpty })

            await session.sendUserAudio(speech(seconds: 0.4))
            await session.sendUserAudio(silence(seconds: 0.7))
            let turn = try await events(of: session) { if case .agentResponse(let text, _) = $0 { text.hasPrefix("I heard") } else { false } }
            #expect(turn.contains { if case .userTranscript(let text, _) = $0 { text.contains("seconds of speech") } else { false } })

            try await waitFor("pongs for pings") { await simulator.received("pong").count >= 2 }
            let pings = turn.compactMap { if case .ping(let id, _) = $0 { id.value } else { nil } }
            let pongs = await simulator.received("pong").compactMap { record -> Int? in
                if case .object(let fields) = record.message, case .integer(let id) = fields["event_id"] { id } else { nil }
            }
            #expect(!pongs.isEmpty && pongs.allSatisfy { pings.contains($0) || $0 > (pings.last ?? 0) })

            await session.stop()
            #expect(await run.value == .stoppedByClient)
            let snapshot = await session.snapshot
            #expect(snapshot.history.map(\.role) == [.agent, .user, .agent])
            #expect(snapshot.counters.userAudioChunksSent == 2)
        }
    }

    @Test func sendsTheInitiationDataFirst() async throws {
        try await RunningSimulator.with { simulator in
            let initiation = ConversationInitiation(
                configOverride: ConversationConfigOverride(agent: .init(prompt: "Be brief.", firstMessage: "Hi Ada", language: "en"), tts: .init(voiceID: "v1")),
                customLLMExtraBody: ["temperature": .number(0.3)],
                dynamicVariables: ["customer": .string("Ada")],
                userID: "user_7")
            let session = try simulator.session { $0.initiation = initiation }
            let run = Task { await session.run() }
            let connected = try await events(of: session) { if case .agentResponse = $0 { true } else { false } }
            #expect(connected.contains { $0 == .agentResponse("Hi Ada", eventID: EventID(1)) })
            let first = try #require(await simulator.recorder.messages().first)
            #expect(first.type == "conversation_initiation_client_data")
            #expect(first.message == (try JSONWire.decode(JSONValue.self, from: Data(JSONWire.encode(ClientMessage.initiation(initiation)).utf8))))
            await session.stop()
            _ = await run.value
        }
    }

    @Test func sendsUserSideMessages() async throws {
        try await RunningSimulator.with { simulator in
            let session = try simulator.session()
            let run = Task { await session.run() }
            _ = try await events(of: session, until: \.isConnected)
            try await session.send(.contextualUpdate(text: "The user opened the menu"))
            try await session.send(.userActivity)
            try await session.send(.feedback(eventID: EventID(1), score: .like))
            try await session.send(.userMessage(text: "What time is it?"))
            _ = try await events(of: session) { if case .agentResponse(let text, _) = $0 { text.contains("What time is it?") } else { false } }
            let types = await simulator.recorder.messages().map(\.type)
            #expect(types.contains("contextual_update") && types.contains("user_activity") && types.contains("feedback") && types.contains("user_message"))
            await session.stop()
            _ = await run.value
        }
    }

    @Test func privateAgentsConnectThroughASignedURL() async throws {
        try await RunningSimulator.with({ $0.apiKey = "sk_test" }) { simulator in
            let session = try simulator.session { $0.apiKey = "sk_test" }
            let run = Task { await session.run() }
            _ = try await events(of: session, until: \.isConnected)
            await session.stop()
            #expect(await run.value == .stoppedByClient)
        }
    }

    @Test func aWrongAPIKeyIsRefusedClearly() async throws {
        try await RunningSimulator.with({ $0.apiKey = "sk_test" }) { simulator in
            let session = try simulator.session { $0.apiKey = "sk_wrong" }
            let reason = await session.run()
            #expect(reason == .refused("the API key was refused (HTTP 401); check the elevenlabs-api-key credential"))
            #expect(!reason.isTransient, "a wrong key would be refused again")
        }
    }

    /// A refusal would repeat, a busy or failing service may recover: only
    /// the second kind is worth a reconnect.
    @Test(arguments: [(401, false), (403, false), (404, false), (429, true), (500, true)])
    func theSignedURLRequestsAnswerDecidesWhetherToTryAgain(status: Int, transient: Bool) async throws {
        try await RunningSimulator.with({
            $0.apiKey = "sk_test"
            $0.signedURLStatus = status
        }) { simulator in
            let reason = await (try simulator.session { $0.apiKey = "sk_test" }).run()
            #expect(reason.isTransient == transient, "\(reason)")
            #expect(reason.explanation.contains("HTTP \(status)"), "\(reason.explanation)")
        }
    }

    @Test func aPrivateAgentRefusesAnUnsignedSocket() async throws {
        try await RunningSimulator.with({ $0.apiKey = "sk_test" }) { simulator in
            let reason = await (try simulator.session()).run()
            guard case .refused(let detail) = reason else {
                Issue.record("expected a refusal, got \(reason)")
                return
            }
            #expect(detail.contains("is private and no API key is set (put it in /etc/voiceagentd/api-key"), "\(detail)")
        }
    }

    @Test func serverInterruptionDropsTheInterruptedReply() async throws {
        try await RunningSimulator.with({ $0.scenario = .interrupt }) { simulator in
            let sink = RecordingAudioSink()
            let session = try simulator.session(sink: sink)
            let run = Task { await session.run() }
            let seen = try await events(of: session) { if case .agentResponse(let text, _) = $0 { text == "Sorry, go ahead." } else { false } }
            guard let interrupted = seen.compactMap({ if case .interruption(let id?, false) = $0 { id } else { nil } }).first else {
                Issue.record("no interruption event")
                return
            }
            try await waitFor("the follow-up reply's audio") { sink.chunks.contains { $0.eventID > interrupted } }
            let calls = sink.recorded
            let stopIndex = try #require(calls.firstIndex(of: .stop))
            let afterStop = calls[stopIndex...].compactMap { if case .play(let chunk) = $0 { chunk } else { nil } }
            #expect(afterStop.allSatisfy { $0.eventID > interrupted }, "no chunk at or below the interrupted id after the interruption")
            #expect(calls.first == .open(input: .pcm16000, output: .pcm16000), "the sound card opens before any audio")
            #expect(calls[1..<stopIndex].count == 3, "three chunks before the interruption")
            let stale = calls[stopIndex...].compactMap { if case .discard(let frames, .staleEventID) = $0 { frames } else { nil } }
            #expect(!stale.isEmpty && stale.allSatisfy { $0 > 0 }, "the stale chunks are counted in frames")
            let snapshot = await session.snapshot
            #expect(snapshot.counters.audioChunksDropped > 0)
            #expect(snapshot.history.first?.text == "Hello! This")
            #expect(snapshot.history.first?.originalText == simulator.simulator.configuration.firstMessage)
            await session.stop()
            _ = await run.value
        }
    }

    @Test func localInterruptSilencesAndDropsTheRest() async throws {
        try await RunningSimulator.with({
            $0.delivery = .paced
            $0.replySeconds = 3
        }) { simulator in
            let sink = RecordingAudioSink()
            let session = try simulator.session(sink: sink)
            let run = Task { await session.run() }
            try await waitFor("some of the greeting") { sink.chunks.count >= 2 }
            await session.interrupt()
            let heardBefore = sink.chunks.count
            await session.sendUserAudio(silence(seconds: 0.3))
            try await waitFor("more pings after the interrupt") { await simulator.received("pong").count >= 3 }
            #expect(sink.chunks.count == heardBefore)
            let afterStop = try #require(sink.recorded.lastIndex(of: .stop)).advanced(by: 1)
            #expect(sink.recorded[afterStop...].allSatisfy { if case .discard = $0 { true } else { false } }, "the rest is counted, not played")
            #expect(await simulator.received("user_activity").count == 1, "the agent is told the user has the floor")
            await session.stop()
            _ = await run.value
        }
    }

    @Test(arguments: ["success", "unknown", "error", "timeout"])
    func clientToolsAreAlwaysAnswered(outcome: String) async throws {
        try await RunningSimulator.with({
            $0.scenario = .toolCall
            $0.toolName = outcome == "unknown" ? "no_such_tool" : "get_weather"
        }) { simulator in
            let runner = ClosureToolRunner(tools: [
                "get_weather": { parameters in
                    switch outcome {
                    case "error": throw ToolFailure()
                    case "timeout":
                        try await Task.sleep(for: .seconds(30))
                        return "too late"
                    default: return "sunny in \(parameters["city"]?.description ?? "?")"
                    }
                }
            ])
            let session = try simulator.session(tools: runner) { $0.toolTimeout = .milliseconds(300) }
            let run = Task { await session.run() }
            let seen = try await events(of: session) { if case .clientToolResult = $0 { true } else { false } }
            let result = try #require(seen.last.flatMap { if case .clientToolResult(_, let result) = $0 { result } else { nil } })
            try await waitFor("the simulator to receive the result") { await !simulator.received("client_tool_result").isEmpty }
            let recorded = try #require(await simulator.received("client_tool_result").first)
            let fields = try #require(recorded.message?.objectMembers)
            #expect(fields["tool_call_id"] == .string(result.toolCallID))
            switch outcome {
            case "success":
                #expect(fields["result"] == .string("sunny in Paris") && fields["is_error"] == .bool(false))
            case "unknown":
                #expect(fields["result"] == .string("no client tool named 'no_such_tool' is configured") && fields["is_error"] == .bool(true))
            case "error":
                #expect(fields["result"] == .string("the weather service is down") && fields["is_error"] == .bool(true))
            default:
                #expect(fields["result"] == .string("client tool 'get_weather' did not answer within 0.3 seconds") && fields["is_error"] == .bool(true))
            }
            await session.stop()
            _ = await run.value
        }
    }

    @Test func malformedFramesAreReportedAndTheConversationGoesOn() async throws {
        try await RunningSimulator.with({ $0.scenario = .malformed }) { simulator in
            let sink = RecordingAudioSink()
            let session = try simulator.session(sink: sink)
            let run = Task { await session.run() }
            let seen = try await events(of: session) { if case .agentResponse = $0 { true } else { false } }
            let problems = seen.compactMap { if case .protocolError(let text) = $0 { text } else { nil } }
            #expect(
                problems == [
                    "the server sent a binary frame (4 bytes); the protocol uses text frames only",
                    "the server sent a frame that is not JSON",
                    "the server sent JSON that is not an object",
                    "the server sent a message without a 'type'",
                    "the server's 'audio' message is malformed: missing field 'audio_event'",
                    "audio event 1 is not valid base64; it was dropped",
                    "the server's 'ping' message is malformed: field 'ping_event.event_id': event_id is not an integer",
                    "the server sent a second conversation_initiation_metadata; it was ignored",
                ])
            #expect(seen.contains(.userTranscript("string ids are fine", eventID: EventID(2))))
            #expect(seen.contains(.unknownMessage(type: "brand_new_feature")))
            try await waitFor("the greeting's audio after the bad frames") { !sink.chunks.isEmpty }
            await session.stop()
            #expect(await run.value == .stoppedByClient)
        }
    }

    @Test func everyServerEventTypeArrivesTyped() async throws {
        try await RunningSimulator.with({ $0.scenario = .allEvents }) { simulator in
            let session = try simulator.session()
            let run = Task { await session.run() }
            let seen = try await events(of: session) { if case .interruption = $0 { true } else { false } }
            let names = Set(seen.map(\.name))
            for name in [
                "connecting", "connected", "vad_score", "tentative_user_transcript", "user_transcript", "agent_response_part",
                "agent_response", "agent_response_correction", "agent_tool_request", "agent_tool_response", "mcp", "server_error",
                "unknown_message", "interruption",
            ] {
                #expect(names.contains(name), "\(name)")
            }
            #expect(await session.snapshot.counters.unknownMessages == 1)
            await session.stop()
            _ = await run.value
        }
    }

    /// Just over the message limit the session reads it and closes; far
    /// over, the frame decoder refuses it unread. Both are the server's fault.
    @Test(arguments: [AgentSessionConfiguration.maxMessageSize + 100, AgentSessionConfiguration.maxMessageSize + (128 << 10)])
    func anOversizedMessageEndsTheConversationAsAProtocolError(bytes: Int) async throws {
        try await RunningSimulator.with({
            $0.scenario = .oversized
            $0.oversizedMessageBytes = bytes
        }) { simulator in
            let reason = await (try simulator.session()).run()
            guard case .protocolError(let detail) = reason else {
                Issue.record("expected a protocol error, got \(reason)")
                return
            }
            #expect(detail.hasPrefix("the server sent a message over the 16 MiB limit"))
            #expect(detail.contains("closed the connection with 1009"))
        }
    }

    @Test(arguments: [
        (SimulatorScenario.error1002, 1002, "inactivity_timeout"),
        (SimulatorScenario.error1008, 1008, "invalid_message"),
        (SimulatorScenario.error1011, 1011, "internal_error"),
    ])
    func errorClosesAreExplained(scenario: SimulatorScenario, code: Int, reason: String) async throws {
        try await RunningSimulator.with({ $0.scenario = scenario }) { simulator in
            let session = try simulator.session()
            let ended = await session.run()
            guard case .closedByServer(code, reason, let error?) = ended else {
                Issue.record("unexpected end: \(ended)")
                return
            }
            #expect(error.code == code)
            #expect(ended.isError)
            #expect(ended.explanation.contains("(\(code) \(reason))"))
        }
    }

    @Test func aServerCloseMidReplyEndsCleanly() async throws {
        try await RunningSimulator.with({
            $0.scenario = .closeMidReply
            $0.delivery = .paced
        }) { simulator in
            let sink = RecordingAudioSink()
            let ended = await (try simulator.session(sink: sink)).run()
            #expect(ended == .closedByServer(code: 1000, reason: "end_call", error: nil))
            #expect(!sink.chunks.isEmpty)
            #expect(!sink.recorded.contains(.stop), "the agent's last words play out")
        }
    }

    @Test func refusedOverridesAreExplained() async throws {
        try await RunningSimulator.with({ $0.refuseOverrides = true }) { simulator in
            let session = try simulator.session {
                $0.initiation.configOverride = ConversationConfigOverride(agent: .init(firstMessage: "Hi"))
            }
            let ended = await session.run()
            #expect(ended.explanation.hasPrefix("this agent does not allow the requested conversation overrides"))
        }
    }

    @Test func aMissingDynamicVariableIsExplained() async throws {
        try await RunningSimulator.with({ $0.requiredDynamicVariables = ["customer"] }) { simulator in
            let ended = await (try simulator.session()).run()
            #expect(ended.explanation.hasPrefix("the agent needs a dynamic variable"))
            #expect(ended.explanation.contains("Missing required dynamic variable 'customer'"))
        }
    }

    @Test func stopDuringConnectReturnsAtOnce() async throws {
        try await RunningSimulator.with({ $0.scenario = .noMetadata }) { simulator in
            let session = try simulator.session()
            let run = Task { await session.run() }
            try await waitFor("the initiation to arrive") { await !simulator.recorder.messages().isEmpty }
            await session.stop()
            #expect(await run.value == .stoppedByClient)
        }
    }

    @Test func aSilentAgentTimesOut() async throws {
        try await RunningSimulator.with({ $0.scenario = .noMetadata }) { simulator in
            let session = try simulator.session { $0.connectTimeout = .seconds(2) }
            guard case .connectionFailed(let detail) = await session.run() else {
                Issue.record("a silent agent fails the connection")
                return
            }
            #expect(detail.hasPrefix("127.0.0.1:"))
            #expect(detail.hasSuffix("accepted the connection but the agent sent no conversation_initiation_metadata within 2.0 seconds (connect.timeout.ms)"))
        }
    }

    /// An agent slow to accept (10.5 s) is within the default connect
    /// deadline (15 s), and the silence deadline (10 s) does not count
    /// before the agent has accepted.
    @Test func metadataAfterTenSecondsIsStillAConversation() async throws {
        try await RunningSimulator.with({ $0.metadataDelay = .milliseconds(10_500) }) { simulator in
            let session = try simulator.session {
                $0.connectTimeout = AgentSessionConfiguration(endpoint: $0.endpoint).connectTimeout
            }
            let asked = ContinuousClock.now
            let run = Task { await session.run() }
            let seen = try await events(of: session, until: { $0.isConnected || $0.isEnded }, timeout: .seconds(20))
            #expect(seen.last?.isConnected == true, "\(seen)")
            #expect(ContinuousClock.now - asked >= .milliseconds(10_500))
            await session.stop()
            #expect(await run.value == .stoppedByClient)
        }
    }

    @Test func aServerThatGoesQuietIsTakenForLost() async throws {
        try await RunningSimulator.with({ $0.scenario = .goSilent }) { simulator in
            let session = try simulator.session { $0.silenceTimeout = .seconds(1) }
            guard case .networkError(let detail) = await session.run() else {
                Issue.record("a silent server is a lost connection")
                return
            }
            #expect(detail.hasPrefix("nothing came from 127.0.0.1:"))
            #expect(detail.hasSuffix("for 1.0 seconds, not even a ping: the network is down or the connection is dead"))
        }
    }

    @Test func aDeadAddressFailsToConnect() async throws {
        let endpoint = try AgentEndpoint(baseURL: "http://127.0.0.1:9", agentID: "a", source: SourceInfo(source: "t", version: "0"))
        let session = AgentSession(configuration: AgentSessionConfiguration(endpoint: endpoint), audioSink: RecordingAudioSink())
        guard case .connectionFailed(let detail) = await session.run() else {
            Issue.record("expected a connection failure")
            return
        }
        #expect(detail == "127.0.0.1:9 refused the connection: nothing listens there; check api.base.url")
    }

    @Test func aCertificateForAnotherHostIsNamedAsSuch() async throws {
        let detail = try await failureWithTrustedCertificate { try SelfSignedCertificate.generate(in: $0, names: "DNS:agent.example.org") }
        #expect(detail?.hasPrefix("the TLS certificate of localhost:") == true)
        #expect(detail?.hasSuffix("is for another host name: check api.base.url") == true, "\(detail ?? "it connected")")
    }

    /// The WebSocket client names the host in the TLS handshake (SNI),
    /// which an IP address cannot be: say so, not "check that it speaks HTTPS".
    @Test func anIPAddressOverTLSAsksForAHostName() async throws {
        let detail = try await failureWithTrustedCertificate(byAddress: true) { try SelfSignedCertificate.generate(in: $0) }
        #expect(detail?.hasPrefix("127.0.0.1:") == true, "\(detail ?? "it connected")")
        #expect(
            detail?.hasSuffix(" is an IP address, and the WebSocket over TLS needs a host name there: put the name its certificate carries in api.base.url")
                == true, "\(detail ?? "it connected")")
    }

    @Test func anExpiredCertificateIsNotAccepted() async throws {
        let lastYear = Date(timeIntervalSinceNow: -365 * 86_400)
        let detail = try await failureWithTrustedCertificate {
            try SelfSignedCertificate.generate(in: $0, validity: lastYear...lastYear.addingTimeInterval(7 * 86_400))
        }
        #expect(detail?.hasPrefix("the TLS certificate of localhost:") == true)
        #expect(
            detail?.contains("was not accepted (not signed by a trusted authority, or expired): check the system clock") == true,
            "\(detail ?? "it connected")")
    }

    /// Serves wss with the certificate `make` writes into a scratch folder,
    /// trusted as an extra CA, reached by name or `byAddress`: why the
    /// connection failed, nil if it did not.
    private func failureWithTrustedCertificate(
        byAddress: Bool = false, _ make: (String) throws -> SelfSignedCertificate
    ) async throws -> String? {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voiceagent-tls-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificate = try make(directory)
        return try await RunningSimulator.with({
            $0.tlsCertificatePath = certificate.certificatePath
            $0.tlsKeyPath = certificate.keyPath
        }) { simulator in
            let endpoint = try AgentEndpoint(
                baseURL: byAddress ? simulator.baseURL.replacing("localhost", with: "127.0.0.1") : simulator.baseURL, agentID: "agent_test",
                source: SourceInfo(source: "voiceagentd-tests", version: "0"))
            let session = try simulator.session {
                $0.extraTrustedCAFile = certificate.certificatePath
                $0.endpoint = endpoint
            }
            guard case .connectionFailed(let detail) = await session.run() else { return nil }
            return detail
        }
    }

    @Test func tlsWithAnExtraTrustedCA() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voiceagent-tls-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificate = try SelfSignedCertificate.generate(in: directory)
        try await RunningSimulator.with({
            $0.tlsCertificatePath = certificate.certificatePath
            $0.tlsKeyPath = certificate.keyPath
            $0.apiKey = "sk_tls"
        }) { simulator in
            let trusted = try simulator.session {
                $0.extraTrustedCAFile = certificate.certificatePath
                $0.apiKey = "sk_tls"
            }
            let run = Task { await trusted.run() }
            let seen = try await events(of: trusted) { $0.isConnected || $0.isEnded }
            #expect(seen.last?.isConnected == true)
            await trusted.stop()
            #expect(await run.value == .stoppedByClient)

            let untrusted = try simulator.session { $0.apiKey = "sk_tls" }
            guard case .connectionFailed(let detail) = await untrusted.run() else {
                Issue.record("an untrusted certificate must not connect")
                return
            }
            #expect(detail.hasPrefix("the signed-URL request failed: the TLS certificate of localhost:"))
            #expect(detail.contains("was not accepted (not signed by a trusted authority, or expired)"))
            #expect(!detail.contains("/"), "no library paths in an operator's message: \(detail)")
        }
    }
}

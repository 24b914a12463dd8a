import AgentSession
import Foundation
import Testing

/// Parses JSON text into a comparable value, so key order does not matter.
func json(_ text: String) throws -> JSONValue {
    try JSONWire.decode(JSONValue.self, from: Data(text.utf8))
}

func encoded(_ message: ClientMessage) throws -> JSONValue {
    try json(message.frameText())
}

@Suite("Client messages carry the protocol's exact field names")
struct ClientMessageTests {
    @Test func initiationWithEverything() throws {
        let initiation = ConversationInitiation(
            configOverride: ConversationConfigOverride(
                agent: .init(prompt: "Be brief.", firstMessage: "Hi Ada", language: "en"),
                tts: .init(voiceID: "voice_1", stability: 0.5, speed: 1.1, similarityBoost: 0.8),
                conversation: .init(textOnly: false)),
            customLLMExtraBody: ["temperature": .number(0.2)],
            dynamicVariables: ["customer": .string("Ada"), "visits": .integer(3), "vip": .bool(true)],
            userID: "user_42",
            sourceInfo: SourceInfo(source: "voiceagentd", version: "1.0"))
        let expected = try json(
            """
            {"type":"conversation_initiation_client_data",
             "conversation_config_override":{"agent":{"prompt":{"prompt":"Be brief."},"first_message":"Hi Ada","language":"en"},
               "tts":{"voice_id":"voice_1","stability":0.5,"speed":1.1,"similarity_boost":0.8},
               "conversation":{"text_only":false}},
             "custom_llm_extra_body":{"temperature":0.2},
             "dynamic_variables":{"customer":"Ada","visits":3,"vip":true},
             "user_id":"user_42",
             "source_info":{"source":"voiceagentd","version":"1.0"}}
            """)
        #expect(try encoded(.initiation(initiation)) == expected)
    }

    @Test func emptyInitiationSectionsAreLeftOut() throws {
        let initiation = ConversationInitiation(configOverride: ConversationConfigOverride(), customLLMExtraBody: [:], dynamicVariables: [:])
        #expect(try encoded(.initiation(initiation)) == json(#"{"type":"conversation_initiation_client_data"}"#))
    }

    @Test func everyOtherClientMessage() throws {
        let cases: [(ClientMessage, String)] = [
            (.userAudioChunk(Data([1, 2, 3, 4])), #"{"user_audio_chunk":"AQIDBA=="}"#),
            (.pong(eventID: EventID(7)), #"{"type":"pong","event_id":7}"#),
            (
                .clientToolResult(ClientToolResult(toolCallID: "call_1", result: "sunny", isError: false)),
                #"{"type":"client_tool_result","tool_call_id":"call_1","result":"sunny","is_error":false}"#
            ),
            (.contextualUpdate(text: "The user opened the menu"), #"{"type":"contextual_update","text":"The user opened the menu"}"#),
            (.userMessage(text: "hello"), #"{"type":"user_message","text":"hello"}"#),
            (.userActivity, #"{"type":"user_activity"}"#),
            (.feedback(eventID: EventID(9), score: .like), #"{"type":"feedback","event_id":9,"score":"like"}"#),
            (
                .mcpToolApprovalResult(toolCallID: "mcp_1", isApproved: true),
                #"{"type":"mcp_tool_approval_result","tool_call_id":"mcp_1","is_approved":true}"#
            ),
            (.conversationModeChange(textOnly: true), #"{"type":"conversation_mode_change","text_only":true}"#),
        ]
        for (message, expected) in cases {
            #expect(try encoded(message) == json(expected), "\(message)")
            #expect(try JSONWire.decode(ClientMessage.self, from: Data(message.frameText().utf8)) == message)
        }
    }
}

@Suite("Server messages decode from the protocol's shapes")
struct ServerMessageTests {
    func decode(_ text: String) throws -> ServerMessage {
        try ServerMessage.decode(Data(text.utf8))
    }

    @Test func everyKnownType() throws {
        let format = AudioFormat.pcm16000
        let cases: [(String, ServerMessage)] = [
            (
                #"{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":{"conversation_id":"conv_1","agent_output_audio_format":"pcm_16000","user_input_audio_format":"pcm_16000"}}"#,
                .initiationMetadata(InitiationMetadata(conversationID: "conv_1", agentOutputAudioFormat: format, userInputAudioFormat: format))
            ),
            (#"{"type":"audio","audio_event":{"audio_base_64":"AQI=","event_id":3}}"#, .audio(AudioEvent(audioBase64: "AQI=", eventID: EventID(3)))),
            (
                #"{"type":"agent_response","agent_response_event":{"agent_response":"Hi","event_id":3}}"#,
                .agentResponse(AgentResponseEvent(agentResponse: "Hi", eventID: EventID(3)))
            ),
            (
                #"{"type":"agent_response_correction","agent_response_correction_event":{"original_agent_response":"Hi there","corrected_agent_response":"Hi","event_id":3}}"#,
                .agentResponseCorrection(AgentResponseCorrectionEvent(originalAgentResponse: "Hi there", correctedAgentResponse: "Hi", eventID: EventID(3)))
            ),
            (
                #"{"type":"user_transcript","user_transcription_event":{"user_transcript":"hello","event_id":2}}"#,
                .userTranscript(UserTranscriptEvent(userTranscript: "hello", eventID: EventID(2)))
            ),
            (
                #"{"type":"tentative_user_transcript","tentative_user_transcription_event":{"user_transcript":"hel","event_id":1}}"#,
                .tentativeUserTranscript(UserTranscriptEvent(userTranscript: "hel", eventID: EventID(1)))
            ),
            (#"{"type":"interruption","interruption_event":{"event_id":4}}"#, .interruption(InterruptionEvent(eventID: EventID(4)))),
            (#"{"type":"ping","ping_event":{"event_id":5,"ping_ms":null}}"#, .ping(PingEvent(eventID: EventID(5), pingMs: nil))),
            (#"{"type":"ping","ping_event":{"event_id":6,"ping_ms":42}}"#, .ping(PingEvent(eventID: EventID(6), pingMs: 42))),
            (
                #"{"type":"client_tool_call","client_tool_call":{"tool_name":"get_weather","tool_call_id":"call_1","parameters":{"city":"Paris"},"event_id":7}}"#,
                .clientToolCall(ClientToolCall(toolName: "get_weather", toolCallID: "call_1", parameters: ["city": .string("Paris")], eventID: EventID(7)))
            ),
            (
                #"{"type":"agent_tool_request","agent_tool_request":{"tool_name":"end_call","tool_call_id":"t1","tool_type":"system","event_id":8}}"#,
                .agentToolRequest(AgentToolEvent(toolName: "end_call", toolCallID: "t1", toolType: "system", eventID: EventID(8)))
            ),
            (
                #"{"type":"agent_tool_response","agent_tool_response":{"tool_name":"end_call","tool_call_id":"t1","tool_type":"system","is_error":false,"is_called":true,"event_id":8}}"#,
                .agentToolResponse(AgentToolEvent(toolName: "end_call", toolCallID: "t1", toolType: "system", isError: false, isCalled: true, eventID: EventID(8)))
            ),
            (#"{"type":"vad_score","vad_score_event":{"vad_score":0.75}}"#, .vadScore(VADScoreEvent(vadScore: 0.75))),
            (
                #"{"type":"agent_chat_response_part","text_response_part":{"text":"Hi","type":"delta"}}"#,
                .agentChatResponsePart(TextResponsePart(text: "Hi", kind: .delta))
            ),
            (#"{"type":"mcp_tool_call","mcp_tool_call":{"state":"loading"}}"#, .mcpToolCall(.object(["state": .string("loading")]))),
            (#"{"type":"mcp_connection_status","mcp_connection_status":{"ok":true}}"#, .mcpConnectionStatus(.object(["ok": .bool(true)]))),
            (
                #"{"type":"error","error_event":{"code":1008,"message":"bad","error_type":"override_error","reason":"override_error"}}"#,
                .error(ServerErrorEvent(code: 1008, message: "bad", errorType: "override_error", reason: "override_error"))
            ),
            (#"{"type":"internal_tentative_agent_response"}"#, .internalMessage(type: "internal_tentative_agent_response")),
            (#"{"type":"asr_initiation_metadata","asr_initiation_metadata_event":{}}"#, .internalMessage(type: "asr_initiation_metadata")),
            (#"{"type":"something_new","something_new_event":{}}"#, .unknown(type: "something_new")),
        ]
        for (text, expected) in cases {
            #expect(try decode(text) == expected, "\(text)")
            #expect(try decode(expected.encodedText()) == expected, "round trip of \(expected.type)")
        }
    }

    @Test func toleratesStringEventIDsAndExtraFields() throws {
        let message = try decode(#"{"type":"interruption","interruption_event":{"event_id":"12","extra":1},"also":"extra"}"#)
        #expect(message == .interruption(InterruptionEvent(eventID: EventID(12))))
    }

    /// Found by fuzzing: a number written with a fraction whose value is an
    /// integer once read (past a Double's precision) came back as the other case.
    @Test(arguments: ["777777777777777777.77777777", "777777777777777777.7", "2.5", "3", "-0.0", "1e300", "9.3e18"])
    func numbersKeepTheirCaseThroughARoundTrip(literal: String) throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(literal.utf8))
        #expect(try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value)) == value)
    }

    @Test func fractionsStayNumbersAndWholeNumbersIntegers() throws {
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("2.5".utf8)) == .number(2.5))
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("3".utf8)) == .integer(3))
    }

    @Test func malformedFramesSayWhatIsWrong() {
        #expect(throws: ServerMessageError.notJSON) { try decode("not json") }
        #expect(throws: ServerMessageError.notAnObject) { try decode("[1,2]") }
        #expect(throws: ServerMessageError.missingType) { try decode(#"{"no_type":1}"#) }
        #expect(throws: ServerMessageError.invalidPayload(type: "audio", detail: "missing field 'audio_event'")) {
            try decode(#"{"type":"audio"}"#)
        }
        #expect(throws: ServerMessageError.invalidPayload(type: "ping", detail: "field 'ping_event.event_id': event_id is not an integer")) {
            try decode(#"{"type":"ping","ping_event":{"event_id":"soon"}}"#)
        }
        #expect(throws: ServerMessageError.invalidPayload(type: "conversation_initiation_metadata", detail: "field 'conversation_initiation_metadata_event.agent_output_audio_format': unsupported audio format 'mp3_44100': expected pcm_8000, pcm_16000, pcm_22050, pcm_24000, pcm_44100, pcm_48000 or ulaw_8000")) {
            try decode(#"{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":{"conversation_id":"c","agent_output_audio_format":"mp3_44100","user_input_audio_format":"pcm_16000"}}"#)
        }
    }
}

@Suite("Audio formats and µ-law")
struct AudioFormatTests {
    @Test func parsesEveryProtocolFormat() throws {
        for rate in [8000, 16000, 22050, 24000, 44100, 48000] {
            let format = try AudioFormat(parsing: "pcm_\(rate)")
            #expect(format.sampleRate == rate && format.encoding == .pcm && format.bytesPerSample == 2)
        }
        let ulaw = try AudioFormat(parsing: "ulaw_8000")
        #expect(ulaw.encoding == .ulaw && ulaw.bytesPerSecond == 8000)
    }

    @Test func refusesEverythingElse() {
        for name in ["pcm_11025", "ulaw_16000", "mp3_44100", "pcm", "pcm_", "16000", "pcm_16000_x"] {
            #expect(throws: AudioFormatError(name: name)) { try AudioFormat(parsing: name) }
        }
    }

    @Test func muLawMatchesTheG711Reference() {
        // Reference pairs from ITU-T G.711 (and Sun's g711.c, which it follows).
        let pairs: [(Int16, UInt8)] = [(0, 0xFF), (-1, 0x7F), (1, 0xFF), (8031, 0xA0), (-8031, 0x20), (32767, 0x80), (-32768, 0x00), (100, 0xF2)]
        for (linear, byte) in pairs {
            #expect(MuLaw.encode(linear) == byte, "encode \(linear)")
        }
        #expect(MuLaw.decode(0xFF) == 0)
        #expect(MuLaw.decode(0x80) == 32124)
        #expect(MuLaw.decode(0x00) == -32124)
        for byte in UInt8.min...UInt8.max where byte != 0x7F {
            #expect(MuLaw.encode(MuLaw.decode(byte)) == byte, "byte \(byte) survives a round trip")
        }
    }
}

import ControlProtocol
import Foundation
import JSON
import Testing

@Suite("Control requests")
struct ControlRequestTests {
    func decode(_ text: String) -> Result<ControlRequest, ControlCodec.RequestFailure> {
        ControlCodec.decodeRequest(Data(text.utf8))
    }

    @Test(arguments: [
        ControlCommand.start(StartOptions(agentID: "agent_1", variables: ["customer": "Ada", "visits": "3"], firstMessage: "Hi", prompt: "Be brief", language: "en", voiceID: "v", userID: "u")),
        .start(StartOptions(customLLMExtraBody: ["temperature": .number(0.2), "stop": .array([.string("###")]), "seed": .integer(7), "tools": .null])),
        .start(StartOptions()), .stop, .interrupt, .status, .events(EventsOptions(since: 12, follow: true)), .events(EventsOptions()),
        .say(text: "hello"), .context(text: "the user opened the menu"), .mute, .unmute, .feedback(liked: true), .feedback(liked: false),
    ])
    func everyCommandRoundTrips(command: ControlCommand) throws {
        let request = ControlRequest(id: "7", command: command)
        let line = ControlCodec.encode(request)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(try ControlCodec.decodeRequest(line.dropLast()).get() == request)
    }

    @Test func numericIDsAreAccepted() throws {
        #expect(try decode(#"{"v":1,"id":5,"command":"status"}"#).get() == ControlRequest(id: "5", command: .status))
    }

    @Test func badInputGetsTypedErrors() {
        func code(_ text: String) -> ControlError.Code? {
            if case .failure(let failure) = decode(text) { failure.error.code } else { nil }
        }
        #expect(code("not json") == .badJSON)
        #expect(code("[1,2]") == .badJSON)
        #expect(code(#"{"v":2,"id":"1","command":"status"}"#) == .badVersion)
        #expect(code(#"{"v":1,"command":"status"}"#) == .badArguments)
        #expect(code(#"{"v":1,"id":"1"}"#) == .badArguments)
        #expect(code(#"{"v":1,"id":"1","command":"launch"}"#) == .unknownCommand)
        #expect(code(#"{"v":1,"id":"1","command":"say"}"#) == .badArguments)
        #expect(code(#"{"v":1,"id":"1","command":"say","args":{"text":""}}"#) == .badArguments)
        #expect(code(#"{"v":1,"id":"1","command":"events","args":{"since":"yesterday"}}"#) == .badArguments)
        #expect(code(#"{"v":1,"id":"1","command":"start","args":{"variables":{"a":1}}}"#) == .badArguments)
        #expect(code(#"{"v":1,"id":"1","command":"feedback"}"#) == .badArguments)
        #expect(code(#"{"v":1,"id":"1","command":"feedback","args":{"score":"meh"}}"#) == .badArguments)
        #expect(code(String(repeating: " ", count: ControlProtocol.maxRequestBytes + 1)) == .tooLarge)
    }

    @Test func errorsKeepTheRequestIDWhenItCanBeRead() {
        guard case .failure(let failure) = decode(#"{"v":1,"id":"abc","command":"launch"}"#) else {
            Issue.record("an unknown command must fail")
            return
        }
        #expect(failure.id == "abc")
        #expect(failure.error.message == "unknown command 'launch'; the commands are start, stop, interrupt, status, history, devices, events, say, context, mute, unmute, feedback")
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]":,0123456789abcdefghijklmnopqrstuvwxyz\ "#.utf8) + [0, 0xff, 0xc3, 0x0a]
        for _ in 0..<5000 {
            let length = Int.random(in: 0..<200, using: &generator)
            var bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            if Bool.random(using: &generator) {
                bytes = Array(#"{"v":1,"id":"x","command":"#.utf8) + bytes
            }
            switch ControlCodec.decodeRequest(bytes) {
            case .success(let request): #expect(ControlCommand.names.contains(request.command.name))
            case .failure(let failure): #expect(!failure.error.message.isEmpty)
            }
        }
    }
}

@Suite("Daemon messages")
struct ControlMessageTests {
    @Test func repliesEventsAndMarkersDecode() throws {
        let result = StartResult(conversationID: "conv_1", inputFormat: "pcm_16000", outputFormat: "pcm_16000")
        guard case .reply("1", let decoded) = try ControlCodec.decodeMessage(ControlCodec.reply(id: "1", result: result), result: StartResult.self) else {
            Issue.record("not a reply")
            return
        }
        #expect(decoded == result)
        let error = ControlError(.noConversation, "no conversation is running")
        guard case .failure("2", let decodedError) = try ControlCodec.decodeMessage(ControlCodec.failure(id: "2", error), result: ControlCodec.Empty.self) else {
            Issue.record("not a failure")
            return
        }
        #expect(decodedError == error)
        let event = ControlEvent(seq: 3, time: "2026-11-25T10:00:00.000Z", type: "agent_response", conversationID: "c", text: "Hi", fields: ["event_id": "4"])
        guard case .event(let decodedEvent) = try ControlCodec.decodeMessage(ControlCodec.event(event), result: ControlCodec.Empty.self) else {
            Issue.record("not an event")
            return
        }
        #expect(decodedEvent == event)
        guard case .overflow(37) = try ControlCodec.decodeMessage(ControlCodec.overflow(dropped: 37), result: ControlCodec.Empty.self) else {
            Issue.record("not an overflow marker")
            return
        }
    }

    @Test func eventsReadAsATranscript() {
        let user = ControlEvent(seq: 1, time: "t", type: "user_transcript", conversationID: nil, text: "hello")
        let ended = ControlEvent(seq: 2, time: "t", type: "ended", conversationID: nil, text: "the conversation was stopped", fields: ["reason": "stopped"])
        #expect(EventText.line(for: user) == "user: hello")
        #expect(EventText.line(for: ended) == "ended: the conversation was stopped: reason=stopped")
        let correction = ControlEvent(
            seq: 3, time: "t", type: "agent_response_correction", conversationID: nil, text: nil,
            fields: ["corrected": "Hello there", "original": #"Hello there, said "Ada""#, "event_id": "4"])
        #expect(EventText.line(for: correction) == #"agent_response_correction: corrected="Hello there" event_id=4 original="Hello there, said \"Ada\"""#)
    }
}

@Suite("Line framing")
struct LineFramerTests {
    @Test func splitsLinesAcrossReads() {
        var framer = LineFramer(maxLength: 100)
        #expect(framer.push(Array("ab".utf8)).isEmpty)
        #expect(framer.push(Array("c\nde\r\n\nf".utf8)) == [.line(Array("abc".utf8)), .line(Array("de".utf8))])
        #expect(framer.bufferedBytes == 1)
    }

    @Test func anOverlongLineIsRefusedOnceAndSkippedToItsNewline() {
        var framer = LineFramer(maxLength: 4)
        #expect(framer.push(Array("123456789".utf8)) == [.tooLong])
        #expect(framer.push(Array("still the same line\nok\n".utf8)) == [.line(Array("ok".utf8))])
        #expect(framer.bufferedBytes == 0)
    }
}

import ControlProtocol
import NIOConcurrencyHelpers
import Testing
@testable import voiceagentd

final class CapturingJournal: EventJournal {
    private let recorded = NIOLockedValueBox<[ControlEvent]>([])

    func record(_ event: ControlEvent) {
        recorded.withLockedValue { $0.append(event) }
    }

    var events: [ControlEvent] { recorded.withLockedValue { $0 } }
}

@Suite("The event log")
struct EventLogTests {
    @Test func keepsABoundedHistoryWithContiguousSequenceNumbers() async {
        let journal = CapturingJournal()
        let log = EventLog(journal: journal)
        for index in 0..<(EventLog.historyLimit + 10) {
            await log.append(type: "ping", conversationID: "c", text: String(index))
        }
        let history = await log.events(since: nil)
        #expect(history.count == EventLog.historyLimit)
        #expect(history.first?.seq == 11)
        #expect(zip(history, history.dropFirst()).allSatisfy { $1.seq == $0.seq + 1 })
        #expect(await log.events(since: UInt64(EventLog.historyLimit + 8)).map(\.seq) == [UInt64(EventLog.historyLimit + 9), UInt64(EventLog.historyLimit + 10)])
        #expect(journal.events.count == EventLog.historyLimit + 10, "the journal gets every event")
    }

    @Test func followersGetTheBacklogThenLiveEventsWithoutAGap() async {
        let log = EventLog(journal: CapturingJournal())
        await log.append(type: "a", conversationID: nil, text: nil)
        let (backlog, live) = await log.follow(since: nil)
        await log.append(type: "b", conversationID: nil, text: nil)
        var iterator = live.makeAsyncIterator()
        #expect(backlog.map(\.type) == ["a"])
        #expect(await iterator.next()?.seq == 2)
    }

    @Test func aSlowFollowerLosesItsOldestEventsNotMemory() async {
        let log = EventLog(journal: CapturingJournal())
        let (_, live) = await log.follow(since: nil)
        for _ in 0..<(EventLog.followerBuffer * 3) {
            await log.append(type: "ping", conversationID: nil, text: nil)
        }
        var iterator = live.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first?.seq == UInt64(EventLog.followerBuffer * 2 + 1), "the newest \(EventLog.followerBuffer) wait; the gap shows what was lost")
    }
}

@Suite("Journal entries")
struct JournalFieldTests {
    @Test func eventsCarryStructuredFields() {
        let event = ControlEvent(
            seq: 42, time: "2026-11-25T10:00:00.000Z", type: "client_tool_result", conversationID: "conv_1", text: "get_weather",
            fields: ["tool_call_id": "call_3", "is_error": "false"])
        let fields = Dictionary(JournalEventJournal.fields(for: event), uniquingKeysWith: { first, _ in first })
        #expect(fields["SYSLOG_IDENTIFIER"] == "voiceagentd")
        #expect(fields["PRIORITY"] == "6")
        #expect(fields["VOICEAGENT_EVENT"] == "client_tool_result")
        #expect(fields["VOICEAGENT_SEQ"] == "42")
        #expect(fields["VOICEAGENT_CONVERSATION_ID"] == "conv_1")
        #expect(fields["VOICEAGENT_TEXT"] == "get_weather")
        #expect(fields["VOICEAGENT_TOOL_CALL_ID"] == "call_3")
        #expect(fields["MESSAGE"] == "client_tool_result: get_weather: is_error=false tool_call_id=call_3")
    }

    @Test func aFailedConversationIsAWarning() {
        let ended = ControlEvent(seq: 1, time: "t", type: "ended", conversationID: "c", text: "lost", fields: ["error": "true", "reason": "network_error"])
        #expect(JournalEventJournal.fields(for: ended).first { $0.0 == "PRIORITY" }?.1 == "4")
    }

    @Test func speechReadsAsATranscript() {
        let said = ControlEvent(seq: 2, time: "t", type: "user_transcript", conversationID: "c", text: "hello")
        #expect(JournalEventJournal.fields(for: said).first { $0.0 == "MESSAGE" }?.1 == "user: hello")
    }
}

@Suite("Transcript privacy in the event log")
struct TranscriptPrivacyTests {
    func appendATurnAndAPing(to log: EventLog) async {
        await log.append(type: "user_transcript", conversationID: "c", text: "my address is 1 Main St", fields: ["event_id": "4"])
        await log.append(
            type: "agent_response_correction", conversationID: "c", text: nil,
            fields: ["corrected": "Your address", "original": "Your address is 1 Main St", "event_id": "5"])
        await log.append(type: "ping", conversationID: "c", text: nil, fields: ["latency_ms": "12"])
    }

    @Test func withheldEverywhereTheTurnStillRecorded() async {
        let journal = CapturingJournal()
        let log = EventLog(journal: journal, privacy: TranscriptPrivacy(logged: false, shownToClients: false))
        await appendATurnAndAPing(to: log)
        for events in [journal.events, await log.events(since: nil)] {
            #expect(events.map(\.type) == ["user_transcript", "agent_response_correction", "ping"])
            #expect(events[0].text == nil && events[0].fields == ["event_id": "4", "transcript": "withheld"])
            #expect(events[1].fields == ["event_id": "5", "transcript": "withheld"])
            #expect(events[2].fields == ["latency_ms": "12"], "events without speech are unchanged")
        }
        #expect(EventText.line(for: journal.events[0]) == "user_transcript: event_id=4 transcript=withheld")
    }

    @Test func shownToClientsButNotLogged() async {
        let journal = CapturingJournal()
        let log = EventLog(journal: journal, privacy: TranscriptPrivacy(logged: false, shownToClients: true))
        await appendATurnAndAPing(to: log)
        #expect(await log.events(since: nil).first?.text == "my address is 1 Main St")
        #expect(journal.events.first?.text == nil)
    }

    @Test func aReloadAppliesFromTheNextEvent() async {
        let journal = CapturingJournal()
        let log = EventLog(journal: journal)
        await log.append(type: "agent_response", conversationID: "c", text: "Hello")
        await log.setPrivacy(TranscriptPrivacy(logged: false, shownToClients: false))
        await log.append(type: "agent_response", conversationID: "c", text: "Goodbye")
        #expect(journal.events.map(\.text) == ["Hello", nil])
    }
}

import ControlProtocol
import Synchronization
import Testing
@testable import voiceagentd

final class CapturingJournal: EventJournal {
    private let recorded = Mutex<[ControlEvent]>([])

    func record(_ event: ControlEvent) {
        recorded.withLock { $0.append(event) }
    }

    var events: [ControlEvent] { recorded.withLock { $0 } }
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

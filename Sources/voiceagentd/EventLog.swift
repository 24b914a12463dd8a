import ControlProtocol
import DequeModule
import FoundationEssentials

/// The daemon's typed event history: a bounded ring for `events`, fan-out to
/// followers, and a copy of each event to the journal, each with what was
/// said only where the transcript privacy settings allow it.
///
/// Followers read through bounded buffers that drop their oldest events
/// when they fall behind; sequence numbers are contiguous, so a follower
/// sees the gap and reports how many it missed. Memory never grows with a
/// slow reader, and no reader slows the others or the audio.
actor EventLog {
    static let historyLimit = 2000
    static let followerBuffer = 512

    private var history = Deque<ControlEvent>()
    private var nextSeq: UInt64 = 1
    private var followers: [UUID: AsyncStream<ControlEvent>.Continuation] = [:]
    private let journal: any EventJournal
    private(set) var privacy: TranscriptPrivacy

    init(journal: any EventJournal, privacy: TranscriptPrivacy = .keepEverything) {
        self.journal = journal
        self.privacy = privacy
    }

    /// From the next event on (a reload).
    func setPrivacy(_ privacy: TranscriptPrivacy) {
        self.privacy = privacy
    }

    @discardableResult
    func append(type: String, conversationID: String?, text: String?, fields: [String: String] = [:]) -> ControlEvent {
        let said = ControlEvent(
            seq: nextSeq, time: Self.timestamp(), type: type, conversationID: conversationID, text: text, fields: fields)
        nextSeq += 1
        let event = privacy.shownToClients ? said : said.withoutSpeech
        if history.count == Self.historyLimit {
            history.removeFirst()
        }
        history.append(event)
        for follower in followers.values {
            follower.yield(event)
        }
        journal.record(privacy.logged ? said : said.withoutSpeech)
        return event
    }

    func events(since: UInt64?) -> [ControlEvent] {
        guard let since else { return Array(history) }
        return history.filter { $0.seq > since }
    }

    /// The history after `since`, then every new event, without a gap
    /// between the two.
    func follow(since: UInt64?) -> (backlog: [ControlEvent], live: AsyncStream<ControlEvent>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: ControlEvent.self, bufferingPolicy: .bufferingNewest(Self.followerBuffer))
        continuation.onTermination = { _ in
            Task { await self.unfollow(id) }
        }
        followers[id] = continuation
        return (events(since: since), stream)
    }

    private func unfollow(_ id: UUID) {
        followers[id] = nil
    }

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().timeZone(separator: .omitted).time(includingFractionalSeconds: true).timeSeparator(.colon))
    }
}

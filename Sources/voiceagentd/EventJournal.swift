import ControlProtocol
import CSystemd
import FoundationEssentials
import Logging

/// Where every conversation event is kept for `journalctl`.
protocol EventJournal: Sendable {
    func record(_ event: ControlEvent)
}

/// Writes structured journal entries from this process, so `_SYSTEMD_UNIT`
/// and our VOICEAGENT_* fields stay on them.
struct SystemdJournal: Sendable {
    /// Sends one entry; `fields` are names and values (values may hold
    /// newlines, which sd_journal_sendv carries unchanged).
    func send(_ fields: [(String, String)]) {
        var storage: [UInt8] = []
        var ranges: [Range<Int>] = []
        for (name, value) in fields {
            let start = storage.count
            storage.append(contentsOf: name.utf8)
            storage.append(UInt8(ascii: "="))
            storage.append(contentsOf: value.utf8)
            ranges.append(start..<storage.count)
        }
        storage.withUnsafeMutableBytes { raw in
            var vectors = ranges.map { iovec(iov_base: raw.baseAddress! + $0.lowerBound, iov_len: $0.count) }
            _ = sd_journal_sendv(&vectors, Int32(vectors.count))
        }
    }
}

/// Conversation events as journal entries with VOICEAGENT_* fields.
struct JournalEventJournal: EventJournal {
    let journal = SystemdJournal()

    func record(_ event: ControlEvent) {
        journal.send(Self.fields(for: event))
    }

    /// MESSAGE, PRIORITY and SYSLOG_IDENTIFIER, then VOICEAGENT_EVENT,
    /// _SEQ, _CONVERSATION_ID, _TEXT and one VOICEAGENT_* per event field.
    static func fields(for event: ControlEvent) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("MESSAGE", EventText.line(for: event)),
            ("PRIORITY", event.type == "ended" && event.fields["error"] == "true" ? "4" : "6"),
            ("SYSLOG_IDENTIFIER", "voiceagentd"),
            ("VOICEAGENT_EVENT", event.type),
            ("VOICEAGENT_SEQ", String(event.seq)),
        ]
        if let id = event.conversationID { fields.append(("VOICEAGENT_CONVERSATION_ID", id)) }
        if let text = event.text { fields.append(("VOICEAGENT_TEXT", text)) }
        for (key, value) in event.fields.sorted(by: { $0.key < $1.key }) {
            fields.append(("VOICEAGENT_" + key.uppercased(), value))
        }
        return fields
    }
}

/// Outside systemd, events go to the log like everything else; the
/// frequent bookkeeping ones only at debug level.
struct LoggerEventJournal: EventJournal {
    static let frequent: Set<String> = ["ping", "vad_score", "tentative_user_transcript", "agent_response_part"]

    let logger: Logger

    func record(_ event: ControlEvent) {
        logger.log(level: Self.frequent.contains(event.type) ? .debug : .info, "\(EventText.line(for: event))")
    }
}

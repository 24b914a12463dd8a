import ArgumentParser
import ControlProtocol
import FoundationEssentials

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the chat history of the conversation under way, or of the last one.",
        discussion: """
            One line a turn. A corrected agent turn shows the correction and what it replaced; an \
            interrupted one shows how much of it was played before it was cut, and the words \
            played where the agent's service sends their timing.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print the history as JSON.") var json = false

    func run() throws {
        try connection.show(.history, answer: HistoryReport.self, json: json) { HistoryText($0).lines }
    }
}

/// `history` for a person.
struct HistoryText {
    let history: HistoryReport

    init(_ history: HistoryReport) {
        self.history = history
    }

    var lines: [String] {
        guard !history.turns.isEmpty || history.conversationID != nil else { return ["no conversation yet"] }
        let which = history.current ? "under way" : "ended"
        var lines = ["conversation \(history.conversationID ?? "(not accepted)"), \(which), \(history.turns.count) turns"]
        lines += history.turns.map(line)
        return lines
    }

    private func line(_ turn: HistoryReport.Turn) -> String {
        var line = "\(turn.role == "agent" ? "agent" : "user "): \(turn.text ?? "(not shown: transcripts are withheld)")"
        if let original = turn.originalText {
            line += "  [corrected from: \(original)]"
        }
        if let spokenMs = turn.spokenMs {
            let seconds = (Double(spokenMs) / 100).rounded() / 10
            let heard = turn.spokenText.map { $0.isEmpty ? "" : ", heard: \($0)" } ?? ""
            line += spokenMs == 0 ? "  [interrupted before any of it was heard]" : "  [interrupted after \(seconds) s\(heard)]"
        }
        return line
    }
}

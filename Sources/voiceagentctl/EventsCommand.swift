import ArgumentParser
import ControlProtocol
import FoundationEssentials

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the event log: what was said, interruptions, tool calls, errors.",
        discussion: "The daemon keeps the most recent events in memory; journalctl -u voiceagentd keeps them all.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(name: .shortAndLong, help: "Keep printing new events as they happen.") var follow = false
    @Flag(help: "Print JSON lines.") var json = false
    @Option(help: "Only events after this sequence number.") var since: UInt64?

    func run() throws {
        let client = try connection.connect()
        let options = EventsOptions(since: since, follow: follow)
        if !follow {
            let events = try Failure.exiting { () throws(ClientFailure) in try client.call(.events(options), expecting: [ControlEvent].self) }
            (events ?? []).forEach(show)
            return
        }
        try Failure.exiting { () throws(ClientFailure) in
            try client.send(ControlRequest(id: "follow", command: .events(options)))
            while let line = try client.nextLine() {
                let message: ControlCodec.Message<ControlCodec.Empty>
                do {
                    message = try ControlCodec.decodeMessage(line, result: ControlCodec.Empty.self)
                } catch {
                    throw .io("the daemon sent a line this client does not understand: \(error)")
                }
                switch message {
                case .event(let event): show(event)
                case .overflow(let dropped):
                    if json {
                        emit(#"{"overflow":{"dropped":\#(dropped)}}"#)
                    } else {
                        note("… \(dropped) events skipped: this reader fell behind")
                    }
                case .failure(_, let error): throw .refused(error)
                case .reply: continue
                }
            }
            // The daemon stopped: the end of what there is to follow.
            note("voiceagentd closed the connection")
        }
    }

    private func show(_ event: ControlEvent) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            emit(String(decoding: (try? encoder.encode(event)) ?? Data(), as: UTF8.self))
        } else {
            let clock = event.time.split(separator: "T").last.map { String($0.prefix(8)) } ?? event.time
            emit("\(clock) #\(event.seq) \(EventText.line(for: event))")
        }
    }

    private func note(_ text: String) {
        if json {
            StandardStream.error.writeLine("voiceagentctl: \(text)")
        } else {
            emit(text)
        }
    }

    private func emit(_ line: String) {
        StandardStream.output.writeLine(line)
    }
}

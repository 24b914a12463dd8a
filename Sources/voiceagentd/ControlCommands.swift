import AgentSession
import ControlProtocol
import FoundationEssentials

/// Carries out control requests against the supervisor and the event log,
/// and encodes their answers.
struct ControlCommands: Sendable {
    let supervisor: ConversationSupervisor
    let events: EventLog

    /// The answer to every command but `events --follow`.
    func execute(_ request: ControlRequest) async -> Data {
        if let refusal = await supervisor.configurationRefusal {
            return ControlCodec.failure(id: request.id, refusal)
        }
        do {
            switch request.command {
            case .start(let options):
                return ControlCodec.reply(id: request.id, result: try await supervisor.start(options))
            case .stop:
                try await supervisor.stop()
            case .interrupt:
                try await supervisor.interrupt()
            case .status:
                return ControlCodec.reply(id: request.id, result: await supervisor.status())
            case .history:
                return ControlCodec.reply(id: request.id, result: await supervisor.history())
            case .devices:
                return ControlCodec.reply(id: request.id, result: await supervisor.devices())
            case .events(let options):
                return ControlCodec.reply(id: request.id, result: await events.events(since: options.since))
            case .say(let text):
                try await supervisor.send(.userMessage(text: text))
            case .context(let text):
                try await supervisor.send(.contextualUpdate(text: text))
            case .mute:
                await supervisor.setMuted(true)
            case .unmute:
                await supervisor.setMuted(false)
            case .feedback(let liked):
                try await supervisor.rateLastResponse(liked: liked)
            }
            return ControlCodec.reply(id: request.id)
        } catch {
            return ControlCodec.failure(id: request.id, error)
        }
    }

    /// `events --follow`: the history after `since`, then every new event as
    /// it happens, with an overflow marker wherever this reader fell behind.
    func follow(_ request: ControlRequest, since: UInt64?, write: (Data) async throws -> Void) async throws {
        if let refusal = await supervisor.configurationRefusal {
            try await write(ControlCodec.failure(id: request.id, refusal))
            return
        }
        let (backlog, live) = await events.follow(since: since)
        try await write(ControlCodec.reply(id: request.id))
        var last = backlog.last?.seq
        for event in backlog {
            try await write(ControlCodec.event(event))
        }
        for await event in live {
            if let last, event.seq > last + 1 {
                try await write(ControlCodec.overflow(dropped: Int(event.seq - last - 1)))
            }
            last = event.seq
            try await write(ControlCodec.event(event))
        }
    }
}

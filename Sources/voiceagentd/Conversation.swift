import AgentSession
import AudioEngine
import ControlProtocol
import DaemonSettings
import Foundation
import Logging
import Synchronization

/// One conversation from `start` until its sound card is closed: the
/// session, the audio engine opened for it, both audio directions and the
/// forwarding of its events, as children of one task group. It is built on
/// every `start` from the configuration of that moment and keeps it.
final class Conversation: Sendable {
    /// How long the agent's last words may play after it ends the call.
    static let goodbyeLimit = Duration.seconds(10)

    let configuration: DaemonConfiguration
    let agentID: String
    let startedAt = ContinuousClock.now
    let engine: AudioEngine
    private let session: AgentSession
    /// Sent as soon as the agent accepts (a carried-over context).
    private let opening: ClientMessage?
    private let events: EventLog
    private let logger: Logger
    private let capture: (stream: AsyncStream<Data>, continuation: AsyncStream<Data>.Continuation)
    private let state = Mutex(State())

    private struct State {
        var conversationID: String?
        /// Told once: when the agent accepts, or why it did not.
        var startWaiter: (@Sendable (Result<StartResult, ControlError>) -> Void)?
    }

    init(
        configuration: DaemonConfiguration, session sessionConfiguration: AgentSessionConfiguration, opening: ClientMessage? = nil,
        muted: Bool, events: EventLog, logger: Logger
    ) {
        self.configuration = configuration
        self.opening = opening
        agentID = sessionConfiguration.endpoint.agentID
        self.events = events
        self.logger = logger
        engine = AudioEngine(configuration: configuration.audio, muted: muted) { event in
            Task { await events.record(audioEvent: event) }
        }
        capture = AsyncStream.makeStream(of: Data.self, bufferingPolicy: .bufferingNewest(50))
        session = AgentSession(
            configuration: sessionConfiguration, audioSink: ConversationAudio(engine: engine, capture: capture.continuation),
            toolRunner: ClientToolDirectory(directory: configuration.toolsDirectory), logger: logger)
    }

    /// Runs the conversation to its end and closes the sound card. `started`
    /// is called once: when the agent accepts, or with why it could not.
    func run(started: @escaping @Sendable (Result<StartResult, ControlError>) -> Void) async -> EndReason {
        state.withLock { $0.startWaiter = started }
        let reason = await withTaskGroup(of: EndReason?.self) { group in
            group.addTask {
                await self.session.streamUserAudio(self.capture.stream)
                return nil
            }
            group.addTask {
                await self.forwardEvents()
                return nil
            }
            group.addTask { await self.session.run() }
            var reason = EndReason.stoppedByClient
            for await case let ended? in group {
                reason = ended
                capture.continuation.finish()
            }
            return reason
        }
        if case .closedByServer = reason, !reason.isError {
            // The agent ended the call: its goodbye plays out.
            await engine.drain(atMost: Self.goodbyeLimit)
        }
        await engine.close()
        let waiter = state.withLock { $0.startWaiter.take() }
        let code: ControlError.Code = if case .audioUnavailable = reason { .audioDevice } else { .startFailed }
        waiter?(.failure(ControlError(code, reason.explanation)))
        return reason
    }

    /// Ends the conversation with a close frame; a goodbye still playing is cut.
    func stop() async {
        await session.stop()
        await engine.close()
    }

    func interrupt() async {
        await session.interrupt()
    }

    func send(_ message: ClientMessage) async throws(ControlError) {
        do {
            try await session.send(message)
        } catch .notActiveYet {
            throw ControlError(.noConversation, AgentSessionError.notActiveYet.description)
        } catch {
            throw ControlError(.noConversation, "the conversation is ending; start a new one")
        }
    }

    func rateLastResponse(liked: Bool) async throws(ControlError) {
        do {
            try await session.sendFeedback(liked ? .like : .dislike)
        } catch {
            switch error {
            case .nothingToRate, .alreadyRated: throw ControlError(.nothingToRate, error.description)
            case .notActiveYet: throw ControlError(.noConversation, error.description)
            default: throw ControlError(.noConversation, "the conversation is ending; start a new one")
            }
        }
    }

    var conversationID: String? { state.withLock { $0.conversationID } }

    /// `connecting`, `active` or `ending`: what `status` shows.
    /// An ended session means the sound card is finishing: still `ending`.
    func phase() async -> String {
        let phase = await session.snapshot.phase
        return phase == "ended" ? "ending" : phase
    }

    var sessionSnapshot: SessionSnapshot {
        get async { await session.snapshot }
    }

    private func forwardEvents() async {
        for await event in session.events {
            if case .connected(let metadata) = event.kind {
                accepted(metadata)
                await sendOpening()
            }
            let record = EventRecord(event.kind)
            await events.append(type: event.kind.name, conversationID: conversationID, text: record.text, fields: record.fields)
        }
    }

    private func sendOpening() async {
        guard let opening else { return }
        do {
            try await session.send(opening)
        } catch {
            logger.warning("could not tell the new conversation of the lost one: \(error.description)")
        }
    }

    /// The agent accepted and the sound card is open in its formats.
    private func accepted(_ metadata: InitiationMetadata) {
        let waiter = state.withLock { state in
            state.conversationID = metadata.conversationID
            return state.startWaiter.take()
        }
        waiter?(
            .success(
                StartResult(
                    conversationID: metadata.conversationID, inputFormat: metadata.userInputAudioFormat.description,
                    outputFormat: metadata.agentOutputAudioFormat.description)))
    }
}

/// The session's view of the sound card: opening it starts the microphone.
struct ConversationAudio: AgentAudioSink {
    let engine: AudioEngine
    let capture: AsyncStream<Data>.Continuation

    func open(input: AudioFormat, output: AudioFormat) async throws {
        try await engine.open(input: input, output: output) { chunk in
            capture.yield(chunk)
        }
    }

    func play(_ chunk: AgentAudioChunk) {
        engine.play(chunk.samples, format: chunk.format)
    }

    func discard(frames: Int, reason: DropReason) {
        engine.discard(frames: frames, reason: reason)
    }

    func stopPlayback() {
        engine.stopPlayback()
    }
}

extension EventLog {
    func record(audioEvent: AudioEngineEvent) {
        switch audioEvent {
        case .deviceLost(let device, let reason):
            append(type: "audio_device_lost", conversationID: nil, text: reason, fields: ["device": device])
        case .deviceRestored(let device):
            append(type: "audio_device_restored", conversationID: nil, text: nil, fields: ["device": device])
        }
    }
}

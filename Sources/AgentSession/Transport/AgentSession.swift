import FoundationEssentials
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOConcurrencyHelpers
import NIOWebSocket
import Synchronization
import WSClient

/// One conversation with an agent: connects, speaks the protocol, hands
/// agent audio to a sink, runs client tools, and logs typed events.
///
/// The conversation logic lives in `ConversationStateMachine`; this actor
/// performs its actions on the socket. Everything the session starts (the
/// connection, its deadlines, tool calls) runs as a child of one task group
/// in `run`, so nothing outlives the conversation.
public actor AgentSession {
    public nonisolated let events: AsyncStream<SessionEvent>
    private let eventSink: AsyncStream<SessionEvent>.Continuation
    private let jobs: AsyncStream<Job>
    private let jobSink: AsyncStream<Job>.Continuation
    private let configuration: AgentSessionConfiguration
    private let audioSink: any AgentAudioSink
    private let tools: ToolInvocation
    private let logger: Logger
    private nonisolated let socketExecutor: EventLoopTaskExecutor

    private var machine = ConversationStateMachine() {
        didSet { updateAudioOutlet() }
    }
    private var nextSeq: UInt64 = 1
    private var outbound: WebSocketOutboundWriter? {
        didSet { updateAudioOutlet() }
    }
    /// The socket while the conversation is active: microphone chunks go
    /// out through it without a hop onto this actor, fifty times a second.
    private nonisolated let audioOutlet = NIOLockedValueBox<WebSocketOutboundWriter?>(nil)
    private nonisolated let userAudioChunksSent = Atomic(0)
    private var lastServerError: ServerErrorEvent?
    /// Set when we close because the server broke the protocol.
    private var protocolFailure: String?
    /// Where the connection is: what a deadline names when it passes.
    private var step = ConnectStep.conversationURL
    /// When the server last sent anything.
    private var lastHeard = ContinuousClock.now
    /// The agent response last rated: each is rated once.
    private var lastRated: EventID?

    private enum ConnectStep {
        case conversationURL, socket, metadata
    }

    /// Work for the session's task group.
    private struct Job: Sendable {
        let onSocketLoop: Bool
        let operation: @Sendable () async -> Void
    }

    public init(
        configuration: AgentSessionConfiguration,
        audioSink: any AgentAudioSink,
        toolRunner: any ClientToolRunner = NoClientTools(),
        logger: Logger = Logger(label: "AgentSession")
    ) {
        (events, eventSink) = AsyncStream.makeStream(of: SessionEvent.self)
        (jobs, jobSink) = AsyncStream.makeStream(of: Job.self)
        self.configuration = configuration
        self.audioSink = audioSink
        self.tools = ToolInvocation(runner: toolRunner, timeout: configuration.toolTimeout)
        socketExecutor = EventLoopTaskExecutor(configuration.eventLoop ?? MultiThreadedEventLoopGroup.singleton.next())
        self.logger = logger
    }

    /// Connects and holds the conversation until it ends, for whatever reason.
    public func run() async -> EndReason {
        if let reason = machine.endReason { return reason }
        guard machine.phase == .idle else { return .protocolError("this session is already running") }
        await perform(machine.startConnecting(agentID: configuration.endpoint.agentID))
        let timeout = configuration.connectTimeout
        schedule(onSocketLoop: true) { await self.connectAndServe() }
        schedule {
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            await self.connectDeadlinePassed(timeout)
        }
        await withDiscardingTaskGroup { group in
            for await job in jobs {
                if job.onSocketLoop {
                    group.addTask(executorPreference: socketExecutor, operation: job.operation)
                } else {
                    group.addTask(operation: job.operation)
                }
            }
            group.cancelAll()
        }
        return machine.endReason ?? .stoppedByClient
    }

    /// Ends the conversation: a close frame, then the server's answer or the
    /// close timeout. During connect it gives up at once.
    public func stop() async {
        switch machine.phase {
        case .idle:
            await finish(.stoppedByClient)
        case .connecting where outbound == nil:
            _ = machine.stopRequested()
            await finish(.stoppedByClient)
        case .connecting, .active:
            _ = machine.stopRequested()
            let bound = configuration.closeTimeout + .seconds(1)
            schedule {
                guard (try? await Task.sleep(for: bound)) != nil else { return }
                await self.finish(.stoppedByClient)
            }
            try? await outbound?.close(.normalClosure, reason: nil)
        case .ending, .ended:
            break
        }
    }

    /// Silences the agent now and drops the rest of its current reply.
    public func interrupt() async {
        await perform(machine.interruptLocally())
    }

    /// Streams microphone samples in the negotiated input format. Returns
    /// false when there is no active conversation to send them to.
    @discardableResult
    public nonisolated func sendUserAudio(_ samples: Data) async -> Bool {
        guard let outbound = audioOutlet.withLockedValue({ $0 }) else { return false }
        userAudioChunksSent.add(1, ordering: .relaxed)
        do {
            try await outbound.write(.text(ClientMessage.userAudioChunk(samples).frameText()))
        } catch {
            logger.debug("could not send user_audio_chunk", metadata: ["error": "\(error)"])
        }
        return true
    }

    /// Streams microphone chunks until `chunks` ends. It runs on the socket's
    /// event loop and never waits for the actor: a chunk goes from the
    /// capture thread to the socket with one thread switch, where a hop
    /// through the shared pool or the actor's queue costs more each time.
    public nonisolated func streamUserAudio(_ microphone: MicrophoneChunks) async {
        await withTaskExecutorPreference(socketExecutor) {
            for await chunk in microphone.chunks where await sendUserAudio(chunk.samples) {
                SessionMetrics.sent(afterCapture: ContinuousClock.now - chunk.capturedAt)
            }
        }
    }

    /// Sends a user-side message (text, contextual update, activity, feedback).
    public func send(_ message: ClientMessage) async throws(AgentSessionError) {
        guard machine.isActive, outbound != nil else {
            throw machine.isConnecting ? .notActiveYet : .notActive
        }
        switch message {
        case .userAudioChunk: userAudioChunksSent.add(1, ordering: .relaxed)
        case .userMessage: machine.userMessageSent()
        default: break
        }
        await write(message)
    }

    /// Rates the agent's last response (the protocol's `feedback`, by its
    /// event id); a response is rated once.
    public func sendFeedback(_ score: FeedbackScore) async throws(AgentSessionError) {
        guard let eventID = machine.history.turns.last(where: { $0.role == .agent })?.eventID else { throw .nothingToRate }
        guard eventID != lastRated else { throw .alreadyRated }
        try await send(.feedback(eventID: eventID, score: score))
        lastRated = eventID
    }

    public var snapshot: SessionSnapshot {
        var counters = machine.counters
        counters.userAudioChunksSent = userAudioChunksSent.load(ordering: .relaxed)
        return SessionSnapshot(
            phase: machine.phase.name,
            conversationID: machine.metadata?.conversationID,
            inputFormat: machine.metadata?.userInputAudioFormat,
            outputFormat: machine.metadata?.agentOutputAudioFormat,
            latency: machine.latency,
            history: machine.history.turns,
            counters: counters,
            endReason: machine.endReason,
            vadScore: machine.lastVADScore
        )
    }

    private func updateAudioOutlet() {
        let open = machine.isActive ? outbound : nil
        audioOutlet.withLockedValue { $0 = open }
    }

    private func schedule(onSocketLoop: Bool = false, _ operation: @escaping @Sendable () async -> Void) {
        jobSink.yield(Job(onSocketLoop: onSocketLoop, operation: operation))
    }

    // MARK: - Connection

    private func connectAndServe() async {
        let url: String
        do {
            step = .conversationURL
            url = try await conversationURL()
        } catch let error as SignedURLError {
            await finish(error.wouldRepeat ? .refused(error.description) : .connectionFailed(error.description))
            return
        } catch {
            await finish(.refused(String(describing: error)))
            return
        }
        guard machine.isConnecting, !Task.isCancelled else { return }
        step = .socket
        let socketConfiguration = WebSocketClientConfiguration(
            maxFrameSize: AgentSessionConfiguration.maxFrameSize,
            closeTimeout: configuration.closeTimeout,
            autoPing: .enabled(timePeriod: configuration.silenceTimeout)
        )
        do {
            let closeFrame = try await WebSocketClient.connect(
                url: url,
                configuration: socketConfiguration,
                tlsConfiguration: try tlsConfiguration(),
                eventLoopGroup: socketExecutor.eventLoop,
                logger: logger
            ) { inbound, outbound, _ in
                try await self.serve(inbound: inbound, outbound: outbound)
            }
            await finish(reasonForClose(closeFrame))
        } catch {
            logger.debug("the conversation's connection failed", metadata: ["error": "\(String(reflecting: error))"])
            await finish(reasonForFailure(error, url: url))
        }
    }

    private func conversationURL() async throws -> String {
        guard let apiKey = configuration.apiKey else {
            return configuration.endpoint.publicConversationURL
        }
        let client = SignedURLClient(
            endpoint: configuration.endpoint,
            tlsConfiguration: try tlsConfiguration(),
            timeout: configuration.connectTimeout,
            logger: logger
        )
        return try await client.fetchConversationURL(apiKey: apiKey)
    }

    private func tlsConfiguration() throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = configuration.extraTrustedCAFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw AgentSessionError.unreadableCAFile(caFile)
            }
            tls.additionalTrustRoots = [.file(caFile)]
        }
        return tls
    }

    /// The receive loop. Frames are decoded here, off the actor, and handled
    /// on it one at a time, in order: the next frame waits until the one
    /// before has been acted on (the sound card opened, the audio queued).
    private nonisolated func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        guard await socketOpened(outbound) else { return }
        for try await frame in inbound.messages(maxSize: AgentSessionConfiguration.maxFrameSize) {
            switch frame {
            case .text(let text) where text.utf8.count > AgentSessionConfiguration.maxMessageSize:
                await refuseOversizedMessage(bytes: text.utf8.count)
                return
            case .text(let text):
                do {
                    await handle(try ServerMessage.decode(Data(text.utf8)))
                } catch {
                    await handleInvalid(error)
                }
            case .binary(let buffer):
                await handleInvalid(.binaryFrame(bytes: buffer.readableBytes))
            }
        }
    }

    /// Like the official SDK, close with 1009; unlike it, say why.
    private func refuseOversizedMessage(bytes: Int) async {
        protocolFailure = "the server sent a message over the 16 MiB limit (\(bytes) bytes); voiceagentd closed the connection with 1009"
        try? await outbound?.close(.messageTooLarge, reason: "message too large")
    }

    private func socketOpened(_ writer: WebSocketOutboundWriter) async -> Bool {
        guard machine.isConnecting, !Task.isCancelled else { return false }
        outbound = writer
        step = .metadata
        lastHeard = .now
        let silence = configuration.silenceTimeout
        schedule { await self.watchForSilence(silence) }
        await perform(machine.socketOpened(initiation: configuration.initiation))
        return true
    }

    /// Ends the conversation when the server has sent nothing for `limit`:
    /// without this a link that died without a reset is noticed only when
    /// TCP gives up, minutes later.
    private func watchForSilence(_ limit: Duration) async {
        while machine.endReason == nil {
            // Until the agent accepts, the connect deadline is the one that counts.
            let deadline = machine.isActive ? lastHeard + limit : ContinuousClock.now + limit
            if machine.isActive, ContinuousClock.now >= deadline {
                await finish(.networkError("nothing came from \(serverPlace) for \(limit), not even a ping: the network is down or the connection is dead"))
                try? await outbound?.close(.goingAway, reason: "no answer")
                return
            }
            guard (try? await Task.sleep(until: deadline)) != nil else { return }
        }
    }

    private func handle(_ message: ServerMessage) async {
        lastHeard = .now
        if case .error(let error) = message {
            lastServerError = error
        }
        await perform(machine.received(message))
    }

    private func handleInvalid(_ error: ServerMessageError) async {
        lastHeard = .now
        logger.debug("unusable frame from the server", metadata: ["error": "\(error)"])
        await perform(machine.receivedInvalid(error))
    }

    private func connectDeadlinePassed(_ timeout: Duration) async {
        guard machine.isConnecting else { return }
        let what =
            switch step {
            case .conversationURL: "the signed-URL request to \(serverPlace) did not finish"
            case .socket: "connecting to \(serverPlace) (TCP, TLS and the WebSocket upgrade) did not finish"
            case .metadata: "\(serverPlace) accepted the connection but the agent sent no conversation_initiation_metadata"
            }
        await finish(.connectionFailed("\(what) within \(timeout) (connect.timeout.ms)"))
    }

    /// host:port of the service, for sentences.
    private var serverPlace: String {
        let url = configuration.endpoint.baseURL
        return NetworkFailure.place(host: url.host ?? "the agent's server", port: url.port ?? (url.scheme == "https" ? 443 : 80))
    }

    private func reasonForClose(_ frame: WebSocketCloseFrame?) -> EndReason {
        if case .ending = machine.phase { return .stoppedByClient }
        if let protocolFailure { return .protocolError(protocolFailure) }
        guard let frame else {
            return outbound == nil
                ? .connectionFailed("the server closed the connection before the WebSocket opened")
                : .networkError("the connection closed without a close frame")
        }
        return .closedByServer(code: Int(UInt16(webSocketErrorCode: frame.closeCode)), reason: frame.reason, error: lastServerError)
    }

    private func reasonForFailure(_ error: any Error, url: String) -> EndReason {
        if case .ending = machine.phase { return .stoppedByClient }
        if let protocolFailure { return .protocolError(protocolFailure) }
        let opened = outbound != nil
        switch error {
        case let error as WebSocketClientError where error == .webSocketUpgradeFailed:
            guard configuration.apiKey == nil else {
                return .connectionFailed("the server refused the conversation's signed URL (it may have expired); try again")
            }
            return .refused(
                "the server refused the conversation: agent '\(configuration.endpoint.agentID)' is private and no API key is set (put it in /etc/voiceagentd/api-key, or ELEVENLABS_API_KEY), or no agent has that id")
        case let error as WebSocketClientError where error == .serverSentMessageTooLarge:
            return .protocolError("the server sent a message over the 16 MiB limit")
        case let error as WebSocketClientError:
            return .protocolError(error.description)
        case let error as AgentSessionError:
            return .refused(error.description)
        default:
            let url = URLComponents(string: url)
            let secure = url?.scheme == "wss"
            let sentence = NetworkFailure(error, host: url?.host ?? "the agent", port: url?.port ?? (secure ? 443 : 80)).description
            return opened ? .networkError(sentence) : .connectionFailed(sentence)
        }
    }

    /// Ends the session once: the event stream closes, the task group's
    /// remaining children are cancelled, and `run` returns.
    private func finish(_ reason: EndReason) async {
        guard machine.endReason == nil else { return }
        await perform(machine.ended(reason))
        outbound = nil
        logger.debug("conversation ended", metadata: ["reason": "\(reason.explanation)"])
        eventSink.finish()
        jobSink.finish()
    }

    // MARK: - Actions

    private func perform(_ actions: [ConversationStateMachine.Action]) async {
        for action in actions {
            switch action {
            case .openAudio(let input, let output):
                do {
                    try await audioSink.open(input: input, output: output)
                } catch {
                    await finish(.audioUnavailable(String(describing: error)))
                    try? await outbound?.close(.goingAway, reason: "audio device unavailable")
                    return
                }
            case .send(let message):
                await write(message)
            case .play(let chunk):
                audioSink.play(chunk)
            case .discard(let frames, let reason):
                audioSink.discard(frames: frames, reason: reason)
            case .stopPlayback:
                machine.playbackStopped(unplayedFrames: audioSink.stopPlayback())
            case .emit(let kind):
                eventSink.yield(SessionEvent(seq: nextSeq, time: Date(), kind: kind))
                nextSeq += 1
            case .runTool(let call):
                schedule {
                    let began = ContinuousClock.now
                    let result = await self.tools.answer(call)
                    SessionMetrics.toolAnswered(isError: result.isError, after: ContinuousClock.now - began)
                    await self.toolFinished(result)
                }
            }
        }
    }

    private func toolFinished(_ result: ClientToolResult) async {
        await perform(machine.toolFinished(result))
    }

    private func write(_ message: ClientMessage) async {
        guard let outbound else { return }
        do {
            try await outbound.write(.text(try message.frameText()))
        } catch {
            logger.debug("could not send \(message.type ?? "user_audio_chunk")", metadata: ["error": "\(error)"])
        }
    }
}

public enum AgentSessionError: Error, Sendable, Equatable, CustomStringConvertible {
    case notActive
    case notActiveYet
    case unreadableCAFile(String)
    case nothingToRate
    case alreadyRated

    public var description: String {
        switch self {
        case .nothingToRate: "the agent has not responded yet: there is nothing to rate"
        case .alreadyRated: "the agent's last response is already rated; rate the next one"
        case .notActive: "no conversation is active"
        case .notActiveYet: "the conversation is still connecting; try again once it has started"
        case .unreadableCAFile(let path): "the extra CA file '\(path)' cannot be read (extra.ca.file)"
        }
    }
}

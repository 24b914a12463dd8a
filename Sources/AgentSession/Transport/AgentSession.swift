import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOWebSocket
import WSClient

/// One conversation with an agent: connects, speaks the protocol, hands
/// agent audio to a sink, runs client tools, and logs typed events.
///
/// The conversation logic lives in `ConversationStateMachine`; this actor
/// performs its actions on the socket.
public actor AgentSession {
    public nonisolated let events: AsyncStream<SessionEvent>
    private let eventSink: AsyncStream<SessionEvent>.Continuation
    private let configuration: AgentSessionConfiguration
    private let audioSink: any AgentAudioSink
    private let tools: ToolInvocation
    private let logger: Logger
    private nonisolated let socketExecutor = EventLoopTaskExecutor(MultiThreadedEventLoopGroup.singleton.next())

    private var machine = ConversationStateMachine()
    private var nextSeq: UInt64 = 1
    private var outbound: WebSocketOutboundWriter?
    private var lastServerError: ServerErrorEvent?
    /// Set when we close because the server broke the protocol.
    private var protocolFailure: String?
    private var completion: CheckedContinuation<EndReason, Never>?
    private var background: [Task<Void, Never>] = []
    private var toolTasks: [String: Task<Void, Never>] = [:]

    public init(
        configuration: AgentSessionConfiguration,
        audioSink: any AgentAudioSink,
        toolRunner: any ClientToolRunner = NoClientTools(),
        logger: Logger = Logger(label: "AgentSession")
    ) {
        (events, eventSink) = AsyncStream.makeStream(of: SessionEvent.self)
        self.configuration = configuration
        self.audioSink = audioSink
        self.tools = ToolInvocation(runner: toolRunner, timeout: configuration.toolTimeout)
        self.logger = logger
    }

    /// Connects and holds the conversation until it ends, for whatever reason.
    public func run() async -> EndReason {
        if let reason = machine.endReason { return reason }
        guard machine.phase == .idle else { return .protocolError("this session is already running") }
        await perform(machine.startConnecting(agentID: configuration.endpoint.agentID))
        let timeout = configuration.connectTimeout
        return await withCheckedContinuation { continuation in
            completion = continuation
            background.append(Task(executorPreference: socketExecutor) { await self.connectAndServe() })
            background.append(
                Task {
                    try? await Task.sleep(for: timeout)
                    await self.connectDeadlinePassed(timeout)
                })
        }
    }

    /// Ends the conversation: a close frame, then the server's answer or the
    /// close timeout. During connect it gives up at once.
    public func stop() async {
        switch machine.phase {
        case .idle:
            _ = machine.ended(.stoppedByClient)
            eventSink.finish()
        case .connecting where outbound == nil:
            _ = machine.stopRequested()
            await finish(.stoppedByClient)
        case .connecting, .active:
            _ = machine.stopRequested()
            let bound = configuration.closeTimeout + .seconds(1)
            background.append(
                Task {
                    try? await Task.sleep(for: bound)
                    await self.finish(.stoppedByClient)
                })
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
    public func sendUserAudio(_ samples: Data) async -> Bool {
        guard machine.phase == .active, outbound != nil else { return false }
        machine.userAudioSent()
        await write(.userAudioChunk(samples))
        return true
    }

    /// Streams microphone chunks until `chunks` ends. It runs on the socket's
    /// event loop: a chunk goes from the capture thread to the socket with
    /// one thread switch, where a hop through the shared pool costs another
    /// wake-up fifty times a second.
    public nonisolated func streamUserAudio(_ chunks: AsyncStream<Data>) async {
        await withTaskExecutorPreference(socketExecutor) {
            for await chunk in chunks {
                await sendUserAudio(chunk)
            }
        }
    }

    /// Sends a user-side message (text, contextual update, activity, feedback).
    public func send(_ message: ClientMessage) async throws(AgentSessionError) {
        guard machine.phase == .active, outbound != nil else { throw .notActive }
        if case .userAudioChunk = message {
            machine.userAudioSent()
        }
        await write(message)
    }

    public var snapshot: SessionSnapshot {
        SessionSnapshot(
            phase: machine.phase.rawValue,
            conversationID: machine.metadata?.conversationID,
            inputFormat: machine.metadata?.userInputAudioFormat,
            outputFormat: machine.metadata?.agentOutputAudioFormat,
            latency: machine.latency,
            history: machine.history.turns,
            counters: machine.counters,
            endReason: machine.endReason
        )
    }

    // MARK: - Connection

    private func connectAndServe() async {
        let url: String
        do {
            url = try await conversationURL()
        } catch {
            await finish(.connectionFailed(String(describing: error)))
            return
        }
        guard machine.phase == .connecting, !Task.isCancelled else { return }
        // Headroom over the message limit lets a message just over it be
        // refused with a reason, not by the frame decoder's bare disconnect.
        let socketConfiguration = WebSocketClientConfiguration(
            maxFrameSize: AgentSessionConfiguration.maxMessageSize + (64 << 10),
            closeTimeout: configuration.closeTimeout
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
            await finish(reasonForFailure(error))
        }
    }

    private func conversationURL() async throws -> String {
        guard let apiKey = configuration.apiKey else {
            return configuration.endpoint.publicConversationURL
        }
        let client = SignedURLClient(
            endpoint: configuration.endpoint,
            tlsConfiguration: try tlsConfiguration(),
            timeout: configuration.connectTimeout
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
    /// on it one at a time, in order.
    private nonisolated func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        guard await socketOpened(outbound) else { return }
        for try await frame in inbound.messages(maxSize: AgentSessionConfiguration.maxMessageSize) {
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
        protocolFailure = "the server sent a message over the 16 MiB limit (\(bytes) bytes)"
        try? await outbound?.close(.messageTooLarge, reason: "message too large")
    }

    private func socketOpened(_ writer: WebSocketOutboundWriter) async -> Bool {
        guard machine.phase == .connecting, !Task.isCancelled else { return false }
        outbound = writer
        await perform(machine.socketOpened(initiation: configuration.initiation))
        return true
    }

    private func handle(_ message: ServerMessage) async {
        if case .error(let error) = message {
            lastServerError = error
        }
        await perform(machine.received(message))
    }

    private func handleInvalid(_ error: ServerMessageError) async {
        logger.debug("unusable frame from the server", metadata: ["error": "\(error)"])
        await perform(machine.receivedInvalid(error))
    }

    private func connectDeadlinePassed(_ timeout: Duration) async {
        guard machine.phase == .connecting else { return }
        await finish(.connectionFailed("the agent did not start a conversation within \(timeout)"))
    }

    private func reasonForClose(_ frame: WebSocketCloseFrame?) -> EndReason {
        if machine.phase == .ending { return .stoppedByClient }
        if let protocolFailure { return .protocolError(protocolFailure) }
        guard let frame else {
            return outbound == nil
                ? .connectionFailed("the server closed the connection before the WebSocket opened")
                : .networkError("the connection closed without a close frame")
        }
        return .closedByServer(code: Int(UInt16(webSocketErrorCode: frame.closeCode)), reason: frame.reason, error: lastServerError)
    }

    private func reasonForFailure(_ error: any Error) -> EndReason {
        if machine.phase == .ending { return .stoppedByClient }
        if let protocolFailure { return .protocolError(protocolFailure) }
        let opened = outbound != nil
        switch error {
        case let error as WebSocketClientError where error == .webSocketUpgradeFailed:
            return .connectionFailed("the server refused the WebSocket upgrade (unknown agent, or a signed URL that is wrong or expired)")
        case let error as WebSocketClientError where error == .serverSentMessageTooLarge:
            return .protocolError("the server sent a message over the 16 MiB limit")
        case let error as WebSocketClientError:
            return .protocolError(error.description)
        default:
            let detail = String(describing: error)
            return opened ? .networkError(detail) : .connectionFailed(detail)
        }
    }

    /// Ends the session once: the event stream closes and `run` returns.
    private func finish(_ reason: EndReason) async {
        guard let completion else { return }
        self.completion = nil
        await perform(machine.ended(reason))
        for task in background + toolTasks.values { task.cancel() }
        toolTasks.removeAll()
        outbound = nil
        logger.info("conversation ended", metadata: ["reason": "\(reason.explanation)"])
        eventSink.finish()
        completion.resume(returning: reason)
    }

    // MARK: - Actions

    private func perform(_ actions: [ConversationStateMachine.Action]) async {
        for action in actions {
            switch action {
            case .send(let message):
                await write(message)
            case .play(let chunk):
                audioSink.play(chunk)
            case .stopPlayback:
                audioSink.stopPlayback()
            case .emit(let kind):
                eventSink.yield(SessionEvent(seq: nextSeq, time: Date(), kind: kind))
                nextSeq += 1
            case .runTool(let call):
                toolTasks[call.toolCallID] = Task {
                    let result = await tools.answer(call)
                    await self.toolFinished(result)
                }
            }
        }
    }

    private func toolFinished(_ result: ClientToolResult) async {
        toolTasks[result.toolCallID] = nil
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
    case unreadableCAFile(String)

    public var description: String {
        switch self {
        case .notActive: "no conversation is active"
        case .unreadableCAFile(let path): "the extra CA file '\(path)' cannot be read"
        }
    }
}

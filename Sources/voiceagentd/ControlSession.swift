import ControlProtocol
import FoundationEssentials
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOFoundationEssentialsCompat

/// One client on the control socket: reads request lines, answers each,
/// and streams events to it while it follows. Bad input gets an error
/// reply and the connection stays usable. A client that sends no request
/// for `idleLimit`, and is not following events, is told so and closed.
struct ControlSession {
    static let idleLimit = Duration.seconds(10)

    let client: ControlServer.Client
    /// nil: no room at all, the one request is answered `unavailable`.
    let slot: ClientSlots.Slot?
    let commands: ControlCommands
    let logger: Logger

    func run() async {
        let peer = client.peer?.description ?? "unknown peer"
        do {
            try await client.channel.executeThenClose { inbound, outbound in
                let write: @Sendable (Data) async throws -> Void = { try await outbound.write(ByteBuffer(data: $0)) }
                let activity = Activity()
                var framer = LineFramer(maxLength: ControlProtocol.maxRequestBytes)
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { try await closeWhenIdle(activity, write: write) }
                    reading: for try await buffer in inbound {
                        activity.touch()
                        for frame in framer.push(buffer.readableBytesView) {
                            guard case .line(let line) = frame else {
                                logger.notice("refused an oversized control request", metadata: ["peer": "\(peer)"])
                                try await write(ControlCodec.failure(id: nil, ControlError(.tooLarge, "a request may be at most \(ControlProtocol.maxRequestBytes) bytes")))
                                continue
                            }
                            switch ControlCodec.decodeRequest(line) {
                            case .failure(let refusal):
                                logger.notice("refused a control request: \(refusal.error.message)", metadata: ["peer": "\(peer)"])
                                try await write(ControlCodec.failure(id: refusal.id, refusal.error))
                            case .success(let request):
                                guard let slot, slot == .regular || request.command.mustGetThrough else {
                                    logger.notice("control socket full: refused \(request.command.name)", metadata: ["peer": "\(peer)"])
                                    try await write(ControlCodec.failure(id: request.id, busy))
                                    break reading
                                }
                                let level: Logger.Level = request.command.changesState ? .info : .debug
                                logger.log(level: level, "control command \(request.command.name)", metadata: ["peer": "\(peer)", "request_id": "\(request.id)"])
                                DaemonMetrics.controlRequest(request.command.name)
                                if case .events(let options) = request.command, options.follow {
                                    activity.startFollowing()
                                    group.addTask { try await commands.follow(request, since: options.since, write: write) }
                                } else {
                                    activity.beginRequest()
                                    let answer = await commands.execute(request)
                                    activity.endRequest()
                                    try await write(answer)
                                }
                                // A reserved slot serves one request.
                                if slot == .reserved { break reading }
                            }
                        }
                    }
                    // The client closed or half-closed its side: what it asked
                    // has been answered. A follower goes on until it leaves.
                    if !activity.isFollowing { group.cancelAll() }
                }
            }
        } catch {
            logger.debug("control client left", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }

    private var busy: ControlError {
        let what = slot == nil ? "every connection is taken" : "only stop, interrupt and status are taken now"
        return ControlError(.unavailable, "the control socket is busy (\(what)); try again")
    }

    /// Tells a client that has sent nothing for `idleLimit` and closes it.
    private func closeWhenIdle(_ activity: Activity, write: @Sendable (Data) async throws -> Void) async throws {
        while true {
            let deadline = activity.lastHeard + Self.idleLimit
            try await Task.sleep(until: deadline)
            if activity.isFollowing { return }
            if !activity.isAnswering, activity.lastHeard + Self.idleLimit <= .now {
                try? await write(ControlCodec.failure(id: nil, ControlError(.idle, "no request for \(Self.idleLimit); closing the connection")))
                try await client.channel.channel.close()
                return
            }
        }
    }

    /// When the client last sent something or got an answer, whether one
    /// of its requests is being answered (a `start` can take seconds), and
    /// whether it follows events.
    final class Activity: Sendable {
        private let state = NIOLockedValueBox<(lastHeard: ContinuousClock.Instant, answering: Bool, following: Bool)>((.now, false, false))

        func touch() {
            state.withLockedValue { $0.lastHeard = .now }
        }

        func beginRequest() {
            state.withLockedValue { $0.answering = true }
        }

        func endRequest() {
            state.withLockedValue {
                $0.answering = false
                $0.lastHeard = .now
            }
        }

        var isAnswering: Bool { state.withLockedValue { $0.answering } }

        func startFollowing() {
            state.withLockedValue { $0.following = true }
        }

        var lastHeard: ContinuousClock.Instant { state.withLockedValue { $0.lastHeard } }
        var isFollowing: Bool { state.withLockedValue { $0.following } }
    }
}

import ControlProtocol
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

/// One client on the control socket: reads request lines, answers each,
/// and streams events to it while it follows. Bad input gets an error
/// reply and the connection stays usable.
struct ControlSession {
    let client: ControlServer.Client
    let commands: ControlCommands
    let logger: Logger

    func run() async {
        let peer = client.peer?.description ?? "unknown peer"
        do {
            try await client.channel.executeThenClose { inbound, outbound in
                let write: @Sendable (Data) async throws -> Void = { try await outbound.write(ByteBuffer(data: $0)) }
                var framer = LineFramer(maxLength: ControlProtocol.maxRequestBytes)
                try await withThrowingDiscardingTaskGroup { followers in
                    for try await buffer in inbound {
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
                                // Commands that change something are worth the journal; queries are not.
                                let level: Logger.Level = request.command.changesState ? .info : .debug
                                logger.log(level: level, "control command \(request.command.name)", metadata: ["peer": "\(peer)", "request_id": "\(request.id)"])
                                if case .events(let options) = request.command, options.follow {
                                    followers.addTask { try await commands.follow(request, since: options.since, write: write) }
                                } else {
                                    try await write(await commands.execute(request))
                                }
                            }
                        }
                    }
                    followers.cancelAll()
                }
            }
        } catch {
            logger.debug("control client left", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }
}

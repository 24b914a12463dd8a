import DaemonSettings
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// Serves the metrics in the Prometheus text format at GET /metrics, on a
/// loopback port or a Unix socket: off unless `metrics.listen` is set.
struct MetricsEndpoint: Service {
    let address: MetricsAddress
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    func run() async throws {
        let registry = registry
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(30)))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsRequestHandler(registry: registry))
                }
            }
        let channel: any Channel
        do {
            channel =
                switch address {
                case .tcp(let host, let port): try await bootstrap.bind(host: host, port: port).get()
                case .unix(let path): try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
                }
        } catch {
            // The conversations matter more than their metrics: the daemon goes on.
            logger.error("cannot serve metrics at \(address) (metrics.listen): \(error); going on without them")
            try? await gracefulShutdown()
            return
        }
        logger.info("serving Prometheus metrics", metadata: ["address": "\(address)"])
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

/// GET /metrics: the registry's text; anything else: 404 or 405.
final class MetricsRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var request: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            let (status, body): (HTTPResponseStatus, [UInt8]) =
                if head.uri.split(separator: "?").first != "/metrics" {
                    (.notFound, Array("see /metrics\n".utf8))
                } else if head.method != .GET && head.method != .HEAD {
                    (.methodNotAllowed, Array("GET /metrics\n".utf8))
                } else {
                    (.ok, registry.emitToBuffer())
                }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: status == .ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8")
            headers.add(name: "Content-Length", value: String(body.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            if head.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            }
            let keepAlive = head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

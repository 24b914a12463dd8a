import AgentSession
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// A local stand-in for the ElevenLabs conversation service: the public and
/// signed-URL WebSocket endpoints and the signed-URL HTTP endpoint, speaking
/// the same protocol, so a correct client cannot tell it from the real one.
public struct AgentSimulator: Sendable {
    public let configuration: SimulatorConfiguration
    public let recorder: SimulatorRecorder
    private let signatures = SignatureBook()
    private let logger: Logger

    public init(configuration: SimulatorConfiguration, logger: Logger = Logger(label: "voiceagent-simulator")) throws {
        self.configuration = configuration
        self.recorder = try SimulatorRecorder(path: configuration.recordPath)
        self.logger = logger
    }

    /// Serves until the task is cancelled. `onListening` gets the bound port.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let http1 = HTTP1WebSocketUpgradeChannel.Configuration(
            ws: WebSocketServerConfiguration(maxFrameSize: 2 * AgentSessionConfiguration.maxMessageSize, autoPing: .disabled)
        )
        let upgrade = HTTPServerBuilder.http1WebSocketUpgrade(configuration: http1) { request, _, logger in
            try self.upgradeDecision(for: request, logger: logger)
        }
        var server = upgrade
        if let tls = try tlsConfiguration() {
            server = try HTTPServerBuilder.tls(upgrade, tlsConfiguration: tls)
        }
        let application = Application(
            router: router(),
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        try await application.run()
    }

    private func tlsConfiguration() throws -> TLSConfiguration? {
        guard let certificatePath = configuration.tlsCertificatePath, let keyPath = configuration.tlsKeyPath else { return nil }
        for path in [certificatePath, keyPath] where !FileManager.default.isReadableFile(atPath: path) {
            throw SimulatorError.unreadableTLSFile(path)
        }
        return TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
        )
    }

    // MARK: - WebSocket

    private func upgradeDecision(
        for request: HTTPRequest, logger: Logger
    ) throws -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard case .allowed = admission(path: request.path ?? "") else { return .dontUpgrade }
        let conversationID = "conv_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        return .upgrade([:]) { inbound, outbound, _ in
            let conversation = SimulatedConversation(
                id: String(conversationID), configuration: configuration, outbound: outbound, recorder: recorder, logger: logger)
            logger.info("conversation opened", metadata: ["conversation_id": "\(conversationID)"])
            try await conversation.run(inbound: inbound)
            logger.info("conversation closed", metadata: ["conversation_id": "\(conversationID)"])
        }
    }

    enum Admission: Equatable {
        case allowed
        case refused(HTTPResponse.Status, String)
        case notConversation
    }

    /// Whether a request for the conversation socket may open it.
    func admission(path: String) -> Admission {
        let (route, query) = Self.split(path)
        guard route == "/v1/convai/conversation" else { return .notConversation }
        guard let agentID = query["agent_id"], !agentID.isEmpty else {
            return .refused(.badRequest, "agent_id is required")
        }
        if configuration.apiKey != nil {
            guard let signature = query["conversation_signature"], signatures.isValid(signature, for: agentID) else {
                return .refused(.forbidden, "this agent is private: connect through a signed URL")
            }
        }
        return .allowed
    }

    // MARK: - HTTP

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/health") { _, _ in "ok\n" }
        router.get("/v1/convai/conversation/get-signed-url") { request, _ in
            try signedURLResponse(for: request)
        }
        router.get("/v1/convai/conversation") { request, _ in
            switch admission(path: request.uri.description) {
            case .refused(let status, let message):
                return Self.errorResponse(status, message)
            case .allowed, .notConversation:
                return Self.errorResponse(.upgradeRequired, "this endpoint speaks WebSocket")
            }
        }
        return router
    }

    private func signedURLResponse(for request: Request) throws -> Response {
        if let status = configuration.signedURLStatus {
            return Self.errorResponse(HTTPResponse.Status(code: status), "the simulator answers \(status) as configured")
        }
        guard let expected = configuration.apiKey, request.headers[HTTPField.Name("xi-api-key")!] == expected else {
            return Self.errorResponse(.unauthorized, "Invalid API key", status: "invalid_api_key")
        }
        guard let agentID = request.uri.queryParameters["agent_id"].map(String.init), !agentID.isEmpty else {
            return Self.errorResponse(.unprocessableContent, "agent_id is required", status: "validation_error")
        }
        let authority = request.head.authority ?? "\(configuration.host):\(configuration.port)"
        let scheme = configuration.tlsCertificatePath == nil ? "ws" : "wss"
        let signature = signatures.issue(for: agentID)
        let url = "\(scheme)://\(authority)/v1/convai/conversation?agent_id=\(AgentEndpoint.percentEncoded(agentID))&conversation_signature=\(signature)"
        return Self.jsonResponse(.ok, ["signed_url": .string(url)])
    }

    private static func errorResponse(_ status: HTTPResponse.Status, _ message: String, status statusName: String = "error") -> Response {
        jsonResponse(status, ["detail": .object(["status": .string(statusName), "message": .string(message)])])
    }

    private static func jsonResponse(_ status: HTTPResponse.Status, _ body: [String: JSONValue]) -> Response {
        let text = (try? JSONWire.encode(body)) ?? "{}"
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func split(_ path: String) -> (route: String, query: [String: String]) {
        let parts = path.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let keyValue = pair.split(separator: "=", maxSplits: 1)
                let key = String(keyValue[0]).removingPercentEncoding ?? String(keyValue[0])
                query[key] = keyValue.count == 2 ? String(keyValue[1]).removingPercentEncoding ?? String(keyValue[1]) : ""
            }
        }
        return (String(parts.first ?? ""), query)
    }
}

/// The signatures handed out with signed URLs, each valid for one agent.
final class SignatureBook: Sendable {
    private let issued = NIOLockedValueBox<[String: String]>([:])

    func issue(for agentID: String) -> String {
        let signature = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        issued.withLockedValue { $0[signature] = agentID }
        return signature
    }

    func isValid(_ signature: String, for agentID: String) -> Bool {
        issued.withLockedValue { $0[signature] == agentID }
    }
}

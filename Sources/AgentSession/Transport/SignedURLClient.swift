import AsyncHTTPClient
import FoundationEssentials
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import NIOHTTP1
import NIOSSL

/// Fetches the signed WebSocket URL of a private agent. The API key goes on
/// this one HTTPS request and nowhere else.
struct SignedURLClient: Sendable {
    let endpoint: AgentEndpoint
    let tlsConfiguration: TLSConfiguration
    let timeout: Duration
    let logger: Logger

    private struct Response: Decodable {
        let signedURL: String
        enum CodingKeys: String, CodingKey {
            case signedURL = "signed_url"
        }
    }

    func fetchConversationURL(apiKey: String) async throws(SignedURLError) -> String {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tlsConfiguration)
        configuration.timeout = .init(connect: .init(timeout), read: .init(timeout))
        // One request, made by a person waiting for it: a refused connection or
        // certificate is reported at once instead of retried until the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let result = await fetch(with: client, apiKey: apiKey)
        try? await client.shutdown()
        return try result.get()
    }

    private func fetch(with client: HTTPClient, apiKey: String) async -> Result<String, SignedURLError> {
        var request = HTTPClientRequest(url: endpoint.signedURLRequestURL)
        request.headers.add(name: "xi-api-key", value: apiKey)
        request.headers.add(name: "accept", value: "application/json")

        let status: HTTPResponseStatus
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: .init(timeout))
            status = response.status
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            logger.debug("the signed-URL request failed", metadata: ["error": "\(String(reflecting: error))"])
            let url = endpoint.baseURL
            let place = NetworkFailure(error, host: url.host ?? "the API", port: url.port ?? (url.scheme == "https" ? 443 : 80))
            return .failure(.unreachable(place.description))
        }
        switch status.code {
        case 200:
            guard let decoded = try? JSONDecoder().decode(Response.self, from: body), !decoded.signedURL.isEmpty else {
                return .failure(.malformedAnswer)
            }
            return .success(endpoint.conversationURL(fromSigned: decoded.signedURL))
        case 401, 403:
            return .failure(.apiKeyRefused(status: Int(status.code)))
        default:
            return .failure(.httpStatus(Int(status.code), detail: String(buffer: body).prefix(300).description))
        }
    }
}

public enum SignedURLError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreachable(String)
    case apiKeyRefused(status: Int)
    case httpStatus(Int, detail: String)
    case malformedAnswer

    /// Asking again would be refused again: a wrong key, an unknown agent,
    /// a bad request. A busy (429) or failing (5xx) service may recover.
    public var wouldRepeat: Bool {
        switch self {
        case .unreachable: false
        case .apiKeyRefused, .malformedAnswer: true
        case .httpStatus(let status, _): (400..<500).contains(status) && status != 408 && status != 429
        }
    }

    public var description: String {
        switch self {
        case .unreachable(let sentence): "the signed-URL request failed: \(sentence)"
        case .apiKeyRefused(let status): "the API key was refused (HTTP \(status)); check the elevenlabs-api-key credential"
        case .httpStatus(let status, let detail): "the signed-URL request answered HTTP \(status): \(detail)"
        case .malformedAnswer: "the signed-URL answer had no usable 'signed_url'"
        }
    }
}

import FoundationEssentials

/// Where the conversation service lives and how to address one agent on it.
public struct AgentEndpoint: Sendable, Equatable {
    public static let productionBaseURL = "https://api.elevenlabs.io"
    static let conversationPath = "/v1/convai/conversation"
    static let signedURLPath = "/v1/convai/conversation/get-signed-url"

    /// The HTTPS (or, for a local simulator, HTTP) base of the API.
    public let baseURL: URL
    public let agentID: String
    /// The client name and version sent as `source` and `version`.
    public let source: SourceInfo

    public init(baseURL: String, agentID: String, source: SourceInfo) throws(AgentEndpointError) {
        guard let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), ["https", "http"].contains(scheme),
            url.host?.isEmpty == false
        else {
            throw .invalidBaseURL(baseURL)
        }
        guard !agentID.isEmpty else { throw .missingAgentID }
        self.baseURL = url
        self.agentID = agentID
        self.source = source
    }

    /// The public agent's WebSocket URL: same host, `https`→`wss`.
    public var publicConversationURL: String {
        var components = URLComponents(url: baseURL, resolvingAgainstBaseURL: false)!
        components.scheme = components.scheme?.lowercased() == "https" ? "wss" : "ws"
        components.path = trimmedBasePath + Self.conversationPath
        components.percentEncodedQuery = Self.query([("agent_id", agentID), ("source", source.source), ("version", source.version)])
        return components.string!
    }

    /// The HTTPS request that trades the API key for a signed URL.
    public var signedURLRequestURL: String {
        var components = URLComponents(url: baseURL, resolvingAgainstBaseURL: false)!
        components.path = trimmedBasePath + Self.signedURLPath
        components.percentEncodedQuery = Self.query([("agent_id", agentID)])
        return components.string!
    }

    /// A signed URL is opaque; only `source` and `version` are appended.
    public func conversationURL(fromSigned signedURL: String) -> String {
        let separator = signedURL.contains("?") ? "&" : "?"
        return signedURL + separator + Self.query([("source", source.source), ("version", source.version)])
    }

    private var trimmedBasePath: String {
        baseURL.path.hasSuffix("/") ? String(baseURL.path.dropLast()) : baseURL.path
    }

    private static func query(_ items: [(String, String)]) -> String {
        items.map { "\($0.0)=\(percentEncoded($0.1))" }.joined(separator: "&")
    }

    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    /// Every byte of the UTF-8 but RFC 3986's unreserved characters as %XX.
    public static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return encoded
    }
}

public enum AgentEndpointError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidBaseURL(String)
    case missingAgentID

    public var description: String {
        switch self {
        case .invalidBaseURL(let url): "the API base URL '\(url)' is not an http(s) URL with a host"
        case .missingAgentID: "no agent id was given"
        }
    }
}

import DaemonSettings
import FoundationEssentials

/// Finds the ElevenLabs API key: the systemd credential first, then the
/// environment. The key is only ever handed to the signed-URL request.
enum APIKeySource {
    static let credentialName = "elevenlabs-api-key"

    static func load(environment: [String: String]) throws -> String? {
        if let directory = environment["CREDENTIALS_DIRECTORY"] {
            let path = directory + "/" + credentialName
            if FileManager.default.fileExists(atPath: path) {
                guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                    throw ConfigurationError(key: nil, message: "the credential \(path) cannot be read")
                }
                return nonEmpty(text)
            }
        }
        return environment["ELEVENLABS_API_KEY"].flatMap(nonEmpty)
    }

    private static func nonEmpty(_ text: String) -> String? {
        let trimmed = text.trimmed(\.isWhitespace)
        return trimmed.isEmpty ? nil : String(trimmed)
    }
}

import AgentProtocol
import Foundation
import FuzzSupport

/// A text frame from the agent's server, as the session decodes it: any
/// bytes either decode or fail with a `ServerMessageError`, and what decodes
/// encodes to text that decodes to the same message.
func fuzzServerMessage(_ input: Data) {
    guard let message = try? ServerMessage.decode(input), let text = try? message.encodedText() else { return }
    guard let again = try? ServerMessage.decode(Data(text.utf8)), again == message else {
        fatalError("\(message) encoded as \(text) does not decode to itself")
    }
}

@main
struct FuzzServerMessage {
    static func main() {
        FuzzEntry.run(fuzzServerMessage) { bytes, count in
            fuzzServerMessage(count == 0 ? Data() : Data(bytes: bytes!, count: count))
            return 0
        }
    }
}

import AgentSession
import AgentSimulator
import ArgumentParser
import Foundation
import Logging

@main
struct SimulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voiceagent-simulator",
        abstract: "A local ElevenLabs Conversational AI agent, for demos and tests.",
        discussion: """
            Serves the agent conversation protocol on a local address: the public-agent \
            WebSocket (/v1/convai/conversation?agent_id=…), the signed-URL endpoint \
            (/v1/convai/conversation/get-signed-url, which needs the xi-api-key header when \
            --api-key is set), pings, and a voice: an energy detector on the user's audio \
            that answers each turn with a transcript, a response and a tone as the agent's \
            speech. Speaking over a reply interrupts it.

            Point a client at it with the API base URL it prints, e.g. \
            voiceagentd --api-base-url http://127.0.0.1:8765.

            Scenarios exercise each branch of a client: \(SimulatorScenario.allCases.map(\.rawValue).joined(separator: ", ")).
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = 8765

    @Option(help: "What the agent does: \(SimulatorScenario.allCases.map(\.rawValue).joined(separator: ", ")).")
    var scenario = SimulatorScenario.conversation

    @Option(help: "Make the agent private: the socket then needs a signed URL, fetched with this key.")
    var apiKey: String?

    @Option(help: "The user's audio format the agent asks for.")
    var inputFormat = "pcm_16000"

    @Option(help: "The agent's audio format.")
    var outputFormat = "pcm_16000"

    @Option(help: "Send reply audio paced in real time or in a burst, as the real service does.")
    var delivery = ReplyDelivery.burst

    @Option(help: "Give a reply's audio messages one event id (per-reply) or each its own, increasing (per-chunk).")
    var audioEventIds = AudioEventIDs.perReply

    @Option(help: "Seconds of audio in each reply.")
    var replySeconds = 2.0

    @Option(help: "Answer with this speech instead of a tone: raw 16-bit little-endian mono PCM at the output format's rate (sox x.wav -r 16000 -c 1 -e signed -b 16 x.raw); each reply is all of it.")
    var replySpeech: String?

    @Option(help: "Milliseconds of audio in each audio message.")
    var chunkMilliseconds = 100

    @Option(help: "Milliseconds between pings.")
    var pingIntervalMilliseconds = 2000

    @Option(help: "What the agent says first; empty for nothing.")
    var firstMessage: String?

    @Option(help: "Level above which the user's audio counts as speech.")
    var speechThresholdDBFS = -40.0

    @Flag(help: "Refuse every conversation override (closes with 1008 override_error).")
    var refuseOverrides = false

    @Option(name: .customLong("require-variable"), help: "A dynamic variable the agent needs (closes with 1008 missing_dynamic_variable).")
    var requiredVariables: [String] = []

    @Option(help: "The client tool the tool-call scenario calls.")
    var toolName = "get_weather"

    @Option(help: "The tool call's parameters, a JSON object.")
    var toolParameters = #"{"city":"Paris"}"#

    @Option(help: "Serve TLS (https/wss) with this PEM certificate…")
    var tlsCertificate: String?

    @Option(help: "…and this PEM key.")
    var tlsKey: String?

    @Option(help: "Make a self-signed certificate in this folder and serve TLS with it; clients trust simulator-cert.pem from there.")
    var tlsSelfSigned: String?

    @Option(help: "Append every client message to this file as JSON lines.")
    var record: String?

    func run() async throws {
        var configuration = SimulatorConfiguration()
        if let replySpeech {
            guard let bytes = FileManager.default.contents(atPath: replySpeech), bytes.count >= 2 else {
                throw ValidationError("--reply-speech: cannot read \(replySpeech), or it is empty")
            }
            configuration.replySpeech = bytes.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        }
        configuration.host = host
        configuration.port = port
        configuration.scenario = scenario
        configuration.apiKey = apiKey
        do {
            configuration.inputFormat = try AudioFormat(parsing: inputFormat)
            configuration.outputFormat = try AudioFormat(parsing: outputFormat)
        } catch {
            throw ValidationError(error.description)
        }
        configuration.delivery = delivery
        configuration.audioEventIDs = audioEventIds
        configuration.replySeconds = replySeconds
        configuration.chunkMilliseconds = chunkMilliseconds
        configuration.pingInterval = .milliseconds(pingIntervalMilliseconds)
        configuration.firstMessage = firstMessage ?? configuration.firstMessage
        configuration.speechThresholdDBFS = speechThresholdDBFS
        configuration.refuseOverrides = refuseOverrides
        configuration.requiredDynamicVariables = requiredVariables
        configuration.toolName = toolName
        guard let parameters = try? JSONWire.decode([String: JSONValue].self, from: Data(toolParameters.utf8)) else {
            throw ValidationError("--tool-parameters must be a JSON object")
        }
        configuration.toolParameters = parameters
        if let directory = tlsSelfSigned {
            let certificate = try SelfSignedCertificate.generate(in: directory)
            configuration.tlsCertificatePath = certificate.certificatePath
            configuration.tlsKeyPath = certificate.keyPath
        } else {
            configuration.tlsCertificatePath = tlsCertificate
            configuration.tlsKeyPath = tlsKey
        }
        configuration.recordPath = record

        var logger = Logger(label: "voiceagent-simulator")
        logger.logLevel = .warning
        let simulator = try AgentSimulator(configuration: configuration, logger: logger)
        let banner = "voiceagent-simulator: listening on \(configuration.tlsCertificatePath == nil ? "http" : "https")://\(host)"
        let scenarioName = scenario.rawValue
        try await simulator.run { port in
            // Scripts and tests wait for this line, so it must not sit in a buffer.
            FileHandle.standardOutput.write(Data("\(banner):\(port) (scenario \(scenarioName))\n".utf8))
        }
    }
}

extension SimulatorScenario: ExpressibleByArgument {}
extension ReplyDelivery: ExpressibleByArgument {}
extension AudioEventIDs: ExpressibleByArgument {}

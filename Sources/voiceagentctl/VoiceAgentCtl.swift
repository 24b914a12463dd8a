import ArgumentParser
import ControlProtocol
import FoundationEssentials
import JSON

@main
struct VoiceAgentCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voiceagentctl",
        abstract: "Controls voiceagentd: start, stop and interrupt conversations, and follow their events.",
        discussion: """
            Talks to the daemon over its control socket (/run/voiceagentd/control.sock, or \
            --socket, or $VOICEAGENTD_CONTROL_SOCKET). Members of the 'voiceagent' group may use it.

            Exit status: 0 done; 1 the daemon refused (the message says why); 64 usage error; \
            69 the daemon is not running; 74 the connection failed; 77 permission denied; 78 the \
            daemon's configuration is invalid (the message names the setting).
            """,
        version: "0.2.0",
        subcommands: [Start.self, Stop.self, Interrupt.self, Status.self, History.self, Devices.self, Events.self, Say.self, Context.self, Mute.self, Unmute.self, Feedback.self]
    )

    /// Lets `--socket` and `--timeout` come before the subcommand too.
    @OptionGroup var connection: ConnectionOptions
}

struct ConnectionOptions: ParsableArguments {
    @Option(help: "The daemon's control socket.")
    var socket = ProcessInfo.processInfo.environment["VOICEAGENTD_CONTROL_SOCKET"] ?? ControlProtocol.defaultSocketPath

    @Option(help: "Seconds to wait for the daemon's answer (start waits for the agent, at most the daemon's connect timeout).")
    var timeout = 60

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func connect() throws -> ControlClient {
        try Failure.exiting { () throws(ClientFailure) in try ControlClient(path: socket, answerTimeoutSeconds: timeout) }
    }

    /// Runs a command that answers only ok.
    func run(_ command: ControlCommand, done: String? = nil) throws {
        let client = try connect()
        _ = try Failure.exiting { () throws(ClientFailure) in try client.call(command, expecting: ControlCodec.Empty.self) }
        if let done { print(done) }
    }

    /// Runs a query and prints its answer: as JSON, or in the lines `text`
    /// makes of it for a person.
    func show<Answer: Codable & Sendable>(_ command: ControlCommand, answer: Answer.Type, json: Bool, text: (Answer) -> [String]) throws {
        let client = try connect()
        guard let result = try Failure.exiting({ () throws(ClientFailure) in try client.call(command, expecting: Answer.self) }) else {
            return
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(text(result).joined(separator: "\n"))
        }
    }
}

/// Prints a failure the way a person reads it and exits with its status.
enum Failure {
    static func exiting<Value>(_ body: () throws(ClientFailure) -> Value) throws -> Value {
        do {
            return try body()
        } catch {
            StandardStream.error.writeLine("voiceagentctl: \(error.description)")
            throw ExitCode(error.exitStatus)
        }
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a conversation.",
        discussion: "Waits until the agent accepts it and prints its conversation id. Overrides must be allowed in the agent's settings.")

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The agent to talk to (default: the daemon's agent.id).") var agentId: String?
    @Option(name: .customLong("var"), help: ArgumentHelp("A dynamic variable, KEY=VALUE; repeat for more.", valueName: "KEY=VALUE"))
    var variables: [String] = []
    @Option(help: "What the agent says first.") var firstMessage: String?
    @Option(help: "The agent's prompt for this conversation.") var prompt: String?
    @Option(help: "The conversation's language, e.g. en.") var language: String?
    @Option(help: "The TTS voice for this conversation.") var voiceId: String?
    @Option(help: "Who the user is, for the agent's records.") var userId: String?
    @Option(
        name: .customLong("llm-body"),
        help: ArgumentHelp("A member of the custom LLM's extra body, KEY=JSON (e.g. temperature=0.2); repeat for more.", valueName: "KEY=JSON"))
    var llmBody: [String] = []
    @Option(
        name: .customLong("llm-body-file"),
        help: ArgumentHelp("A JSON object to send as the custom LLM's extra body; --llm-body members go over it.", valueName: "FILE"))
    var llmBodyFile: String?

    func validate() throws {
        for variable in variables where !variable.contains("=") || variable.hasPrefix("=") {
            throw ValidationError("--var takes KEY=VALUE, not '\(variable)'")
        }
        for member in llmBody where !member.contains("=") || member.hasPrefix("=") {
            throw ValidationError("--llm-body takes KEY=JSON, not '\(member)'")
        }
    }

    func run() throws {
        let options = StartOptions(
            agentID: agentId, variables: Self.pairs(variables).mapValues(String.init), firstMessage: firstMessage, prompt: prompt,
            language: language, voiceID: voiceId, userID: userId, customLLMExtraBody: try customLLMExtraBody())
        let client = try connection.connect()
        let result = try Failure.exiting { () throws(ClientFailure) in try client.call(.start(options), expecting: StartResult.self) }
        if let result {
            print("started conversation \(result.conversationID) (microphone \(result.inputFormat), speaker \(result.outputFormat))")
        }
    }

    /// KEY=VALUE arguments, split at the first `=`.
    private static func pairs(_ arguments: [String]) -> [String: Substring] {
        Dictionary(
            arguments.map { argument in
                let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (String(parts[0]), parts.count > 1 ? parts[1] : "")
            }, uniquingKeysWith: { $1 })
    }

    /// The file's object, then each --llm-body member over it; bad JSON is
    /// refused with its key or file named (a usage error, exit 64, like
    /// anything validate() refuses). Read once, in run().
    private func customLLMExtraBody() throws -> [String: JSONValue] {
        var body: [String: JSONValue] = [:]
        if let llmBodyFile {
            guard let contents = FileManager.default.contents(atPath: llmBodyFile) else {
                throw ValidationError("--llm-body-file: cannot read \(llmBodyFile)")
            }
            guard case .object(let members)? = try? JSONDecoder().decode(JSONValue.self, from: contents) else {
                throw ValidationError("--llm-body-file: \(llmBodyFile) is not a JSON object")
            }
            body = members
        }
        for (key, text) in Self.pairs(llmBody) {
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                throw ValidationError("--llm-body \(key): '\(text)' is not JSON (a string needs quotes: \(key)='\"text\"')")
            }
            body[key] = value
        }
        return body
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End the conversation (a clean close; the agent is told) and wait until it has ended.")
    @OptionGroup var connection: ConnectionOptions
    func run() throws { try connection.run(.stop, done: "stopped") }
}

struct Interrupt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Silence the agent now and drop the rest of its reply.",
        discussion: """
            The speaker goes quiet within one audio period. The agent is told the user has the \
            floor (user_activity), and whatever more of the interrupted reply arrives is dropped \
            until the next turn begins: the user speaking (a transcript), a message sent with \
            `say`, or the agent's own interruption. The next reply plays in full.
            """)
    @OptionGroup var connection: ConnectionOptions
    func run() throws { try connection.run(.interrupt) }
}

struct Say: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a user message as text; the agent answers it.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The message.") var text: String
    func run() throws { try connection.run(.say(text: text)) }
}

struct Context: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Tell the agent something in the background; it does not reply to it.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The contextual update.") var text: String
    func run() throws { try connection.run(.context(text: text)) }
}

struct Mute: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send silence instead of the microphone (the agent keeps its timing).")
    @OptionGroup var connection: ConnectionOptions
    func run() throws { try connection.run(.mute, done: "microphone muted") }
}

struct Unmute: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send the microphone again.")
    @OptionGroup var connection: ConnectionOptions
    func run() throws { try connection.run(.unmute, done: "microphone live") }
}

struct Feedback: ParsableCommand {
    enum Score: String, ExpressibleByArgument, CaseIterable {
        case like, dislike
    }

    static let configuration = CommandConfiguration(
        abstract: "Rate the agent's last response: like or dislike.",
        discussion: "The agent's service records it against that response. Each response is rated once; with no response yet there is nothing to rate.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "like or dislike.") var score: Score
    func run() throws { try connection.run(.feedback(liked: score == .like), done: "rated the agent's last response: \(score.rawValue)") }
}

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the ALSA capture and playback devices the daemon can use.",
        discussion: """
            Names as `arecord -L` and `aplay -L` give them (what CAPTURE_DEVICE and PLAYBACK_DEVICE \
            take), the card's name, and for each direction the agent's sample rates and the formats \
            it accepts. * marks the configured device. A busy device says which process holds it. \
            Without a daemon: voiceagentd --list-devices.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print the list as JSON.") var json = false

    func run() throws {
        try connection.show(.devices, answer: DevicesReport.self, json: json) { $0.lines }
    }
}

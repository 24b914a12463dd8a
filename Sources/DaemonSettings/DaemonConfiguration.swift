import AgentProtocol
import AudioEngine
import Configuration
import ControlProtocol
import FoundationEssentials
import Logging
import SystemPackage

/// Everything the daemon reads at start, from (highest first) command-line
/// flags, VOICEAGENTD_* environment variables, the configuration file, and
/// defaults. Invalid values stop the daemon with a message naming the key.
package struct DaemonConfiguration: Sendable, Equatable {
    package var apiBaseURL: String
    package var agentID: String?
    /// Whether the agent is private (signed URL with the API key). Nil: use
    /// a signed URL exactly when an API key is available.
    package var authentication: Bool?
    package var extraCAFile: String?
    package var audio: AudioDeviceConfiguration
    package var controlSocket: String
    package var controlGroup: String
    package var toolsDirectory: String
    package var toolTimeout: Duration
    package var connectTimeout: Duration
    package var silenceTimeout: Duration
    package var reconnect: ReconnectPolicy
    package var alwaysOn: AlwaysOn
    package var logLevel: Logger.Level
    package var transcripts: TranscriptPrivacy
    /// Nil: no metrics listener.
    package var metricsListen: MetricsAddress?
    package var firstMessage: String?
    package var prompt: String?
    package var language: String?
    package var voiceID: String?
    package var userID: String?

    package static let defaultConfigFile = "/etc/voiceagentd/voiceagentd.conf"

    /// One configuration key: its dotted name, which gives the flag
    /// (`--agent-id`), the environment variable (`VOICEAGENTD_AGENT_ID`) and
    /// the file key (`AGENT_ID`).
    package struct Key: Sendable {
        package let name: String
        package let defaultValue: String?
        package let help: String

        package var flag: String { "--" + name.replacing(".", with: "-") }
        package var fileKey: String { name.replacing(".", with: "_").uppercased() }
        package var environmentVariable: String { "VOICEAGENTD_" + fileKey }
    }

    package static let keys: [Key] = [
        Key(name: "api.base.url", defaultValue: AgentEndpoint.productionBaseURL, help: "The ElevenLabs API base; wss:// is derived from it."),
        Key(name: "agent.id", defaultValue: nil, help: "The agent to talk to when start names none."),
        Key(name: "auth", defaultValue: "auto", help: "Private agent (signed URL with the API key): yes, no or auto (yes when a key is set)."),
        Key(name: "extra.ca.file", defaultValue: nil, help: "A PEM CA file trusted besides the system store."),
        Key(name: "capture.device", defaultValue: "default", help: "ALSA capture device (arecord -L lists them)."),
        Key(name: "playback.device", defaultValue: "default", help: "ALSA playback device (aplay -L lists them)."),
        Key(name: "period.ms", defaultValue: "20", help: "ALSA period in milliseconds (5-100); interrupts silence within one."),
        Key(name: "chunk.ms", defaultValue: "20", help: "Microphone audio per message to the agent, in milliseconds (10-250)."),
        Key(
            name: "realtime.priority", defaultValue: "10",
            help: "SCHED_FIFO priority of the two audio threads (1-99), so a busy machine cannot starve the sound card; 0 for normal priority. Beyond RLIMIT_RTPRIO (LimitRTPRIO=) they run at normal priority, said once in the log."),
        Key(
            name: "echo", defaultValue: "none",
            help: "What to do about the agent's voice coming back through the microphone: none (a headset, or hardware that cancels its own echo), cancel (an echo canceller, for any speaker the microphone hears; the user can still talk over the agent) or half-duplex (the microphone sends silence while the agent is heard)."),
        Key(name: "echo.tail.ms", defaultValue: "300", help: "With echo=half-duplex, how long the microphone stays silent after the agent was last heard, in milliseconds (0-2000)."),
        Key(name: "control.socket", defaultValue: ControlProtocol.defaultSocketPath, help: "The control socket, unless systemd passes one."),
        Key(name: "control.group", defaultValue: "voiceagent", help: "Group that may use the control socket (mode 0660)."),
        Key(name: "tools.directory", defaultValue: "/etc/voiceagentd/tools.d", help: "Client tools: each executable here is a tool of its name."),
        Key(name: "tool.timeout.ms", defaultValue: "10000", help: "How long a client tool may run, in milliseconds."),
        Key(name: "connect.timeout.ms", defaultValue: "15000", help: "How long start waits for the agent, in milliseconds."),
        Key(
            name: "silence.timeout.ms", defaultValue: "10000",
            help: "A server silent this long (not even a ping) is taken for a lost connection, in milliseconds (1000-60000)."),
        Key(
            name: "reconnect", defaultValue: "yes",
            help: "After a lost connection or the service's internal error, start a new conversation with backoff: yes or no."),
        Key(name: "reconnect.initial.ms", defaultValue: "500", help: "The first reconnect's longest wait, in milliseconds; it doubles per attempt."),
        Key(name: "reconnect.max.ms", defaultValue: "30000", help: "The longest wait between reconnect attempts, in milliseconds."),
        Key(name: "reconnect.attempts", defaultValue: "0", help: "Reconnect attempts before giving up; 0 keeps trying."),
        Key(
            name: "reconnect.carry.over", defaultValue: "no",
            help: "Tell a conversation that replaces a lost one its last turns, and ask the agent not to greet again: yes or no."),
        Key(
            name: "always.on", defaultValue: "no",
            help: "Start a conversation with the configured agent when the daemon starts and again after each one ends: yes or no. stop pauses it until the next start."),
        Key(name: "always.on.pause.ms", defaultValue: "2000", help: "With always.on, the pause between one conversation's end and the next start, in milliseconds."),
        Key(name: "log.level", defaultValue: "info", help: "trace, debug, info, notice, warning, error or critical."),
        Key(
            name: "log.transcripts", defaultValue: "yes",
            help: "Keep what was said in the journal and the event log: yes or no (no records only that a turn happened)."),
        Key(
            name: "events.transcripts", defaultValue: "no",
            help: "With log.transcripts=no, still show what was said to control clients (events, history): yes or no."),
        Key(
            name: "metrics.listen", defaultValue: nil,
            help: "Serve Prometheus metrics at /metrics on HOST:PORT (127.0.0.1:9464) or unix:PATH; unset: off. Applies at start."),
        Key(name: "first.message", defaultValue: nil, help: "Override of the agent's first message (the agent must allow it)."),
        Key(name: "prompt", defaultValue: nil, help: "Override of the agent's prompt (the agent must allow it)."),
        Key(name: "language", defaultValue: nil, help: "Override of the agent's language (the agent must allow it)."),
        Key(name: "voice.id", defaultValue: nil, help: "Override of the agent's TTS voice (the agent must allow it)."),
        Key(name: "user.id", defaultValue: nil, help: "The user id sent with each conversation."),
    ]

    /// Reads the layered configuration. `flags` maps key names to values
    /// given on the command line.
    package static func load(flags: [String: String], environment: [String: String], configFile: String?) async throws -> DaemonConfiguration {
        try DaemonConfiguration(values: try await layeredValues(flags: flags, environment: environment, configFile: configFile))
    }

    /// What the daemon listens with while the configuration is invalid: the
    /// control socket and group as configured if those are usable, every
    /// other setting at its default.
    package static func listeningFallback(flags: [String: String], environment: [String: String], configFile: String?) async -> DaemonConfiguration {
        guard let values = try? await layeredValues(flags: flags, environment: environment, configFile: configFile) else { return defaults }
        let listening: Set = ["control.socket", "control.group"]
        return (try? DaemonConfiguration(values: ConfigurationValues { listening.contains($0) ? values.lookup($0) : nil })) ?? defaults
    }

    private static func layeredValues(flags: [String: String], environment: [String: String], configFile: String?) async throws -> ConfigurationValues {
        let file = configFile ?? defaultConfigFile
        let fileProvider: EnvironmentVariablesProvider
        do {
            fileProvider = try await EnvironmentVariablesProvider(environmentFilePath: FilePath(file), allowMissing: configFile == nil)
        } catch {
            throw ConfigurationError(key: nil, message: "cannot read the configuration file \(file): \(error)")
        }
        let reader = ConfigReader(providers: [
            InMemoryProvider(values: Dictionary(uniqueKeysWithValues: flags.map { (AbsoluteConfigKey(stringLiteral: $0.key), ConfigValue(stringLiteral: $0.value)) })),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "voiceagentd"),
            fileProvider,
        ])
        return ConfigurationValues { name in reader.string(forKey: ConfigKey(stringLiteral: name)) }
    }

    /// Every setting at its default: what the daemon listens with while its
    /// configuration is invalid.
    package static let defaults = try! DaemonConfiguration(values: ConfigurationValues { _ in nil })

    package init(values: ConfigurationValues) throws {
        apiBaseURL = try values.string("api.base.url")
        if (try? AgentEndpoint(baseURL: apiBaseURL, agentID: "check", source: SourceInfo(source: "", version: ""))) == nil {
            throw ConfigurationError(key: "api.base.url", message: "'\(apiBaseURL)' is not an http(s) URL with a host")
        }
        agentID = values.optional("agent.id")
        authentication = try values.choice("auth", ConfigurationValues.yesOrNo.mapValues { $0 }.merging(["auto": nil]) { $1 })
        extraCAFile = values.optional("extra.ca.file")
        audio = AudioDeviceConfiguration(
            captureDevice: try values.string("capture.device"),
            playbackDevice: try values.string("playback.device"),
            periodMilliseconds: try values.integer("period.ms", in: 5...100),
            chunkMilliseconds: try values.integer("chunk.ms", in: 10...250),
            realtimePriority: try values.integer("realtime.priority", in: 0...99),
            echo: try values.choice("echo", Dictionary(uniqueKeysWithValues: EchoMode.allCases.map { ($0.rawValue, $0) })),
            echoTailMilliseconds: try values.integer("echo.tail.ms", in: 0...2000))
        controlSocket = try values.string("control.socket")
        controlGroup = try values.string("control.group")
        toolsDirectory = try values.string("tools.directory")
        toolTimeout = .milliseconds(try values.integer("tool.timeout.ms", in: 100...600_000))
        connectTimeout = .milliseconds(try values.integer("connect.timeout.ms", in: 500...120_000))
        silenceTimeout = .milliseconds(try values.integer("silence.timeout.ms", in: 1000...60_000))
        reconnect = ReconnectPolicy(
            enabled: try values.choice("reconnect", ConfigurationValues.yesOrNo),
            initialDelay: .milliseconds(try values.integer("reconnect.initial.ms", in: 100...60_000)),
            maxDelay: .milliseconds(try values.integer("reconnect.max.ms", in: 1000...600_000)),
            maxAttempts: try values.integer("reconnect.attempts", in: 0...100_000),
            carriesOver: try values.choice("reconnect.carry.over", ConfigurationValues.yesOrNo))
        alwaysOn = AlwaysOn(
            enabled: try values.choice("always.on", ConfigurationValues.yesOrNo),
            pause: .milliseconds(try values.integer("always.on.pause.ms", in: 0...3_600_000)))
        let level = try values.string("log.level")
        guard let parsedLevel = Logger.Level(rawValue: level) else {
            throw ConfigurationError(key: "log.level", message: "'\(level)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        logLevel = parsedLevel
        let logged = try values.choice("log.transcripts", ConfigurationValues.yesOrNo)
        let shown = try values.choice("events.transcripts", ConfigurationValues.yesOrNo)
        transcripts = TranscriptPrivacy(logged: logged, shownToClients: logged || shown)
        metricsListen = try values.optional("metrics.listen").map { text in
            guard let address = MetricsAddress(text) else {
                throw ConfigurationError(key: "metrics.listen", message: "'\(text)' is not HOST:PORT (127.0.0.1:9464, [::1]:9464) or unix:/absolute/path")
            }
            return address
        }
        firstMessage = values.optional("first.message")
        prompt = values.optional("prompt")
        language = values.optional("language")
        voiceID = values.optional("voice.id")
        userID = values.optional("user.id")
    }
}

/// Looks up keys with their defaults and turns bad values into errors that
/// name the key.
package struct ConfigurationValues {
    package let lookup: (String) -> String?

    package static let yesOrNo = ["yes": true, "true": true, "no": false, "false": false]

    private func key(_ name: String) -> DaemonConfiguration.Key {
        DaemonConfiguration.keys.first { $0.name == name }!
    }

    package func optional(_ name: String) -> String? {
        (lookup(name) ?? key(name).defaultValue).flatMap { $0.isEmpty ? nil : $0 }
    }

    package func string(_ name: String) throws -> String {
        guard let value = optional(name) else {
            throw ConfigurationError(key: name, message: "must not be empty")
        }
        return value
    }

    package func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int {
        let text = try string(name)
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(key: name, message: "'\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    package func choice<Value>(_ name: String, _ choices: [String: Value]) throws -> Value {
        let text = try string(name).lowercased()
        guard let value = choices[text] else {
            throw ConfigurationError(key: name, message: "'\(text)' is not one of \(choices.keys.sorted().joined(separator: ", "))")
        }
        return value
    }
}

package struct ConfigurationError: Error, CustomStringConvertible {
    package let key: String?
    package let message: String

    package init(key: String?, message: String) {
        self.key = key
        self.message = message
    }

    package var description: String {
        guard let key, let entry = DaemonConfiguration.keys.first(where: { $0.name == key }) else { return message }
        return "invalid configuration \(entry.flag) (\(entry.environmentVariable), \(entry.fileKey) in the file): \(message)"
    }
}

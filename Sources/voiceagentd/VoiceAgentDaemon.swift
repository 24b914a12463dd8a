import AgentSession
import ArgumentParser
import ControlProtocol
import DaemonSettings
import FoundationEssentials
import Logging
import ServiceLifecycle
import SystemPackage
import UnixSignals

@main
struct VoiceAgentDaemon: AsyncParsableCommand {
    static let version = "0.2.0"
    static let source = SourceInfo(source: "voiceagentd", version: version)

    static let configuration = CommandConfiguration(
        commandName: "voiceagentd",
        abstract: "Runs an ElevenLabs Conversational AI agent on this machine's sound card.",
        discussion: """
            voiceagentd starts idle. It owns the ALSA capture and playback devices and the \
            agent's WebSocket session, and takes commands (start, stop, interrupt, status, \
            history, events, say, context, mute, unmute, feedback) on a Unix socket; use voiceagentctl. Every \
            conversation event goes to the journal with VOICEAGENT_* fields.

            Settings come from, highest first: these options; VOICEAGENTD_* environment \
            variables (VOICEAGENTD_AGENT_ID for --agent-id); the configuration file \
            (/etc/voiceagentd/voiceagentd.conf, KEY=value lines such as AGENT_ID=agent_123); \
            the defaults shown. The API key comes from the systemd credential \
            elevenlabs-api-key ($CREDENTIALS_DIRECTORY) or ELEVENLABS_API_KEY, and is never \
            logged or shown. Client tools live in the tools directory: NAME.tool (exec=/path \
            args…, timeout_ms=…) or an executable NAME; each reads the call's parameters as \
            JSON on stdin and answers with its stdout.

            Signals: SIGTERM and SIGINT end a conversation cleanly and exit; SIGHUP re-reads \
            the configuration: the log level applies at once, the rest from the next conversation.

            An invalid setting, when started by systemd (NOTIFY_SOCKET or LISTEN_FDS set), is \
            logged once and the daemon stays up answering every request with that error, so \
            socket activation does not restart it in a loop; fix the file and reload \
            (systemctl reload voiceagentd). Started by hand, it exits at once.

            Exit status: 0 after SIGTERM or SIGINT; 78 (EX_CONFIG) an invalid setting, when not \
            started by systemd; 1 any other failure to run (the control socket cannot be bound).
            """,
        version: version
    )

    @Option(help: "Configuration file (KEY=value lines). Default: /etc/voiceagentd/voiceagentd.conf if it exists.")
    var config: String?

    @Flag(help: "List the ALSA capture and playback devices, what each accepts and which the configuration selects, then exit.")
    var listDevices = false

    @Option(help: ArgumentHelp(Self.help("api.base.url"))) var apiBaseUrl: String?
    @Option(help: ArgumentHelp(Self.help("agent.id"))) var agentId: String?
    @Option(help: ArgumentHelp(Self.help("auth"))) var auth: String?
    @Option(help: ArgumentHelp(Self.help("extra.ca.file"))) var extraCaFile: String?
    @Option(help: ArgumentHelp(Self.help("capture.device"))) var captureDevice: String?
    @Option(help: ArgumentHelp(Self.help("playback.device"))) var playbackDevice: String?
    @Option(help: ArgumentHelp(Self.help("period.ms"))) var periodMs: String?
    @Option(help: ArgumentHelp(Self.help("chunk.ms"))) var chunkMs: String?
    @Option(help: ArgumentHelp(Self.help("realtime.priority"))) var realtimePriority: String?
    @Option(help: ArgumentHelp(Self.help("echo"))) var echo: String?
    @Option(help: ArgumentHelp(Self.help("echo.tail.ms"))) var echoTailMs: String?
    @Option(help: ArgumentHelp(Self.help("control.socket"))) var controlSocket: String?
    @Option(help: ArgumentHelp(Self.help("control.group"))) var controlGroup: String?
    @Option(help: ArgumentHelp(Self.help("tools.directory"))) var toolsDirectory: String?
    @Option(help: ArgumentHelp(Self.help("tool.timeout.ms"))) var toolTimeoutMs: String?
    @Option(help: ArgumentHelp(Self.help("connect.timeout.ms"))) var connectTimeoutMs: String?
    @Option(help: ArgumentHelp(Self.help("silence.timeout.ms"))) var silenceTimeoutMs: String?
    @Option(help: ArgumentHelp(Self.help("reconnect"))) var reconnect: String?
    @Option(help: ArgumentHelp(Self.help("reconnect.initial.ms"))) var reconnectInitialMs: String?
    @Option(help: ArgumentHelp(Self.help("reconnect.max.ms"))) var reconnectMaxMs: String?
    @Option(help: ArgumentHelp(Self.help("reconnect.attempts"))) var reconnectAttempts: String?
    @Option(help: ArgumentHelp(Self.help("reconnect.carry.over"))) var reconnectCarryOver: String?
    @Option(help: ArgumentHelp(Self.help("always.on"))) var alwaysOn: String?
    @Option(help: ArgumentHelp(Self.help("always.on.pause.ms"))) var alwaysOnPauseMs: String?
    @Option(help: ArgumentHelp(Self.help("log.level"))) var logLevel: String?
    @Option(help: ArgumentHelp(Self.help("log.transcripts"))) var logTranscripts: String?
    @Option(help: ArgumentHelp(Self.help("events.transcripts"))) var eventsTranscripts: String?
    @Option(help: ArgumentHelp(Self.help("metrics.listen"))) var metricsListen: String?
    @Option(help: ArgumentHelp(Self.help("first.message"))) var firstMessage: String?
    @Option(help: ArgumentHelp(Self.help("prompt"))) var prompt: String?
    @Option(help: ArgumentHelp(Self.help("language"))) var language: String?
    @Option(help: ArgumentHelp(Self.help("voice.id"))) var voiceId: String?
    @Option(help: ArgumentHelp(Self.help("user.id"))) var userId: String?

    static func help(_ key: String) -> String {
        let entry = DaemonConfiguration.keys.first { $0.name == key }!
        return entry.help + (entry.defaultValue.map { " (default: \($0))" } ?? "")
    }

    /// The options given, by configuration key.
    var flags: [String: String] {
        let given: [(String, String?)] = [
            ("api.base.url", apiBaseUrl), ("agent.id", agentId), ("auth", auth), ("extra.ca.file", extraCaFile),
            ("capture.device", captureDevice), ("playback.device", playbackDevice), ("period.ms", periodMs), ("chunk.ms", chunkMs), ("realtime.priority", realtimePriority),
            ("echo", echo), ("echo.tail.ms", echoTailMs),
            ("control.socket", controlSocket), ("control.group", controlGroup), ("tools.directory", toolsDirectory),
            ("tool.timeout.ms", toolTimeoutMs), ("connect.timeout.ms", connectTimeoutMs), ("silence.timeout.ms", silenceTimeoutMs),
            ("reconnect", reconnect), ("reconnect.initial.ms", reconnectInitialMs), ("reconnect.max.ms", reconnectMaxMs),
            ("reconnect.attempts", reconnectAttempts), ("reconnect.carry.over", reconnectCarryOver), ("always.on", alwaysOn),
            ("always.on.pause.ms", alwaysOnPauseMs), ("log.level", logLevel), ("metrics.listen", metricsListen),
            ("log.transcripts", logTranscripts), ("events.transcripts", eventsTranscripts),
            ("first.message", firstMessage), ("prompt", prompt), ("language", language), ("voice.id", voiceId), ("user.id", userId),
        ]
        return Dictionary(uniqueKeysWithValues: given.compactMap { key, value in value.map { (key, $0) } })
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        if listDevices {
            let configuration: DaemonConfiguration
            do {
                configuration = try await DaemonConfiguration.load(flags: flags, environment: environment, configFile: config)
            } catch {
                _ = try? FileDescriptor.standardError.writeAll("voiceagentd: \(error)\n".utf8)
                throw ExitCode(78)
            }
            print(await DeviceInventory.report(for: configuration.audio).lines.joined(separator: "\n"))
            return
        }
        var configuration = DaemonConfiguration.defaults
        var apiKey: String?
        var problem: String?
        do {
            configuration = try await DaemonConfiguration.load(flags: flags, environment: environment, configFile: config)
            apiKey = try APIKeySource.load(environment: environment)
        } catch {
            _ = try? FileDescriptor.standardError.writeAll("voiceagentd: \(error)\n".utf8)
            // By hand: fail at once. Under systemd: stay up and say why, since
            // every queued connection would start a failing daemon again.
            guard environment["NOTIFY_SOCKET"] != nil || environment["LISTEN_FDS"] != nil else {
                throw ExitCode(78)  // EX_CONFIG: systemd shows it as a configuration error
            }
            configuration = await DaemonConfiguration.listeningFallback(flags: flags, environment: environment, configFile: config)
            problem = "\(error)"
        }
        let underJournal = environment["JOURNAL_STREAM"] != nil
        let logLevel = SharedLogLevel(configuration.logLevel)
        LoggingSystem.bootstrap { label in
            let handler: any LogHandler = underJournal ? JournalLogHandler(logLevel: .info) : StreamLogHandler.standardError(label: label)
            return ReloadableLevelLogHandler(handler, level: logLevel)
        }
        let logger = Logger(label: "voiceagentd")
        let journal: any EventJournal = underJournal ? JournalEventJournal() : LoggerEventJournal(logger: logger)
        try await Daemon(
            configuration: configuration, configurationProblem: problem, apiKey: apiKey, journal: journal, logger: logger, logLevel: logLevel
        ) {
            try await DaemonConfiguration.load(flags: flags, environment: ProcessInfo.processInfo.environment, configFile: config)
        }.run()
    }
}

/// The daemon's parts, run as one service group that handles SIGTERM and
/// SIGINT with a graceful shutdown.
struct Daemon {
    /// Below the unit's TimeoutStopSec=15: what has not ended by then is cancelled.
    static let shutdownLimit = Duration.seconds(10)

    let configuration: DaemonConfiguration
    /// Why the configuration could not be read at start, if it could not.
    let configurationProblem: String?
    let apiKey: String?
    let journal: any EventJournal
    let logger: Logger
    let logLevel: SharedLogLevel
    let reloadConfiguration: @Sendable () async throws -> DaemonConfiguration

    func run() async throws {
        let notifier = SystemdNotifier()
        let events = EventLog(journal: journal, privacy: configuration.transcripts)
        let supervisor = ConversationSupervisor(
            configuration: configuration, configurationProblem: configurationProblem, apiKey: apiKey, events: events, notifier: notifier,
            logger: logger)
        if let configurationProblem {
            logger.error("the configuration is invalid; every request is answered with this until it is fixed and reloaded: \(configurationProblem)")
        }
        var services: [any Service] = [
            ControlServer(
                path: configuration.controlSocket, group: configuration.controlGroup,
                commands: ControlCommands(supervisor: supervisor, events: events), notifier: notifier, logger: logger),
            supervisor,
            Watchdog(supervisor: supervisor, notifier: notifier),
            ConfigurationReloader(supervisor: supervisor, notifier: notifier, logger: logger, logLevel: logLevel, load: reloadConfiguration),
        ]
        if let address = configuration.metricsListen {
            services.append(MetricsEndpoint(address: address, registry: DaemonMetrics.bootstrapPrometheus(), logger: logger))
        }
        var groupConfiguration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = Self.shutdownLimit
        try await ServiceGroup(configuration: groupConfiguration).run()
        logger.info("stopped")
    }
}

/// Pings systemd's watchdog, but only while the supervisor answers.
struct Watchdog: Service {
    let supervisor: ConversationSupervisor
    let notifier: SystemdNotifier

    func run() async throws {
        guard let interval = notifier.watchdogInterval else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if await supervisor.heartbeat() { notifier.watchdog() }
                try? await Task.sleep(for: interval / 2)
            }
        }
    }
}

/// SIGHUP: read the configuration again; the next conversation uses it.
struct ConfigurationReloader: Service {
    let supervisor: ConversationSupervisor
    let notifier: SystemdNotifier
    let logger: Logger
    let logLevel: SharedLogLevel
    let load: @Sendable () async throws -> DaemonConfiguration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                do {
                    let configuration = try await load()
                    await supervisor.reload(configuration)
                    logLevel.set(configuration.logLevel)
                    logger.info("configuration reloaded; the log level applies now, the rest from the next conversation")
                } catch {
                    logger.error("configuration not reloaded, the previous one stays: \(error)")
                }
                notifier.status(await supervisor.systemdStatus)
            }
        }
    }
}

import AudioEngine
import ControlProtocol
import DaemonSettings
import Foundation
import PacedAudioFixture
import Testing
@testable import voiceagentd

@Suite("Daemon configuration")
struct ConfigurationTests {
    func temporaryFile(_ contents: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("voiceagentd-\(UUID().uuidString).conf").path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func defaultsWhenNothingIsSet() async throws {
        let configuration = try await DaemonConfiguration.load(flags: [:], environment: [:], configFile: try temporaryFile(""))
        #expect(configuration.apiBaseURL == "https://api.elevenlabs.io")
        #expect(configuration.agentID == nil)
        #expect(configuration.authentication == nil)
        #expect(configuration.audio.captureDevice == "default")
        #expect(configuration.audio.periodMilliseconds == 20)
        #expect(configuration.controlSocket == "/run/voiceagentd/control.sock")
        #expect(configuration.controlGroup == "voiceagent")
        #expect(configuration.toolTimeout == .seconds(10))
        #expect(configuration.transcripts == .keepEverything)
        #expect(configuration.audio.echo == .none)
    }

    @Test func transcriptsKeptOutOfTheLogAreShownToClientsOnlyWhenAllowed() async throws {
        let file = try temporaryFile("LOG_TRANSCRIPTS=no\n")
        let withheld = try await DaemonConfiguration.load(flags: [:], environment: [:], configFile: file)
        #expect(withheld.transcripts == TranscriptPrivacy(logged: false, shownToClients: false))
        let shown = try await DaemonConfiguration.load(flags: [:], environment: ["VOICEAGENTD_EVENTS_TRANSCRIPTS": "yes"], configFile: file)
        #expect(shown.transcripts == TranscriptPrivacy(logged: false, shownToClients: true))
        await #expect {
            try await DaemonConfiguration.load(flags: [:], environment: [:], configFile: try temporaryFile("LOG_TRANSCRIPTS=off\n"))
        } throws: { error in
            String(describing: error).hasPrefix("invalid configuration --log-transcripts (VOICEAGENTD_LOG_TRANSCRIPTS, LOG_TRANSCRIPTS in the file): 'off'")
        }
    }

    @Test func flagsBeatEnvironmentBeatsFileBeatsDefaults() async throws {
        let file = try temporaryFile(
            """
            # every layer sets the agent; the file alone sets the period
            AGENT_ID=from_file
            PERIOD_MS=40
            CAPTURE_DEVICE=hw:1,0
            PLAYBACK_DEVICE=plughw:1,0
            """)
        let configuration = try await DaemonConfiguration.load(
            flags: ["agent.id": "from_flag"],
            environment: ["VOICEAGENTD_AGENT_ID": "from_environment", "VOICEAGENTD_CAPTURE_DEVICE": "plughw:2,0"],
            configFile: file)
        #expect(configuration.agentID == "from_flag")
        #expect(configuration.audio.captureDevice == "plughw:2,0")
        #expect(configuration.audio.playbackDevice == "plughw:1,0")
        #expect(configuration.audio.periodMilliseconds == 40)
    }

    @Test func invalidValuesNameTheirKey() async throws {
        let file = try temporaryFile("")
        await #expect {
            try await DaemonConfiguration.load(flags: ["period.ms": "fast"], environment: [:], configFile: file)
        } throws: { error in
            String(describing: error) == "invalid configuration --period-ms (VOICEAGENTD_PERIOD_MS, PERIOD_MS in the file): 'fast' is not a whole number from 5 to 100"
        }
        await #expect {
            try await DaemonConfiguration.load(flags: [:], environment: ["VOICEAGENTD_AUTH": "maybe"], configFile: file)
        } throws: { error in
            String(describing: error).hasPrefix("invalid configuration --auth (VOICEAGENTD_AUTH, AUTH in the file): 'maybe' is not one of")
        }
        await #expect {
            try await DaemonConfiguration.load(flags: [:], environment: [:], configFile: try temporaryFile("ECHO=cancle\n"))
        } throws: { error in
            String(describing: error) == "invalid configuration --echo (VOICEAGENTD_ECHO, ECHO in the file): 'cancle' is not one of cancel, half-duplex, none"
        }
        await #expect {
            try await DaemonConfiguration.load(flags: ["api.base.url": "ftp://x"], environment: [:], configFile: file)
        } throws: { error in
            String(describing: error).contains("--api-base-url")
        }
        await #expect {
            try await DaemonConfiguration.load(flags: [:], environment: [:], configFile: file + ".missing")
        } throws: { error in
            String(describing: error).hasPrefix("cannot read the configuration file")
        }
    }

    @Test func theMetricsListenerTakesAnAddressOrASocket() async throws {
        let file = try temporaryFile("")
        let load = { (value: String) in try await DaemonConfiguration.load(flags: ["metrics.listen": value], environment: [:], configFile: file) }
        #expect(try await load("127.0.0.1:9464").metricsListen == .tcp(host: "127.0.0.1", port: 9464))
        #expect(try await load("[::1]:9464").metricsListen == .tcp(host: "::1", port: 9464))
        #expect(try await load("unix:/run/voiceagentd/metrics.sock").metricsListen == .unix(path: "/run/voiceagentd/metrics.sock"))
        #expect(try await DaemonConfiguration.load(flags: [:], environment: [:], configFile: file).metricsListen == nil, "off by default")
        for typo in ["9464", "localhost:http", "127.0.0.1:70000", "unix:relative.sock"] {
            await #expect("\(typo)") {
                try await load(typo)
            } throws: { error in
                String(describing: error).hasPrefix("invalid configuration --metrics-listen (VOICEAGENTD_METRICS_LISTEN, METRICS_LISTEN in the file): '\(typo)' is not HOST:PORT")
            }
        }
    }

    @Test func everyKeyIsAnOptionOfTheDaemon() async throws {
        let help = try await runProgram(Binaries.path("voiceagentd"), ["--help"])
        for key in DaemonConfiguration.keys {
            #expect(help.output.contains(key.flag + " <"), "\(key.flag)")
        }
    }

    @Test func theInstalledExampleListsEveryKeyWithItsDefault() async throws {
        let example = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../packaging/voiceagentd.conf"),
            encoding: .utf8)
        let commented = Dictionary(
            example.split(separator: "\n").filter { $0.hasPrefix("#") && $0.contains("=") && !$0.contains(" ") }
                .map { line -> (String, String) in
                    let parts = line.dropFirst().split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    return (String(parts[0]), String(parts[1]))
                },
            uniquingKeysWith: { first, _ in first })
        for key in DaemonConfiguration.keys {
            #expect(commented[key.fileKey] == (key.defaultValue ?? ""), "\(key.fileKey) in packaging/voiceagentd.conf")
        }
        #expect(commented.count == DaemonConfiguration.keys.count, "no key that the daemon does not know")
        let uncommented = commented.filter { !$0.value.isEmpty }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        let loaded = try await DaemonConfiguration.load(flags: [:], environment: [:], configFile: try temporaryFile(uncommented))
        #expect(loaded == (try await DaemonConfiguration.load(flags: [:], environment: [:], configFile: try temporaryFile(""))))
    }

    @Test func theAPIKeyComesFromTheCredentialFirst() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("credentials-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "sk_credential\n".write(toFile: directory + "/elevenlabs-api-key", atomically: true, encoding: .utf8)
        #expect(try APIKeySource.load(environment: ["CREDENTIALS_DIRECTORY": directory, "ELEVENLABS_API_KEY": "sk_env"]) == "sk_credential")
        #expect(try APIKeySource.load(environment: ["ELEVENLABS_API_KEY": "sk_env"]) == "sk_env")
        #expect(try APIKeySource.load(environment: ["ELEVENLABS_API_KEY": " "]) == nil)
    }
}

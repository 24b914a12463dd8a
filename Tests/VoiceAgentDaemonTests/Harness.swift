import AgentSimulator
import ControlProtocol
import Foundation
import Glibc
import Logging
import NIOConcurrencyHelpers
import PacedAudioFixture
import Testing

/// The built programs, found next to the test bundle.
enum Binaries {
    static let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path

    static func path(_ name: String) -> String {
        let path = directory + "/" + name
        precondition(FileManager.default.isExecutableFile(atPath: path), "\(path) is not built: run swift build --build-tests")
        return path
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

func waitFor(_ what: String, timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// A loud tone, as a user speaking, then silence to end the turn.
func spokenTurn(seconds: Double = 0.6) -> Data {
    let tone = (0..<Int(seconds * 16000)).map { Int16(sin(Double($0) * 0.2) * 12000) }
    var data = tone.withUnsafeBytes { Data($0) }
    data.append(Data(count: 16000 * 2))
    return data
}

/// A simulator in this process, on a free port.
final class SimulatorProcess: Sendable {
    let simulator: AgentSimulator
    let baseURL: String
    private let server: Task<Void, any Error>

    init(_ configure: (inout SimulatorConfiguration) -> Void = { _ in }) async throws {
        var configuration = SimulatorConfiguration()
        configuration.port = 0
        configuration.pingInterval = .milliseconds(200)
        configuration.replySeconds = 1
        configure(&configuration)
        var logger = Logger(label: "simulator")
        logger.logLevel = .critical
        let simulator = try AgentSimulator(configuration: configuration, logger: logger)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        server = Task { try await simulator.run { portSink.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        self.simulator = simulator
        baseURL = "http://127.0.0.1:\(port)"
    }

    deinit {
        server.cancel()
    }

    func received(_ type: String) async -> [RecordedMessage] {
        await simulator.recorder.messages().filter { $0.type == type }
    }
}

/// The simulator as a process of its own on a given port, for a test that
/// kills the agent's server as a crash would.
struct SimulatorChild {
    private let process = Process()

    init(port: Int, arguments: [String]) async throws {
        process.executableURL = URL(fileURLWithPath: Binaries.path("voiceagent-simulator"))
        process.arguments = ["--port", String(port), "--ping-interval-milliseconds", "200"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try await waitFor("the simulator on port \(port)") { canConnect(toLoopbackPort: port) }
    }

    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// voiceagentd running as its own process on the paced devices.
final class DaemonProcess: Sendable {
    let directory: String
    let process: Process
    var socketPath: String { directory + "/control.sock" }
    var configurationPath: String { directory + "/voiceagentd.conf" }
    private let baseSettings: [String: String]
    var logPath: String { directory + "/voiceagentd.log" }

    /// The daemon's settings as flags, or, with `configurationFile`, in a
    /// file the test can rewrite and reload (flags would override it).
    init(
        simulator: SimulatorProcess, audio: PacedAudioServer = .daemonTests, arguments: [String] = [], environment: [String: String] = [:],
        launcher: [String] = [], waitForSocket: Bool = true, configurationFile: [String: String]? = nil
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("voiceagentd-e2e-\(UUID().uuidString)").path
        process = Process()
        try FileManager.default.createDirectory(atPath: directory + "/tools.d", withIntermediateDirectories: true)
        try await audio.ready()
        let settings = [
            "api.base.url": simulator.baseURL, "agent.id": "agent_e2e", "capture.device": "voiceagent_mic",
            "playback.device": "voiceagent_speaker", "tools.directory": directory + "/tools.d", "log.level": "debug",
        ]
        var daemonArguments = ["--control-socket", directory + "/control.sock"]
        if let configurationFile {
            baseSettings = settings.merging(configurationFile) { $1 }
            try writeConfiguration([:])
            daemonArguments += ["--config", configurationPath]
        } else {
            baseSettings = [:]
            daemonArguments += settings.flatMap { ["--" + $0.key.replacing(".", with: "-"), $0.value] }
        }
        daemonArguments += arguments
        if launcher.isEmpty {
            process.executableURL = URL(fileURLWithPath: Binaries.path("voiceagentd"))
            process.arguments = daemonArguments
        } else {
            process.executableURL = URL(fileURLWithPath: launcher[0])
            process.arguments = Array(launcher.dropFirst()) + [Binaries.path("voiceagentd")] + daemonArguments
        }
        var inherited = ProcessInfo.processInfo.environment
        inherited["JOURNAL_STREAM"] = nil
        process.environment = inherited.merging(audio.environment) { $1 }.merging(environment) { $1 }
        guard FileManager.default.createFile(atPath: directory + "/voiceagentd.log", contents: nil) else {
            throw TimedOut(what: "a log file in \(directory)")
        }
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/voiceagentd.log"))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        if waitForSocket {
            try await waitFor("the control socket") { (try? await self.ctl("status")).map { $0.status == 0 } ?? false }
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    func ctl(_ arguments: String...) async throws -> ProgramResult {
        try await runProgram(Binaries.path("voiceagentctl"), arguments, environment: ["VOICEAGENTD_CONTROL_SOCKET": socketPath])
    }

    /// `status` asked on the socket directly: tests poll it, and a process
    /// per poll would measure process spawning, not the daemon.
    func status() async throws -> StatusReport {
        try query(.status, answer: StatusReport.self)
    }

    func history() async throws -> HistoryReport {
        try query(.history, answer: HistoryReport.self)
    }

    private func query<Answer: Decodable & Sendable>(_ command: ControlCommand, answer: Answer.Type) throws -> Answer {
        let client = try RawControlClient(path: socketPath)
        try client.send(ControlCodec.encode(ControlRequest(id: command.name, command: command)))
        guard case .reply(_, let result?) = try ControlCodec.decodeMessage(try client.readLine(), result: Answer.self) else {
            throw TimedOut(what: "a \(command.name) reply")
        }
        return result
    }

    /// SIGTERM, then the exit status.
    func terminate() async throws -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        try await waitFor("voiceagentd to exit") { !self.process.isRunning }
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Writes the configuration file: the settings it started with, changed by `changes`.
    func writeConfiguration(_ changes: [String: String]) throws {
        let lines = baseSettings.merging(changes) { $1 }.sorted { $0.key < $1.key }.map {
            $0.key.replacing(".", with: "_").uppercased() + "=" + $0.value
        }
        try lines.joined(separator: "\n").appending("\n").write(toFile: configurationPath, atomically: true, encoding: .utf8)
    }

    /// SIGHUP, and waits until the daemon says it read the file again.
    func reload() async throws {
        let before = log.components(separatedBy: "configuration reloaded").count
        kill(process.processIdentifier, SIGHUP)
        try await waitFor("the reload") { self.log.components(separatedBy: "configuration reloaded").count > before }
    }

    func addTool(_ name: String, script: String) throws {
        let path = directory + "/tools.d/" + name
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }
}

/// `voiceagentctl events --follow --json`, read line by line.
final class EventFollower: Sendable {
    private let lines = LineCollector()
    private let follower: RunningProgram

    init(socket: String) throws {
        follower = try RunningProgram(
            Binaries.path("voiceagentctl"), ["events", "--follow", "--json", "--socket", socket], output: lines.append)
    }

    var events: [ControlEvent] {
        lines.all.compactMap { try? JSONDecoder().decode(ControlEvent.self, from: Data($0.utf8)) }
    }

    func waitFor(_ what: String, timeout: Duration = .seconds(15), _ match: @escaping (ControlEvent) -> Bool) async throws -> ControlEvent {
        var found: ControlEvent?
        try await VoiceAgentDaemonTests.waitFor(what, timeout: timeout) {
            found = self.events.first(where: match)
            return found != nil
        }
        return found!
    }
}

/// Bytes in, complete lines out, from any thread.
final class LineCollector: Sendable {
    private let state = NIOLockedValueBox<(partial: Data, lines: [String])>((Data(), []))

    func append(_ chunk: Data) {
        state.withLockedValue { state in
            state.partial.append(chunk)
            while let newline = state.partial.firstIndex(of: UInt8(ascii: "\n")) {
                state.lines.append(String(decoding: state.partial[state.partial.startIndex..<newline], as: UTF8.self))
                state.partial.removeSubrange(state.partial.startIndex...newline)
            }
        }
    }

    var all: [String] { state.withLockedValue { $0.lines } }
}

extension PacedAudioServer {
    static let daemonTests = PacedAudioServer(name: "daemon")
}

import AgentSimulator
import ControlProtocol
import Foundation
import Glibc
import Logging
import Synchronization
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

/// What a finished program printed and how it exited.
struct ProgramResult: Sendable {
    var status: Int32
    var output: String
    var errors: String
}

/// Runs a program to its end without blocking a cooperative thread: its
/// output goes to files, read once it has exited.
func runProgram(_ path: String, _ arguments: [String], environment: [String: String] = [:], input: Data? = nil) async throws -> ProgramResult {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("program-\(UUID().uuidString)").path
    let outputPath = base + ".out"
    let errorPath = base + ".err"
    let inputPath = base + ".in"
    defer {
        for file in [outputPath, errorPath, inputPath] { unlink(file) }
    }
    for file in [outputPath, errorPath] where !FileManager.default.createFile(atPath: file, contents: nil) {
        throw TimedOut(what: "a temporary file at \(file)")
    }
    try (input ?? Data()).write(to: URL(fileURLWithPath: inputPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
    process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputPath))
    let (exits, exited) = AsyncStream.makeStream(of: Int32.self)
    process.terminationHandler = { exited.yield($0.terminationStatus) }
    try process.run()
    var iterator = exits.makeAsyncIterator()
    let status = await iterator.next() ?? -1
    return ProgramResult(
        status: status, output: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
        errors: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
}

/// A private PulseAudio with null sinks `speaker` and `mic`, as ALSA PCMs
/// `voiceagent_speaker` and `voiceagent_mic` (the mic sink's monitor): real
/// time paced devices without a sound card. One per test process; it exits
/// by itself when idle, and is started again when needed.
actor PacedAudio {
    static let shared = PacedAudio()

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voiceagent-pulse-\(getpid())").path
    var environment: [String: String] {
        ["PULSE_SERVER": "unix:\(directory)/runtime/native", "ALSA_CONFIG_PATH": "/usr/share/alsa/alsa.conf:\(directory)/asound.conf"]
    }

    func ready() async throws -> [String: String] {
        if try await isRunning() { return environment }
        try FileManager.default.createDirectory(atPath: directory + "/runtime", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/home", withIntermediateDirectories: true)
        try """
            load-module module-native-protocol-unix auth-anonymous=1 socket=\(directory)/runtime/native
            load-module module-null-sink sink_name=speaker rate=16000 channels=1
            load-module module-null-sink sink_name=mic rate=16000 channels=1
            """.write(toFile: directory + "/default.pa", atomically: true, encoding: .utf8)
        try """
            pcm.voiceagent_speaker { type pulse; device speaker }
            pcm.voiceagent_mic { type pulse; device mic.monitor }
            """.write(toFile: directory + "/asound.conf", atomically: true, encoding: .utf8)
        let pulse = Process()
        pulse.executableURL = URL(fileURLWithPath: "/usr/bin/pulseaudio")
        // Daemonized, so it outlives whatever spawned it; idle, it exits by itself.
        pulse.arguments = ["-n", "-F", directory + "/default.pa", "--daemonize=yes", "--exit-idle-time=20", "--log-target=file:" + directory + "/pulseaudio.log"]
        pulse.environment = ["HOME": directory + "/home", "XDG_RUNTIME_DIR": directory + "/runtime", "PATH": "/usr/bin:/bin"]
        pulse.standardError = FileHandle.nullDevice
        pulse.standardOutput = FileHandle.nullDevice
        try pulse.run()
        let deadline = ContinuousClock.now + .seconds(15)
        while try await !isRunning() {
            guard ContinuousClock.now < deadline else { throw TimedOut(what: "PulseAudio to accept clients") }
            try await Task.sleep(for: .milliseconds(20))
        }
        // The first stream after idle can stall: warm the microphone path up.
        _ = try await play(Data(count: 3200))
        return environment
    }

    private func isRunning() async throws -> Bool {
        try await runProgram("/usr/bin/pactl", ["info"], environment: environment).status == 0
    }

    /// Plays PCM (s16le, 16 kHz, mono) into the microphone, in real time.
    func play(_ samples: Data) async throws -> ProgramResult {
        try await runProgram(
            "/usr/bin/pacat", ["--device=mic", "--format=s16le", "--rate=16000", "--channels=1", "--latency-msec=20"],
            environment: environment, input: samples)
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

/// voiceagentd running as its own process on the paced devices.
final class DaemonProcess: Sendable {
    let directory: String
    let process: Process
    var socketPath: String { directory + "/control.sock" }
    var logPath: String { directory + "/voiceagentd.log" }

    init(
        simulator: SimulatorProcess, arguments: [String] = [], environment: [String: String] = [:], launcher: [String] = [],
        waitForSocket: Bool = true
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("voiceagentd-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/tools.d", withIntermediateDirectories: true)
        let audio = try await PacedAudio.shared.ready()
        let daemonArguments =
            [
                "--api-base-url", simulator.baseURL, "--agent-id", "agent_e2e", "--capture-device", "voiceagent_mic",
                "--playback-device", "voiceagent_speaker", "--control-socket", directory + "/control.sock",
                "--tools-directory", directory + "/tools.d", "--log-level", "debug",
            ] + arguments
        process = Process()
        if launcher.isEmpty {
            process.executableURL = URL(fileURLWithPath: Binaries.path("voiceagentd"))
            process.arguments = daemonArguments
        } else {
            process.executableURL = URL(fileURLWithPath: launcher[0])
            process.arguments = Array(launcher.dropFirst()) + [Binaries.path("voiceagentd")] + daemonArguments
        }
        var inherited = ProcessInfo.processInfo.environment
        inherited["JOURNAL_STREAM"] = nil
        process.environment = inherited.merging(audio) { $1 }.merging(environment) { $1 }
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

    func status() async throws -> StatusReport {
        let result = try await ctl("status", "--json")
        return try JSONDecoder().decode(StatusReport.self, from: Data(result.output.utf8))
    }

    /// SIGTERM, then the exit status.
    func terminate() async throws -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        try await waitFor("voiceagentd to exit") { !self.process.isRunning }
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func addTool(_ name: String, script: String) throws {
        let path = directory + "/tools.d/" + name
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }
}

/// `voiceagentctl events --follow --json`, read line by line.
final class EventFollower: Sendable {
    private let process = Process()
    private let lines = LineCollector()

    init(socket: String) throws {
        process.executableURL = URL(fileURLWithPath: Binaries.path("voiceagentctl"))
        process.arguments = ["events", "--follow", "--json", "--socket", socket]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        output.fileHandleForReading.readabilityHandler = { [lines] handle in
            lines.append(handle.availableData)
        }
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
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
    private let state = Mutex<(partial: Data, lines: [String])>((Data(), []))

    func append(_ chunk: Data) {
        state.withLock { state in
            state.partial.append(chunk)
            while let newline = state.partial.firstIndex(of: UInt8(ascii: "\n")) {
                state.lines.append(String(decoding: state.partial[state.partial.startIndex..<newline], as: UTF8.self))
                state.partial.removeSubrange(state.partial.startIndex...newline)
            }
        }
    }

    var all: [String] { state.withLock { $0.lines } }
}

import Foundation
import Glibc

/// A private PulseAudio with null sinks `speaker` and `mic`, reached through
/// ALSA's pulse plugin as `voiceagent_speaker` and `voiceagent_mic` (the mic
/// sink's monitor): devices that run in real time without a sound card.
/// Suites that run side by side each use their own, by name, so that one
/// does not hear the other. It runs daemonized, so it outlives whatever
/// started it, and exits by itself once idle; `ready` starts it again.
public actor PacedAudioServer {
    public nonisolated let directory: String

    public init(name: String) {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("voiceagent-pulse-\(name)-\(getpid())").path
    }
    public nonisolated var server: String { "unix:\(directory)/runtime/native" }
    /// The ALSA configuration that defines the two PCMs.
    public nonisolated var alsaConfiguration: String { directory + "/asound.conf" }

    /// What a program needs in its environment to use the devices.
    public nonisolated var environment: [String: String] {
        ["PULSE_SERVER": server, "ALSA_CONFIG_PATH": "/usr/share/alsa/alsa.conf:" + alsaConfiguration]
    }

    public func ready() async throws {
        if try await isRunning() { return }
        try FileManager.default.createDirectory(atPath: directory + "/runtime", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/home", withIntermediateDirectories: true)
        try """
            load-module module-native-protocol-unix auth-anonymous=1 socket=\(directory)/runtime/native
            load-module module-null-sink sink_name=speaker rate=16000 channels=1
            load-module module-null-sink sink_name=mic rate=16000 channels=1
            """.write(toFile: directory + "/default.pa", atomically: true, encoding: .utf8)
        try """
            pcm.voiceagent_speaker { type pulse; device speaker; handle_underrun true }
            pcm.voiceagent_mic { type pulse; device mic.monitor }
            """.write(toFile: alsaConfiguration, atomically: true, encoding: .utf8)
        _ = try await runProgram(
            "/usr/bin/pulseaudio",
            ["-n", "-F", directory + "/default.pa", "--daemonize=yes", "--exit-idle-time=20", "--disable-shm=yes", "--log-target=file:\(directory)/pulseaudio.log"],
            environment: ["HOME": directory + "/home", "XDG_RUNTIME_DIR": directory + "/runtime"])
        let deadline = ContinuousClock.now + .seconds(15)
        while try await !isRunning() {
            guard ContinuousClock.now < deadline else { throw FixtureError("PulseAudio did not start; see \(directory)/pulseaudio.log") }
            try await Task.sleep(for: .milliseconds(20))
        }
        // The first stream after idle can stall: warm the microphone path up.
        _ = try await play(Data(count: 3200))
    }

    /// Plays PCM (s16le, 16 kHz, mono) into the microphone, in real time.
    public nonisolated func play(_ samples: Data) async throws -> ProgramResult {
        try await runProgram(
            "/usr/bin/pacat", ["--device=mic", "--format=s16le", "--rate=16000", "--channels=1", "--latency-msec=20"],
            environment: environment, input: samples)
    }

    /// Asks the server to exit, as if the sound device went away.
    public nonisolated func exit() async throws {
        _ = try await runProgram("/usr/bin/pactl", ["exit"], environment: environment)
    }

    /// Freezes the server for `duration`, as a sound system does that is
    /// starved of CPU: on waking, the sink consumes the missed time at once
    /// and a playback stream without that much queued underruns.
    public func stall(for duration: Duration) async throws {
        let pidFile = directory + "/runtime/pulse/pid"
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw FixtureError("no PulseAudio pid in \(pidFile)")
        }
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        try await Task.sleep(for: duration)
    }

    private func isRunning() async throws -> Bool {
        try await runProgram("/usr/bin/pactl", ["info"], environment: environment).status == 0
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What a finished program printed and how it exited.
public struct ProgramResult: Sendable {
    public var status: Int32
    public var output: String
    public var errors: String
}

/// Runs a program to its end without blocking a cooperative thread: its
/// output goes to files, read once it has exited.
public func runProgram(_ path: String, _ arguments: [String], environment: [String: String] = [:], input: Data? = nil) async throws -> ProgramResult {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("program-\(UUID().uuidString)").path
    let outputPath = base + ".out"
    let errorPath = base + ".err"
    let inputPath = base + ".in"
    defer {
        for file in [outputPath, errorPath, inputPath] { unlink(file) }
    }
    for file in [outputPath, errorPath] where !FileManager.default.createFile(atPath: file, contents: nil) {
        throw FixtureError("cannot create \(file)")
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

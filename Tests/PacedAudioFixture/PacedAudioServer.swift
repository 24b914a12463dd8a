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

    /// Whether the speaker reports underruns, as real cards do.
    public nonisolated let reportsUnderruns: Bool

    public init(name: String, reportsUnderruns: Bool = true) {
        self.reportsUnderruns = reportsUnderruns
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
            pcm.voiceagent_speaker { type pulse; device speaker; handle_underrun \(reportsUnderruns) }
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

    /// An acoustic echo without a room: what the speaker plays comes back
    /// into the microphone `latencyMilliseconds` later, `gainDB` quieter
    /// (a loopback from the speaker's monitor into the microphone sink).
    public func addEchoPath(latencyMilliseconds: Int, gainDB: Int) async throws {
        // One echo at a time: a path made before, with other figures, goes.
        _ = try await runProgram("/usr/bin/pactl", ["unload-module", "module-loopback"], environment: environment)
        // The microphone's null sink sometimes starts the loopback's stream
        // with half a second of latency of its own, which would make the
        // echo that much later than asked: such a path is made again.
        for _ in 0..<10 {
            let (module, input) = try await loadLoopback(latencyMilliseconds: latencyMilliseconds)
            try await Task.sleep(for: .milliseconds(500))
            if try await sinkLatencyMicroseconds(of: input) <= 30_000 {
                // A linear factor: this pactl reads no negative decibels.
                let factor = String(format: "%.4f", pow(10, Double(gainDB) / 20))
                let set = try await runProgram("/usr/bin/pactl", ["set-sink-input-volume", input, factor], environment: environment)
                guard set.status == 0 else { throw FixtureError("cannot set the echo's volume: \(set.errors)") }
                // The speaker's first stream after idle stalls, as the
                // microphone's does: warm it up before a test listens.
                _ = try await runProgram(
                    "/usr/bin/pacat", ["--device=speaker", "--format=s16le", "--rate=16000", "--channels=1", "--latency-msec=20"],
                    environment: environment, input: Data(count: 3200))
                return
            }
            _ = try await runProgram("/usr/bin/pactl", ["unload-module", module], environment: environment)
        }
        throw FixtureError("the loopback kept starting with a long latency of the microphone's sink")
    }

    /// The microphone hears nothing of the speaker again (a headset).
    public func removeEchoPath() async throws {
        _ = try await runProgram("/usr/bin/pactl", ["unload-module", "module-loopback"], environment: environment)
    }

    /// Loads a loopback from the speaker's monitor into the microphone;
    /// returns its module and its sink input.
    private func loadLoopback(latencyMilliseconds: Int) async throws -> (module: String, input: String) {
        let loaded = try await runProgram(
            "/usr/bin/pactl", [
                // A room's delay stays put: no rate adjustment, which would
                // stretch the path's delay by a sample a second.
                "load-module", "module-loopback", "source=speaker.monitor", "sink=mic", "latency_msec=\(latencyMilliseconds)", "adjust_time=0",
            ],
            environment: environment)
        let module = loaded.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard loaded.status == 0, Int(module) != nil else { throw FixtureError("module-loopback did not load: \(loaded.errors)") }
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let block = try await sinkInputBlocks().first(where: { $0.contains("Owner Module: \(module)\n") }) {
                return (module, String(block.prefix { $0.isNumber }))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw FixtureError("the loopback's sink input did not appear")
    }

    private func sinkLatencyMicroseconds(of input: String) async throws -> Int {
        guard let block = try await sinkInputBlocks().first(where: { $0.hasPrefix(input + "\n") }),
            let line = block.split(separator: "\n").first(where: { $0.contains("Sink Latency:") }),
            let value = Int(line.split(separator: " ").dropFirst(2).first ?? "")
        else { throw FixtureError("no sink latency for sink input \(input)") }
        return value
    }

    /// `pactl list sink-inputs`, one block per input, each starting with its index.
    private func sinkInputBlocks() async throws -> [String] {
        let inputs = try await runProgram("/usr/bin/pactl", ["list", "sink-inputs"], environment: environment).output
        return Array(inputs.components(separatedBy: "Sink Input #").dropFirst())
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

/// Speech for acoustic tests, synthesized by espeak-ng and converted by sox
/// to 16-bit mono PCM at `sampleRate`.
public func synthesizedSpeech(_ text: String, voice: String, sampleRate: Int = 16000) async throws -> [Int16] {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("speech-\(UUID().uuidString).wav").path
    defer { unlink(path) }
    let spoken = try await runProgram("/usr/bin/espeak-ng", ["-v", voice, "-w", path, text])
    guard spoken.status == 0 else { throw FixtureError("espeak-ng failed: \(spoken.errors)") }
    let converted = try await runProgram(
        "/usr/bin/sox", [path, "-t", "raw", "-r", String(sampleRate), "-c", "1", "-e", "signed", "-b", "16", "-L", path + ".raw"])
    defer { unlink(path + ".raw") }
    guard converted.status == 0, let bytes = FileManager.default.contents(atPath: path + ".raw") else {
        throw FixtureError("sox failed: \(converted.errors)")
    }
    return bytes.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
}

/// Speech synthesized once, on first use, and kept for every test after.
public actor SpeechClip {
    public let text: String
    public let voice: String
    private var made: [Int16]?

    public init(_ text: String, voice: String) {
        self.text = text
        self.voice = voice
    }

    public func samples() async throws -> [Int16] {
        if let made { return made }
        let samples = try await synthesizedSpeech(text, voice: voice)
        made = samples
        return samples
    }
}

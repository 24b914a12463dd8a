import AgentSession
@testable import AudioEngine
import Foundation
import Glibc
import Synchronization
import Testing

/// A private PulseAudio with null sinks `speaker` and `mic`, as the ALSA
/// PCMs `voiceagent_speaker` and `voiceagent_mic` (the mic sink's monitor):
/// devices that run in real time without a sound card. ALSA and libpulse
/// read these settings from the environment, so this process sets them once.
enum PacedDevices {
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voiceagent-audio-pulse-\(getpid())").path
    static let server = "unix:\(directory)/runtime/native"

    /// Starts PulseAudio (daemonized: it outlives whoever started it and
    /// exits by itself when idle) unless it already answers.
    static func ready() throws {
        if pactl(["info"]) == 0 { return }
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
        setenv("PULSE_SERVER", server, 1)
        let pulse = Process()
        pulse.executableURL = URL(fileURLWithPath: "/usr/bin/pulseaudio")
        pulse.arguments = ["-n", "-F", directory + "/default.pa", "--daemonize=yes", "--exit-idle-time=20", "--log-target=file:\(directory)/pulse.log"]
        pulse.environment = ["HOME": directory + "/home", "XDG_RUNTIME_DIR": directory + "/runtime", "PATH": "/usr/bin:/bin"]
        try pulse.run()
        pulse.waitUntilExit()
        for _ in 0..<300 where pactl(["info"]) != 0 {
            usleep(10_000)
        }
    }

    /// The ALSA configuration naming the PulseAudio PCMs, added to the
    /// file-device one the other suite uses (ALSA reads it once per process).
    static var alsaDevicesDefined: Bool {
        _ = ALSAFileDevices.directory
        let existing = ProcessInfo.processInfo.environment["ALSA_CONFIG_PATH"] ?? ""
        return existing.contains(directory)
    }

    @discardableResult
    static func pactl(_ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/pactl")
        process.arguments = arguments
        process.environment = ["PULSE_SERVER": server, "PATH": "/usr/bin:/bin"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// `parec` on the speaker's monitor: everything the agent's voice played.
final class SpeakerRecording: Sendable {
    private let process = Process()
    private let samples = SampleCollector()

    init() throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/parec")
        process.arguments = ["--device=speaker.monitor", "--format=s16le", "--rate=16000", "--channels=1", "--latency-msec=10"]
        process.environment = ["PULSE_SERVER": PacedDevices.server, "PATH": "/usr/bin:/bin"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        output.fileHandleForReading.readabilityHandler = { [samples] handle in
            samples.append(handle.availableData)
        }
        try process.run()
    }

    deinit {
        process.terminate()
    }

    var recorded: [Int16] { samples.all }
}

/// Little-endian bytes in, whole samples out, from any thread.
final class SampleCollector: Sendable {
    private let state = Mutex<(pending: [UInt8], samples: [Int16])>(([], []))

    func append(_ bytes: Data) {
        state.withLock { state in
            state.pending.append(contentsOf: bytes)
            let whole = state.pending.count / 2 * 2
            for index in stride(from: 0, to: whole, by: 2) {
                state.samples.append(Int16(bitPattern: UInt16(state.pending[index]) | UInt16(state.pending[index + 1]) << 8))
            }
            state.pending.removeFirst(whole)
        }
    }

    var all: [Int16] { state.withLock { $0.samples } }
}

@Suite("The audio engine on real-time paced devices", .serialized, .timeLimit(.minutes(1)))
struct PacedDeviceTests {
    init() throws {
        try PacedDevices.ready()
        setenv("ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf:\(ALSAFileDevices.directory)/asound.conf:\(PacedDevices.directory)/asound.conf", 1)
    }

    func pacedEngine() -> AudioEngine {
        AudioEngine(configuration: AudioDeviceConfiguration(captureDevice: "voiceagent_mic", playbackDevice: "voiceagent_speaker"))
    }

    @Test func captureArrivesPacedInTwentyMillisecondChunks() async throws {
        let chunks = ChunkCollector()
        let engine = pacedEngine()
        let started = ContinuousClock.now
        try await engine.start(input: .pcm16000, output: .pcm16000, deliver: chunks.append)
        try await waitFor("a second of capture") { chunks.all.count >= 50 }
        let elapsed = ContinuousClock.now - started
        await engine.stop()
        #expect(chunks.all.allSatisfy { $0.count == 640 }, "20 ms of 16-bit mono at 16 kHz")
        #expect(elapsed >= .milliseconds(800), "paced in real time, not a burst: 50 chunks took \(elapsed)")
    }

    @Test func playbackReachesTheSpeakerUnchanged() async throws {
        let recording = try SpeakerRecording()
        try await waitFor("the recorder to run") { recording.recorded.count >= 1600 }
        let engine = pacedEngine()
        try await engine.start(input: .pcm16000, output: .pcm16000) { _ in }
        let tone = (0..<8000).map { Int16(sin(Double($0) * 0.3) * 9000) | 1 }
        engine.play(AgentAudioChunk(samples: PCMCodec.bytes(from: tone, format: .pcm16000), format: .pcm16000, eventID: EventID(1)))
        // The null sink's monitor may miss the first milliseconds of a stream
        // that wakes it; everything after must be the samples, unchanged.
        try await waitFor("the tone on the speaker") { recording.recorded.filter { $0 != 0 }.count >= tone.count - 320 }
        await engine.stop()
        let heard = Array(recording.recorded.drop { $0 == 0 }.prefix { $0 != 0 })
        let lost = tone.count - heard.count
        #expect((0...320).contains(lost), "\(lost) samples missing")
        #expect(heard == Array(tone.suffix(heard.count)))
    }

    @Test func aLostDeviceIsReportedAndReopenedWhenItReturns() async throws {
        let events = EventCollector()
        let chunks = ChunkCollector()
        let engine = AudioEngine(
            configuration: AudioDeviceConfiguration(captureDevice: "voiceagent_mic", playbackDevice: "voiceagent_speaker"),
            onEvent: events.append)
        try await engine.start(input: .pcm16000, output: .pcm16000, deliver: chunks.append)
        try await waitFor("capture") { chunks.all.count >= 5 }
        PacedDevices.pactl(["exit"])
        try await waitFor("the loss to be reported") { events.all.contains { if case .deviceLost = $0 { true } else { false } } }
        try PacedDevices.ready()
        try await waitFor("the device to come back") { events.all.contains { if case .deviceRestored = $0 { true } else { false } } }
        let before = chunks.all.count
        try await waitFor("capture to go on") { chunks.all.count >= before + 10 }
        await engine.stop()
        #expect(engine.currentStatistics.deviceLosses >= 1)
    }

    @Test func anInterruptSilencesABurstWithinOnePeriod() async throws {
        let recording = try SpeakerRecording()
        try await waitFor("the recorder to run") { recording.recorded.count >= 1600 }
        let engine = pacedEngine()
        try await engine.start(input: .pcm16000, output: .pcm16000) { _ in }
        // Five seconds queued at once, as the service sends a reply; never zero.
        let reply = (0..<80_000).map { Int16(sin(Double($0) * 0.3) * 9000) | 1 }
        engine.play(AgentAudioChunk(samples: PCMCodec.bytes(from: reply, format: .pcm16000), format: .pcm16000, eventID: EventID(1)))
        try await waitFor("a second of the reply on the speaker") { recording.recorded.filter { $0 != 0 }.count >= 16_000 }
        engine.stopPlayback()
        let dropped = engine.currentStatistics.framesDropped
        let heardBound = reply.count - dropped
        try await waitFor("the speaker to go quiet") { recording.recorded.suffix(3200).allSatisfy { $0 == 0 } }
        await engine.stop()
        let heard = recording.recorded.filter { $0 != 0 }.count
        let period = 320
        #expect(heard <= heardBound + period, "heard \(heard) samples; only \(heardBound) had reached the device before the interrupt")
        #expect(heard < 40_000, "most of the reply was never played")
    }
}

final class EventCollector: Sendable {
    private let events = Mutex<[AudioEngineEvent]>([])

    func append(_ event: AudioEngineEvent) {
        events.withLock { $0.append(event) }
    }

    var all: [AudioEngineEvent] { events.withLock { $0 } }
}

import AudioCodec
@testable import AudioEngine
import Foundation
import NIOConcurrencyHelpers
import Testing

func waitFor(_ what: String, timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(5))
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

final class ChunkCollector: Sendable {
    private let chunks = NIOLockedValueBox<[Data]>([])

    func append(_ chunk: Data) {
        chunks.withLockedValue { $0.append(chunk) }
    }

    var all: [Data] { chunks.withLockedValue { $0 } }
}

/// An engine whose speaker writes to `output` and whose microphone hears silence.
func engineRecording(into output: String) -> AudioEngine {
    AudioEngine(configuration: AudioDeviceConfiguration(
        captureDevice: ALSAFileDevices.capture(reading: "/dev/zero"), playbackDevice: ALSAFileDevices.playback(recordingInto: output)))
}

func ramp(samples: Int) -> [Int16] {
    (0..<samples).map { Int16(truncatingIfNeeded: $0 &* 37) }
}

@Suite("The audio engine on ALSA file devices", .serialized)
struct FileDeviceTests {
    @Test func playbackIsBitExact() async throws {
        let output = ALSAFileDevices.path("played.raw")
        let engine = engineRecording(into: output)
        try await engine.open(input: .pcm16000, output: .pcm16000) { _ in }
        let samples = ramp(samples: 16000)
        engine.play(PCMCodec.bytes(from: samples, format: .pcm16000), format: .pcm16000)
        try await waitFor("everything to be played") { engine.currentStatistics.framesPlayed == samples.count }
        await engine.close()
        let played = try Data(contentsOf: URL(fileURLWithPath: output))
        #expect(played == PCMCodec.bytes(from: samples, format: .pcm16000))
    }

    @Test func muLawIsDecodedForPlayback() async throws {
        let output = ALSAFileDevices.path("ulaw.raw")
        let engine = engineRecording(into: output)
        let ulaw = try AudioFormat(parsing: "ulaw_8000")
        try await engine.open(input: ulaw, output: ulaw) { _ in }
        let bytes = Data((0..<8000).map { UInt8(truncatingIfNeeded: $0) })
        engine.play(bytes, format: ulaw)
        try await waitFor("everything to be played") { engine.currentStatistics.framesPlayed == bytes.count }
        await engine.close()
        let played = try Data(contentsOf: URL(fileURLWithPath: output))
        #expect(played == PCMCodec.bytes(from: bytes.map(MuLaw.decode), format: .pcm16000))
    }

    @Test func captureArrivesInChunksOfTheConfiguredLength() async throws {
        let input = ALSAFileDevices.path("mic.raw")
        let samples = ramp(samples: 16000)
        try PCMCodec.bytes(from: samples, format: .pcm16000).write(to: URL(fileURLWithPath: input))
        let collector = ChunkCollector()
        let engine = AudioEngine(configuration: AudioDeviceConfiguration(
            captureDevice: ALSAFileDevices.capture(reading: input), playbackDevice: ALSAFileDevices.playback(recordingInto: "/dev/null"),
            chunkMilliseconds: 20))
        try await engine.open(input: .pcm16000, output: .pcm16000, deliver: collector.append)
        try await waitFor("a second of capture") { collector.all.reduce(0) { $0 + $1.count } >= samples.count * 2 }
        await engine.close()
        let chunks = collector.all
        #expect(chunks.allSatisfy { $0.count == 320 * 2 }, "20 ms at 16 kHz")
        #expect(chunks.reduce(Data(), +).prefix(samples.count * 2) == PCMCodec.bytes(from: samples, format: .pcm16000))
    }

    @Test func captureIsEncodedAsMuLawWhenTheAgentAsks() async throws {
        let input = ALSAFileDevices.path("mic-ulaw.raw")
        let samples = ramp(samples: 800)
        try PCMCodec.bytes(from: samples, format: .pcm16000).write(to: URL(fileURLWithPath: input))
        let collector = ChunkCollector()
        let engine = AudioEngine(configuration: AudioDeviceConfiguration(
            captureDevice: ALSAFileDevices.capture(reading: input), playbackDevice: ALSAFileDevices.playback(recordingInto: "/dev/null")))
        let ulaw = try AudioFormat(parsing: "ulaw_8000")
        try await engine.open(input: ulaw, output: ulaw, deliver: collector.append)
        try await waitFor("the file's samples") { collector.all.reduce(0) { $0 + $1.count } >= samples.count }
        await engine.close()
        #expect(collector.all.reduce(Data(), +).prefix(samples.count) == Data(samples.map(MuLaw.encode)))
    }

    @Test func muteSendsSilenceButKeepsCapturing() async throws {
        let input = ALSAFileDevices.path("loud.raw")
        try PCMCodec.bytes(from: [Int16](repeating: 10000, count: 16000), format: .pcm16000).write(to: URL(fileURLWithPath: input))
        let collector = ChunkCollector()
        let engine = AudioEngine(configuration: AudioDeviceConfiguration(
            captureDevice: ALSAFileDevices.capture(reading: input), playbackDevice: ALSAFileDevices.playback(recordingInto: "/dev/null")))
        engine.setMuted(true)
        try await engine.open(input: .pcm16000, output: .pcm16000, deliver: collector.append)
        try await waitFor("some capture") { collector.all.count >= 10 }
        await engine.close()
        #expect(collector.all.allSatisfy { $0.allSatisfy { $0 == 0 } })
        #expect(engine.currentStatistics.muted)
    }

    @Test func aMissingDeviceIsAClearError() async throws {
        let engine = AudioEngine(configuration: AudioDeviceConfiguration(
            captureDevice: ALSAFileDevices.capture(reading: "/dev/zero"), playbackDevice: "voiceagent_no_such_device"))
        do {
            try await engine.open(input: .pcm16000, output: .pcm16000) { _ in }
            Issue.record("opening a missing device must fail")
        } catch let error as ALSAError {
            #expect(error.device == "voiceagent_no_such_device")
            #expect(error.description.hasPrefix("audio device 'voiceagent_no_such_device' does not exist"))
        }
    }
}

@Suite("Every frame of agent audio is played or counted", .serialized)
struct FrameAccountingTests {
    @Test func drainingPlaysEveryQueuedFrameBeforeClosing() async throws {
        let output = ALSAFileDevices.path("drained.raw")
        let engine = engineRecording(into: output)
        try await engine.open(input: .pcm16000, output: .pcm16000) { _ in }
        let samples = ramp(samples: 24_000)
        engine.play(PCMCodec.bytes(from: samples, format: .pcm16000), format: .pcm16000)
        await engine.drain(atMost: .seconds(30))
        await engine.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == PCMCodec.bytes(from: samples, format: .pcm16000))
        #expect(engine.currentStatistics.framesPlayed == samples.count)
        #expect(engine.currentStatistics.framesDropped == 0)
    }

    @Test func audioBeforeTheDeviceIsOpenIsCountedNotLost() {
        let engine = AudioEngine(configuration: AudioDeviceConfiguration())
        engine.play(Data(count: 640), format: .pcm16000)
        engine.play(Data(count: 160), format: try! AudioFormat(parsing: "ulaw_8000"))
        #expect(engine.currentStatistics.dropped[.deviceNotReady] == 480)
    }

    @Test func discardsFromAboveAreCountedByReason() {
        let engine = AudioEngine(configuration: AudioDeviceConfiguration())
        engine.discard(frames: 100, reason: .staleEventID)
        engine.discard(frames: 50, reason: .interrupted)
        #expect(engine.currentStatistics.dropped[.staleEventID] == 100)
        #expect(engine.currentStatistics.framesDropped == 150)
    }
}

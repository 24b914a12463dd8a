import AudioCodec
@testable import AudioEngine
import Foundation
import Glibc
import NIOConcurrencyHelpers
import PacedAudioFixture
import Testing

@Suite("The audio engine on real-time paced devices", .serialized, .timeLimit(.minutes(1)))
struct PacedDeviceTests {
    init() async throws {
        try await PacedAudioServer.engineTests.ready()
        // ALSA reads its configuration once per process: this one names the
        // file devices of the other suite too.
        setenv("PULSE_SERVER", PacedAudioServer.engineTests.server, 1)
        setenv("ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf:\(ALSAFileDevices.directory)/asound.conf:\(PacedAudioServer.engineTests.alsaConfiguration)", 1)
    }

    func pacedEngine() -> AudioEngine {
        AudioEngine(configuration: AudioDeviceConfiguration(captureDevice: "voiceagent_mic", playbackDevice: "voiceagent_speaker"))
    }

    @Test func captureArrivesPacedInTwentyMillisecondChunks() async throws {
        let chunks = ChunkCollector()
        let engine = pacedEngine()
        let started = ContinuousClock.now
        try await engine.open(input: .pcm16000, output: .pcm16000, deliver: chunks.append)
        try await waitFor("a second of capture") { chunks.all.count >= 50 }
        let elapsed = ContinuousClock.now - started
        await engine.close()
        #expect(chunks.all.allSatisfy { $0.count == 640 }, "20 ms of 16-bit mono at 16 kHz")
        #expect(elapsed >= .milliseconds(800), "paced in real time, not a burst: 50 chunks took \(elapsed)")
    }

    @Test func playbackReachesTheSpeakerUnchanged() async throws {
        let recording = try SpeakerRecording(of: .engineTests)
        try await waitFor("the recorder to run") { recording.recorded.count >= 1600 }
        let engine = pacedEngine()
        try await engine.open(input: .pcm16000, output: .pcm16000) { _ in }
        let tone = (0..<8000).map { Int16(sin(Double($0) * 0.3) * 9000) | 1 }
        engine.play(PCMCodec.bytes(from: tone, format: .pcm16000), format: .pcm16000)
        // The null sink's monitor may miss the first milliseconds of a stream
        // that wakes it; everything after must be the samples, unchanged.
        await engine.drain(atMost: .seconds(10))
        try await waitFor("the tone on the speaker") { recording.recorded.filter { $0 != 0 }.count >= tone.count - 320 }
        await engine.close()
        let heard = Array(recording.recorded.drop { $0 == 0 }.prefix { $0 != 0 })
        let lost = tone.count - heard.count
        #expect((0...320).contains(lost), "\(lost) samples missing")
        #expect(heard == Array(tone.suffix(heard.count)))
    }

    @Test func playbackRecoversFromAnUnderrunInTheMiddleOfAReply() async throws {
        let engine = pacedEngine()
        try await engine.open(input: .pcm16000, output: .pcm16000) { _ in }
        let reply = (0..<128_000).map { Int16(sin(Double($0) * 0.3) * 9000) | 1 }
        engine.play(PCMCodec.bytes(from: reply, format: .pcm16000), format: .pcm16000)
        try await waitFor("half a second of the reply played") { engine.currentStatistics.framesPlayed >= 8000 }
        // After a stall the server renders the missed time at once; the
        // stream runs dry only if that wins the race with the client's
        // refill, which under load can take more than one stall.
        for _ in 0..<4 where engine.currentStatistics.xruns == 0 {
            try await PacedAudioServer.engineTests.stall(for: .milliseconds(400))
            try? await waitFor("the underrun to be counted", timeout: .seconds(1)) { engine.currentStatistics.xruns >= 1 }
        }
        #expect(engine.currentStatistics.xruns >= 1, "a stall of the sound server underran the speaker")
        try await waitFor("the rest of the reply to play") { engine.currentStatistics.framesPlayed >= reply.count }
        await engine.close()
        #expect(engine.currentStatistics.deviceLosses == 0, "an underrun is recovered in place, not treated as a lost device")
    }

    @Test func aLostDeviceIsReportedAndReopenedWhenItReturns() async throws {
        let events = EventCollector()
        let chunks = ChunkCollector()
        let engine = AudioEngine(
            configuration: AudioDeviceConfiguration(captureDevice: "voiceagent_mic", playbackDevice: "voiceagent_speaker"),
            onEvent: events.append)
        try await engine.open(input: .pcm16000, output: .pcm16000, deliver: chunks.append)
        try await waitFor("capture") { chunks.all.count >= 5 }
        try await PacedAudioServer.engineTests.exit()
        try await waitFor("the loss to be reported") { events.all.contains { if case .deviceLost = $0 { true } else { false } } }
        try await PacedAudioServer.engineTests.ready()
        try await waitFor("the device to come back") { events.all.contains { if case .deviceRestored = $0 { true } else { false } } }
        let before = chunks.all.count
        try await waitFor("capture to go on") { chunks.all.count >= before + 10 }
        await engine.close()
        #expect(engine.currentStatistics.deviceLosses >= 1)
    }

    @Test func anInterruptSilencesABurstWithinOnePeriod() async throws {
        let recording = try SpeakerRecording(of: .engineTests)
        try await waitFor("the recorder to run") { recording.recorded.count >= 1600 }
        let engine = pacedEngine()
        try await engine.open(input: .pcm16000, output: .pcm16000) { _ in }
        // Five seconds queued at once, as the service sends a reply; never zero.
        let reply = (0..<80_000).map { Int16(sin(Double($0) * 0.3) * 9000) | 1 }
        engine.play(PCMCodec.bytes(from: reply, format: .pcm16000), format: .pcm16000)
        try await waitFor("a second of the reply on the speaker") { recording.recorded.filter { $0 != 0 }.count >= 16_000 }
        engine.stopPlayback()
        let dropped = engine.currentStatistics.framesDropped
        let heardBound = reply.count - dropped
        try await waitFor("the speaker to go quiet") { recording.recorded.suffix(3200).allSatisfy { $0 == 0 } }
        await engine.close()
        let heard = recording.recorded.filter { $0 != 0 }.count
        let period = 320
        #expect(heard <= heardBound + period, "heard \(heard) samples; only \(heardBound) had reached the device before the interrupt")
        #expect(heard < 40_000, "most of the reply was never played")
    }
}

extension PacedDeviceTests {
    @Test func closingMidReplyCountsWhatWasNotHeard() async throws {
        let engine = pacedEngine()
        try await engine.open(input: .pcm16000, output: .pcm16000) { _ in }
        let reply = (0..<48_000).map { Int16(sin(Double($0) * 0.3) * 9000) | 1 }
        engine.play(PCMCodec.bytes(from: reply, format: .pcm16000), format: .pcm16000)
        try await waitFor("half a second of the reply played") { engine.currentStatistics.framesPlayed >= 8000 }
        await engine.close()
        let statistics = engine.currentStatistics
        #expect(statistics.framesPlayed + statistics.framesDropped == reply.count, "every frame played or counted")
        #expect(statistics.dropped[.conversationEnded] > 0)
        #expect(statistics.framesDropped == statistics.dropped[.conversationEnded])
    }

    @Test func anInterruptDuringAGoodbyeCutsIt() async throws {
        let engine = pacedEngine()
        try await engine.open(input: .pcm16000, output: .pcm16000) { _ in }
        let goodbye = (0..<64_000).map { Int16(sin(Double($0) * 0.3) * 9000) | 1 }
        engine.play(PCMCodec.bytes(from: goodbye, format: .pcm16000), format: .pcm16000)
        async let drained: Void = engine.drain(atMost: .seconds(30))
        try await waitFor("some of the goodbye played") { engine.currentStatistics.framesPlayed >= 4000 }
        engine.stopPlayback()
        await drained
        await engine.close()
        let statistics = engine.currentStatistics
        #expect(statistics.framesPlayed < goodbye.count / 2)
        #expect(statistics.framesPlayed + statistics.framesDropped == goodbye.count)
        #expect(statistics.dropped[.interrupted] > 0)
    }
}

final class EventCollector: Sendable {
    private let events = NIOLockedValueBox<[AudioEngineEvent]>([])

    func append(_ event: AudioEngineEvent) {
        events.withLockedValue { $0.append(event) }
    }

    var all: [AudioEngineEvent] { events.withLockedValue { $0 } }
}

extension PacedAudioServer {
    static let engineTests = PacedAudioServer(name: "engine")
}

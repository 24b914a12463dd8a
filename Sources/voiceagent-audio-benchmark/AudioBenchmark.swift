import ArgumentParser
import AudioCodec
import AudioEngine
import Foundation
import Glibc
import Synchronization

/// Measures the audio engine on real devices (or the paced no-hardware ones
/// that scripts/benchmark-audio sets up): CPU time per minute of full-duplex
/// audio, and how long an interrupt takes to silence a reply queued in a burst.
@main
struct AudioBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voiceagent-audio-benchmark",
        abstract: "Measures the ALSA audio engine: CPU per minute of full duplex, interrupt to silence.")

    @Option(help: "ALSA capture device.") var captureDevice = "voiceagent_mic"
    @Option(help: "ALSA playback device.") var playbackDevice = "voiceagent_speaker"
    @Option(help: "Seconds of full-duplex audio to measure CPU over (/proc ticks are 10 ms: use minutes).") var seconds = 60
    @Option(help: "How many interrupts to time.") var interrupts = 20

    func run() async throws {
        let engine = AudioEngine(configuration: AudioDeviceConfiguration(captureDevice: captureDevice, playbackDevice: playbackDevice))
        let captured = Atomic(0)
        try await engine.open(input: .pcm16000, output: .pcm16000) { chunk in
            captured.add(chunk.count / 2, ordering: .relaxed)
        }
        let cpu = try await fullDuplexCPU(engine)
        let latencies = try await interruptLatencies(engine)
        await engine.close()
        let statistics = engine.currentStatistics
        print(String(format: "full duplex: %.3f s of CPU per minute of audio (%d s measured, %d frames captured, %d played, %d xruns)",
            cpu, seconds, captured.load(ordering: .relaxed), statistics.framesPlayed, statistics.xruns))
        print(String(format: "interrupt to silence: median %.2f ms, p95 %.2f ms, max %.2f ms over %d interrupts of a 3 s burst (one period is 20 ms)",
            Self.percentile(latencies, 0.5), Self.percentile(latencies, 0.95), latencies.max() ?? 0, latencies.count))
    }

    /// Plays agent speech paced like the service's chunks while capturing.
    private func fullDuplexCPU(_ engine: AudioEngine) async throws -> Double {
        let chunk = Self.tone(frames: 1600)
        let before = Self.cpuSeconds()
        let start = ContinuousClock.now
        var next = start
        while ContinuousClock.now - start < .seconds(seconds) {
            engine.play(chunk, format: .pcm16000)
            next += .milliseconds(100)
            try await Task.sleep(until: next)
        }
        return (Self.cpuSeconds() - before) * 60 / Double(seconds)
    }

    private func interruptLatencies(_ engine: AudioEngine) async throws -> [Double] {
        var latencies: [Double] = []
        for _ in 0..<interrupts {
            let played = engine.currentStatistics.framesPlayed
            engine.play(Self.tone(frames: 48_000), format: .pcm16000)
            while engine.currentStatistics.framesPlayed < played + 8000 {
                try await Task.sleep(for: .milliseconds(5))
            }
            let previous = engine.currentStatistics.lastInterruptToSilenceMs
            engine.stopPlayback()
            while engine.currentStatistics.lastInterruptToSilenceMs == previous {
                try await Task.sleep(for: .milliseconds(1))
            }
            latencies.append(engine.currentStatistics.lastInterruptToSilenceMs ?? 0)
        }
        return latencies
    }

    static func tone(frames: Int) -> Data {
        PCMCodec.bytes(from: (0..<frames).map { Int16(sin(Double($0) * 0.3) * 9000) }, format: .pcm16000)
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((fraction * Double(sorted.count)).rounded(.up)) - 1)]
    }
}

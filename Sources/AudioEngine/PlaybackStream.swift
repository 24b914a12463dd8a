import AgentSession
import Foundation
import Glibc
import Synchronization

/// Plays the agent's speech from a `PlaybackQueue` on its own thread.
/// Silence between replies lets the device underrun, which is normal and
/// quiet; an underrun in the middle of speech is an xrun, counted.
final class PlaybackStream: Sendable {
    let queue: PlaybackQueue
    private let running = Atomic(true)
    private let thread = AudioThread()
    private let device: String
    private let sampleRate: Int
    private let configuration: AudioDeviceConfiguration
    private let statistics: SharedStatistics
    private let report: @Sendable (AudioEngineEvent) -> Void

    init(
        configuration: AudioDeviceConfiguration, sampleRate: Int, statistics: SharedStatistics,
        report: @escaping @Sendable (AudioEngineEvent) -> Void
    ) {
        self.configuration = configuration
        self.device = configuration.playbackDevice
        self.sampleRate = sampleRate
        self.statistics = statistics
        self.report = report
        queue = PlaybackQueue(capacity: sampleRate * configuration.queueSeconds)
    }

    func start() async throws {
        try await thread.start(name: "voiceagent-playback", open: open) { self.run(on: $0) }
    }

    func stop() async {
        running.store(false, ordering: .relaxed)
        queue.close()
        await thread.join()
    }

    private var isRunning: Bool { running.load(ordering: .relaxed) }

    private func open() throws -> PCMDevice {
        try PCMDevice(
            name: device, direction: .playback, sampleRate: sampleRate,
            periodFrames: configuration.frames(milliseconds: configuration.periodMilliseconds, sampleRate: sampleRate),
            bufferPeriods: configuration.bufferPeriods)
    }

    private func run(on opened: PCMDevice) {
        var pcm = opened
        var period = [Int16](repeating: 0, count: pcm.periodFrames)
        var generation: UInt64 = 0
        var starved = true
        while isRunning {
            let take = period.withUnsafeMutableBufferPointer {
                queue.take(into: $0, knownGeneration: generation)
            }
            if take.closed { break }
            if take.generation != generation {
                // Interrupted: what the device still holds must not be heard.
                generation = take.generation
                let pending = pcm.pendingFrames
                statistics.update { $0.framesDropped += pending }
                if (try? pcm.dropAndPrepare()) == nil, let reopened = reopen(after: pcm) {
                    pcm = reopened
                }
                let silencedAfter = ContinuousClock.now - take.clearedAt
                statistics.update { $0.lastInterruptToSilenceMs = Double(silencedAfter.components.attoseconds) / 1e15 + Double(silencedAfter.components.seconds) * 1000 }
                starved = true
            }
            guard take.samples > 0 else {
                starved = true
                continue
            }
            let level = PCMCodec.rmsDBFS(period[..<take.samples])
            if let lost = write(period, count: take.samples, to: pcm, starved: starved) {
                guard let reopened = reopen(after: pcm, error: lost) else { break }
                pcm = reopened
                continue
            }
            statistics.update {
                $0.framesPlayed += take.samples
                $0.outputLevelDBFS = level
            }
            if queue.queuedSamples == 0 { pcm.startIfPrepared() }
            starved = false
        }
        pcm.close()
    }

    /// Writes all of `count` samples; returns the error if the device is gone.
    private func write(_ samples: [Int16], count: Int, to pcm: PCMDevice, starved: Bool) -> ALSAError? {
        var offset = 0
        while offset < count, isRunning {
            let result = samples.withUnsafeBufferPointer { pcm.write(UnsafeBufferPointer(rebasing: $0[offset..<count])) }
            if result >= 0 {
                offset += result
                continue
            }
            let error = ALSAError(device: device, operation: "write", code: Int32(result))
            if error.isDeviceLoss { return error }
            if result == -Int(EPIPE), !starved {
                statistics.update { $0.xruns += 1 }
            }
            if pcm.recover(from: Int32(result)) < 0 { return error }
        }
        return nil
    }

    private func reopen(after pcm: PCMDevice, error: ALSAError? = nil) -> PCMDevice? {
        pcm.close()
        return DeviceRecovery(device: device, statistics: statistics, report: report)
            .reopen(reason: error?.reason, while: { self.isRunning }, open: open)
    }
}
